"""PASCAL VOC 2012 style folders (Everingham et al., "The PASCAL Visual Object Classes
Challenge", IJCV 2010), read with Pillow and numpy (no torchvision).

``voc:PATH`` names a folder (``VOCdevkit/VOC2012`` or one laid out like it) holding
``JPEGImages/ID.jpg``, palette PNG masks ``SegmentationClass/ID.png`` (the palette index is the
class id, 0 background, 255 void/ignore), XML boxes ``Annotations/ID.xml`` and split lists.
A split's ids come from ``ImageSets/Segmentation/{train,val}.txt`` when present (every image
then has a mask; boxes are added where an XML exists for every image), else from
``ImageSets/Main/{train,val}.txt`` (boxes only). VOC boxes are 1-based inclusive pixel corners;
they become COCO ``[x, y, w, h]`` with ``x = xmin - 1`` and ``w = xmax - xmin + 1``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from archspace.datasets.cache import cached_arrays, listing_digest
from archspace.datasets.core import DatasetError
from archspace.datasets.dense import IGNORE_INDEX, DenseDataset
from archspace.datasets.dense_io import parse_xml, read_image, read_label_png, scale_boxes

__all__ = ["VOC_CLASSES", "find_voc_root", "load_voc"]

VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car",
               "cat", "chair", "cow", "diningtable", "dog", "horse", "motorbike", "person",
               "pottedplant", "sheep", "sofa", "train", "tvmonitor")
_VERSION = 2  # 2: images cached as (N, 3, H, W)


def find_voc_root(path: Path) -> Path:
    """The folder holding ``JPEGImages`` (``path``, or its ``VOC2012`` or
    ``VOCdevkit/VOC2012``)."""
    for cand in (path, path / "VOC2012", path / "VOCdevkit" / "VOC2012"):
        if (cand / "JPEGImages").is_dir():
            return cand
    raise DatasetError(f"dataset voc:{path}: no JPEGImages/ folder (allowed: a VOC2012-style "
                       "folder with JPEGImages/, SegmentationClass/, Annotations/, ImageSets/)")


def _ids(root: Path, split: str) -> tuple[list[str], bool]:
    for sub, masks in (("Segmentation", True), ("Main", False)):
        f = root / "ImageSets" / sub / f"{split}.txt"
        if f.is_file():
            ids = [line.split()[0] for line in f.read_text().splitlines() if line.strip()]
            if not ids:
                raise DatasetError(f"split file {f} lists no images")
            return ids, masks
    raise DatasetError(f"dataset voc:{root}: no ImageSets/Segmentation/{split}.txt or "
                       f"ImageSets/Main/{split}.txt")


def _boxes(xml: Path, size: int) -> tuple[np.ndarray, np.ndarray]:
    root = parse_xml(xml)
    sz = root.find("size")
    try:
        wh = (int(float(sz.findtext("width"))), int(float(sz.findtext("height"))))
    except (AttributeError, TypeError, ValueError):
        raise DatasetError(f"annotation {xml} has no <size> with width and height") from None
    boxes, labels = [], []
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip()
        if name not in VOC_CLASSES[1:]:
            raise DatasetError(f"annotation {xml}: unknown class {name!r}; allowed: "
                               f"{', '.join(VOC_CLASSES[1:])}")
        bb = obj.find("bndbox")
        try:
            x0, y0, x1, y1 = (float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (AttributeError, TypeError, ValueError):
            raise DatasetError(f"annotation {xml}: an object without a numeric bndbox") from None
        if not (1 <= x0 <= x1 <= wh[0] and 1 <= y0 <= y1 <= wh[1]):
            raise DatasetError(f"annotation {xml}: box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) is "
                               f"outside the {wh[0]}x{wh[1]} image")
        boxes.append([x0 - 1, y0 - 1, x1 - x0 + 1, y1 - y0 + 1])
        labels.append(VOC_CLASSES.index(name))
    return scale_boxes(np.asarray(boxes, np.float32), wh, size), np.asarray(labels, np.int64)


def _decode(root: Path, split: str, size: int) -> DenseDataset:
    ids, with_masks = _ids(root, split)
    images, masks, boxes, labels = [], [], [], []
    xmls = [root / "Annotations" / f"{i}.xml" for i in ids]
    with_boxes = all(x.is_file() for x in xmls)
    if not with_masks and not with_boxes:
        missing = next(x for x in xmls if not x.is_file())
        raise DatasetError(f"dataset voc:{root}: split {split} has no masks and {missing} is "
                           "missing (a split needs masks or boxes)")
    for i, xml in zip(ids, xmls, strict=True):
        jpg = root / "JPEGImages" / f"{i}.jpg"
        if not jpg.is_file():
            raise DatasetError(f"dataset voc:{root}: {jpg} is missing")
        img, _ = read_image(jpg, size)
        images.append(img)
        if with_masks:
            png = root / "SegmentationClass" / f"{i}.png"
            if not png.is_file():
                raise DatasetError(f"dataset voc:{root}: mask {png} is missing")
            masks.append(read_label_png(png, size))
        if with_boxes:
            b, lab = _boxes(xml, size)
            boxes.append(b)
            labels.append(lab)
    return DenseDataset(np.stack(images), len(VOC_CLASSES), VOC_CLASSES,
                        np.stack(masks) if with_masks else None,
                        tuple(boxes) if with_boxes else None,
                        tuple(labels) if with_boxes else None, IGNORE_INDEX, f"voc/{split}")


def load_voc(path: Path, split: str, size: int) -> DenseDataset:
    """Split ``split`` of the VOC folder ``path`` at ``size`` x ``size`` (cached on disk by the
    folder's listing)."""
    root = find_voc_root(path)
    files = [f for sub in ("JPEGImages", "SegmentationClass", "Annotations", "ImageSets")
             if (root / sub).is_dir() for f in (root / sub).rglob("*") if f.is_file()]
    key = {"loader": "voc", "root": str(root), "split": split, "size": size,
           "listing": listing_digest(root, files), "version": _VERSION}

    def decode() -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
        return _decode(root, split, size).arrays(), VOC_CLASSES

    arrays, names = cached_arrays(key, decode, source=f"voc:{root} {split}")
    return DenseDataset.from_arrays(arrays, names, f"voc/{split}")
