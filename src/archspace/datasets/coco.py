"""COCO-format folders (Lin et al., "Microsoft COCO: Common Objects in Context", ECCV 2014),
read with the COCO API that scores detection (``faster_coco_eval.COCO``, else
``pycocotools.coco.COCO``) and Pillow.

``coco:PATH`` names a folder holding ``annotations/instances_{train,val}*.json`` (or the JSON
files at its top) and the images their ``file_name`` names, under ``{split}2017/``,
``images/{split}2017/``, ``{split}/`` or ``images/``. COCO's sparse category ids are numbered
1..K in increasing order (``class_names[i]`` is the name of the i-th; 0 is the background);
:func:`category_ids` gives the original id of each. Boxes are the annotations' ``bbox``
(crowd annotations left out); masks are painted from the polygons or RLEs in annotation order,
crowd regions marked 255 (ignore), where every annotation of the split has a segmentation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from archspace.datasets.cache import cached_arrays, file_digest
from archspace.datasets.core import DatasetError
from archspace.datasets.dense import IGNORE_INDEX, DenseDataset
from archspace.datasets.dense_io import read_image, scale_boxes

__all__ = ["category_ids", "coco_api", "find_annotations", "load_coco"]

_VERSION = 2  # 2: images cached as (N, 3, H, W)


def coco_api() -> Any:
    """The ``COCO`` class of faster-coco-eval, else of pycocotools (DatasetError if neither is
    installed)."""
    try:
        from faster_coco_eval import COCO

        return COCO
    except ImportError:
        pass
    try:
        from pycocotools.coco import COCO  # type: ignore[import-untyped]

        return COCO
    except ImportError:
        raise DatasetError("dataset coco:PATH needs faster-coco-eval (or pycocotools): "
                           "pip install faster-coco-eval") from None


def find_annotations(root: Path, split: str) -> Path:
    """The instances JSON of ``split`` under ``root``."""
    for folder in (root / "annotations", root):
        hits = sorted(folder.glob(f"instances_{split}*.json"))
        if hits:
            return hits[0]
    raise DatasetError(f"dataset coco:{root}: no annotations/instances_{split}*.json")


def _image_dir(root: Path, split: str, first: str) -> Path:
    for cand in (root / f"{split}2017", root / "images" / f"{split}2017", root / split,
                 root / "images", root):
        if (cand / first).is_file():
            return cand
    raise DatasetError(f"dataset coco:{root}: image {first} not found under {split}2017/, "
                       f"images/{split}2017/, {split}/ or images/")


def _decode(root: Path, ann_file: Path, split: str, size: int
            ) -> tuple[DenseDataset, tuple[int, ...]]:
    import contextlib
    import io

    from PIL import Image

    with contextlib.redirect_stdout(io.StringIO()):  # the API prints progress
        try:
            api = coco_api()(str(ann_file))
        except (ValueError, KeyError, TypeError) as e:
            raise DatasetError(f"cannot read COCO annotations {ann_file}: {e}") from None
    cats = sorted(api.getCatIds())
    names = ("background", *(str(c["name"]) for c in api.loadCats(cats)))
    index = {c: i + 1 for i, c in enumerate(cats)}
    img_ids = sorted(api.getImgIds())
    if not img_ids:
        raise DatasetError(f"COCO annotations {ann_file} list no images")
    infos = api.loadImgs(img_ids)
    folder = _image_dir(root, split, infos[0]["file_name"])
    anns_of = [api.loadAnns(api.getAnnIds(imgIds=[i])) for i in img_ids]
    with_masks = all(a.get("segmentation") for anns in anns_of for a in anns)
    images, masks, boxes, labels = [], [], [], []
    for info, anns in zip(infos, anns_of, strict=True):
        path = folder / info["file_name"]
        if not path.is_file():
            raise DatasetError(f"dataset coco:{root}: image {path} is missing")
        img, wh = read_image(path, size)
        images.append(img)
        if (info.get("width"), info.get("height")) != wh:
            raise DatasetError(f"image {path} is {wh[0]}x{wh[1]}, its annotation says "
                               f"{info.get('width')}x{info.get('height')}")
        plain = [a for a in anns if not a.get("iscrowd")]
        for a in plain:
            x, y, w, h = a["bbox"]
            if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > wh[0] + 1e-3 or y + h > wh[1] + 1e-3:
                raise DatasetError(f"annotation {a.get('id')} of {info['file_name']}: box "
                                   f"{a['bbox']} is outside the {wh[0]}x{wh[1]} image")
        boxes.append(scale_boxes(np.asarray([a["bbox"] for a in plain], np.float32), wh, size))
        labels.append(np.asarray([index[a["category_id"]] for a in plain], np.int64))
        if with_masks:
            full = np.zeros((wh[1], wh[0]), np.uint8)
            for a in anns:
                m = api.annToMask(a).astype(bool)
                full[m] = IGNORE_INDEX if a.get("iscrowd") else index[a["category_id"]]
            small = Image.fromarray(full, mode="L").resize((size, size),
                                                           Image.Resampling.NEAREST)
            masks.append(np.asarray(small, np.uint8))
    data = DenseDataset(np.stack(images), len(names), names,
                        np.stack(masks) if with_masks else None, tuple(boxes), tuple(labels),
                        IGNORE_INDEX, f"coco/{split}")
    return data, tuple(cats)


def load_coco(path: Path, split: str, size: int) -> DenseDataset:
    """Split ``split`` of the COCO folder ``path`` at ``size`` x ``size`` (cached on disk by the
    annotation file's content)."""
    ann = find_annotations(path, split)
    key = {"loader": "coco", "root": str(path), "split": split, "size": size,
           "annotations": file_digest(ann), "version": _VERSION}

    def decode() -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
        data, cats = _decode(path, ann, split, size)
        return {**data.arrays(), "category_ids": np.asarray(cats, np.int64)}, data.class_names

    arrays, names = cached_arrays(key, decode, source=f"coco:{path} {split}")
    arrays = dict(arrays)
    arrays.pop("category_ids", None)
    return DenseDataset.from_arrays(arrays, names, f"coco/{split}")


def category_ids(path: Path, split: str) -> tuple[int, ...]:
    """The original COCO category id of each class 1..K of :func:`load_coco`."""
    api = coco_api()
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        coco = api(str(find_annotations(path, split)))
    return tuple(sorted(coco.getCatIds()))
