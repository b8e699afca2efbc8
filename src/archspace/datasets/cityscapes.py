"""Cityscapes folders (Cordts et al., "The Cityscapes Dataset for Semantic Urban Scene
Understanding", CVPR 2016), read with Pillow and numpy (no torchvision).

``cityscapes:PATH`` names the folder holding ``leftImg8bit/{train,val}/CITY/*_leftImg8bit.png``
and ``gtFine/{train,val}/CITY/*_gtFine_labelIds.png``. The 34 label ids are mapped to the 19
training classes by the official table (cityscapesScripts' ``labels.py``: id -> trainId); every
other id (void, and the classes not evaluated) becomes 255 (ignore); a value above 33 is no
label id and is refused. Class 0 is ``road`` here, not a background. Images (2048x1024) are
resized, not cropped, to a square side.

Boxes, for detection, come from ``gtFine/.../*_gtFine_instanceIds.png`` when every image of the
split has one (else the split has masks only): 16-bit PNGs whose pixels of a single object hold
``label_id * 1000 + k`` (the classes with instances, label ids 24-33: person ... bicycle) and
whose other pixels hold a plain label id (stuff, or a crowd of one class: no box). Each instance
becomes the tight box around its pixels, labelled with its class's train id (11-18; caravan and
trailer, which have instances but no train id, give none), scaled with the image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from archspace.datasets.cache import cached_arrays, listing_digest
from archspace.datasets.core import DatasetError
from archspace.datasets.dense import IGNORE_INDEX, DenseDataset
from archspace.datasets.dense_io import open_image, read_image, read_label_png, scale_boxes

__all__ = ["CITYSCAPES_CLASSES", "ID_TO_TRAIN_ID", "instance_boxes", "label_lut",
           "load_cityscapes"]

CITYSCAPES_CLASSES = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
                      "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
                      "truck", "bus", "train", "motorcycle", "bicycle")
#: The official label id -> train id table (ids not listed are ignored).
ID_TO_TRAIN_ID = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
                  24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
#: The label ids whose objects carry instance ids (``hasInstances`` in ``labels.py``).
INSTANCE_IDS = range(24, 34)
#: The largest label id (``labels.py``: 0 unlabeled ... 33 bicycle; license plate, -1, is
#: never written to a labelIds PNG). A larger value is refused, not silently ignored.
_MAX_LABEL_ID = 33
_VERSION = 4  # 2: images cached as (N, 3, H, W); 3: boxes from instanceIds; 4: ids checked


def label_lut() -> np.ndarray:
    """A 256-entry uint8 lookup table: label id -> train id (255 for the rest)."""
    lut = np.full(256, IGNORE_INDEX, np.uint8)
    for k, v in ID_TO_TRAIN_ID.items():
        lut[k] = v
    return lut


def _pairs(root: Path, split: str) -> list[tuple[Path, Path]]:
    """(image, labelIds) of every image of ``split``."""
    img_dir = root / "leftImg8bit" / split
    if not img_dir.is_dir():
        raise DatasetError(f"dataset cityscapes:{root}: no leftImg8bit/{split}/ folder (allowed: "
                           "a folder with leftImg8bit/ and gtFine/)")
    pairs = []
    for img in sorted(img_dir.glob("*/*_leftImg8bit.png")):
        stem = img.name[:-len("_leftImg8bit.png")]
        gt = root / "gtFine" / split / img.parent.name / f"{stem}_gtFine_labelIds.png"
        if not gt.is_file():
            raise DatasetError(f"dataset cityscapes:{root}: {gt} is missing for {img.name}")
        pairs.append((img, gt))
    if not pairs:
        raise DatasetError(f"dataset cityscapes:{root}: no leftImg8bit/{split}/CITY/"
                           "*_leftImg8bit.png images")
    return pairs


def _instance_file(label_ids: Path) -> Path:
    return label_ids.with_name(label_ids.name.replace("_labelIds.png", "_instanceIds.png"))


def _instances(root: Path, pairs: list[tuple[Path, Path]]) -> list[Path] | None:
    """The instanceIds PNG of every pair, or None when the split has none at all."""
    files = [_instance_file(gt) for _, gt in pairs]
    have = [f.is_file() for f in files]
    if not any(have):
        return None
    if not all(have):
        missing = files[have.index(False)]
        raise DatasetError(f"dataset cityscapes:{root}: {missing} is missing (boxes need an "
                           "instanceIds PNG beside every labelIds PNG, or none at all)")
    return files


def instance_boxes(path: Path, wh: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """COCO boxes ``(K, 4)`` (pixels of the ``wh`` image) and train ids ``(K,)`` of the
    instances in the instanceIds PNG ``path`` (module docstring)."""
    im = open_image(path)
    if im.mode not in ("I", "I;16", "I;16B", "L"):
        raise DatasetError(f"instance image {path} is mode {im.mode}; allowed: a 16-bit "
                           "grayscale PNG of label_id * 1000 + k")
    ids = np.asarray(im).astype(np.int64)
    if ids.shape != (wh[1], wh[0]):
        raise DatasetError(f"instance image {path} is {ids.shape[1]}x{ids.shape[0]}, its image "
                           f"{wh[0]}x{wh[1]}")
    boxes, labels = [], []
    for v in np.unique(ids[ids >= 1000]):
        label = int(v) // 1000
        if label not in INSTANCE_IDS:
            raise DatasetError(f"instance image {path}: id {int(v)} is of label id {label}, "
                               "which has no instances (allowed: 24..33 * 1000 + k)")
        if label not in ID_TO_TRAIN_ID:  # caravan, trailer: no train class
            continue
        ys, xs = np.nonzero(ids == v)
        boxes.append([xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1])
        labels.append(ID_TO_TRAIN_ID[label])
    return (np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(labels, np.int64))


def _decode(root: Path, pairs: list[tuple[Path, Path]], split: str, size: int) -> DenseDataset:
    lut = label_lut()
    read = [read_image(img, size) for img, _ in pairs]
    images = np.stack([x for x, _ in read])
    masks = np.stack([lut[read_label_png(gt, size, _MAX_LABEL_ID, "Cityscapes label ids")]
                      for _, gt in pairs])
    inst = _instances(root, pairs)
    boxes = labels = None
    if inst is not None:
        found = [instance_boxes(f, wh) for f, (_, wh) in zip(inst, read, strict=True)]
        boxes = tuple(scale_boxes(b, wh, size) for (b, _), (_, wh) in
                      zip(found, read, strict=True))
        labels = tuple(lab for _, lab in found)
    return DenseDataset(images, len(CITYSCAPES_CLASSES), CITYSCAPES_CLASSES, masks, boxes,
                        labels, name=f"cityscapes/{split}")


def load_cityscapes(path: Path, split: str, size: int) -> DenseDataset:
    """Split ``split`` of the Cityscapes folder ``path`` at ``size`` x ``size`` (19 train
    classes; boxes when the split has instanceIds; cached on disk by the files' listing)."""
    pairs = _pairs(path, split)
    files = [f for p in pairs for f in (*p, _instance_file(p[1])) if f.is_file()]
    key = {"loader": "cityscapes", "root": str(path), "split": split, "size": size,
           "listing": listing_digest(path, files), "version": _VERSION}

    def decode() -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
        return _decode(path, pairs, split, size).arrays(), CITYSCAPES_CLASSES

    arrays, names = cached_arrays(key, decode, source=f"cityscapes:{path} {split}")
    return DenseDataset.from_arrays(arrays, names, f"cityscapes/{split}")
