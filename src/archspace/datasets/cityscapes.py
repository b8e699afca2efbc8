"""Cityscapes folders (Cordts et al., "The Cityscapes Dataset for Semantic Urban Scene
Understanding", CVPR 2016), read with Pillow and numpy (no torchvision).

``cityscapes:PATH`` names the folder holding ``leftImg8bit/{train,val}/CITY/*_leftImg8bit.png``
and ``gtFine/{train,val}/CITY/*_gtFine_labelIds.png``. The 34 label ids are mapped to the 19
training classes by the official table (cityscapesScripts' ``labels.py``: id -> trainId); every
other id (void, and the classes not evaluated) becomes 255 (ignore). Class 0 is ``road`` here,
not a background. Images (2048x1024) are resized, not cropped, to a square side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from archspace.datasets.cache import cached_arrays, listing_digest
from archspace.datasets.core import DatasetError
from archspace.datasets.dense import IGNORE_INDEX, DenseDataset
from archspace.datasets.dense_io import read_image, read_label_png

__all__ = ["CITYSCAPES_CLASSES", "ID_TO_TRAIN_ID", "label_lut", "load_cityscapes"]

CITYSCAPES_CLASSES = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
                      "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
                      "truck", "bus", "train", "motorcycle", "bicycle")
#: The official label id -> train id table (ids not listed are ignored).
ID_TO_TRAIN_ID = {7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10,
                  24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18}
_VERSION = 2  # 2: images cached as (N, 3, H, W)


def label_lut() -> np.ndarray:
    """A 256-entry uint8 lookup table: label id -> train id (255 for the rest)."""
    lut = np.full(256, IGNORE_INDEX, np.uint8)
    for k, v in ID_TO_TRAIN_ID.items():
        lut[k] = v
    return lut


def _pairs(root: Path, split: str) -> list[tuple[Path, Path]]:
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


def _decode(pairs: list[tuple[Path, Path]], split: str, size: int) -> DenseDataset:
    lut = label_lut()
    images = np.stack([read_image(img, size)[0] for img, _ in pairs])
    masks = np.stack([lut[read_label_png(gt, size)] for _, gt in pairs])
    return DenseDataset(images, len(CITYSCAPES_CLASSES), CITYSCAPES_CLASSES, masks,
                        name=f"cityscapes/{split}")


def load_cityscapes(path: Path, split: str, size: int) -> DenseDataset:
    """Split ``split`` of the Cityscapes folder ``path`` at ``size`` x ``size`` (19 train
    classes; cached on disk by the files' listing)."""
    pairs = _pairs(path, split)
    key = {"loader": "cityscapes", "root": str(path), "split": split, "size": size,
           "listing": listing_digest(path, [f for p in pairs for f in p]), "version": _VERSION}

    def decode() -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
        return _decode(pairs, split, size).arrays(), CITYSCAPES_CLASSES

    arrays, names = cached_arrays(key, decode, source=f"cityscapes:{path} {split}")
    return DenseDataset.from_arrays(arrays, names, f"cityscapes/{split}")
