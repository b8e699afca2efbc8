"""The dense-task datasets by name: ``digit-scenes`` (offline, :mod:`.digit_scenes`),
``voc:PATH`` (:mod:`.voc`), ``cityscapes:PATH`` (:mod:`.cityscapes`) and ``coco:PATH``
(:mod:`.coco`), each loaded as one :class:`~archspace.datasets.dense.DenseDataset` split of
``size`` x ``size`` images (real images are resized to it: bilinear for the image, nearest for
the mask, boxes scaled), cached on disk and once per process.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from archspace.datasets.core import DatasetError
from archspace.datasets.dense import DenseDataset

__all__ = ["DENSE_DATASETS", "check_dense_name", "load_dense"]

#: Every dense dataset name with a one-line description.
DENSE_DATASETS: dict[str, str] = {
    "digit-scenes": "scenes of scikit-learn's 8x8 digits at several scales: masks and COCO boxes, "
                    "11 classes (offline)",
    "voc:PATH": "a VOC2012-style folder: JPEGImages/, SegmentationClass/ palette PNGs, "
                "Annotations/ XML boxes, ImageSets/ splits (21 classes)",
    "cityscapes:PATH": "a Cityscapes folder: leftImg8bit/ and gtFine/ labelIds, mapped to the 19 "
                       "training classes (boxes from gtFine/ instanceIds when present)",
    "coco:PATH": "a COCO folder: annotations/instances_{train,val}*.json and the images "
                 "(boxes and masks)",
}
_ROOTED = ("voc", "cityscapes", "coco")
SPLITS = ("train", "val")


def _parse(name: str) -> tuple[str, str | None]:
    kind, colon, path = name.strip().partition(":")
    kind = kind.strip().lower()
    if kind == "digit-scenes" and not colon:
        return kind, None
    if kind in _ROOTED:
        if not path:
            raise DatasetError(f"dataset {kind} needs a folder: dataset={kind}:PATH")
        return kind, str(Path(path).expanduser().resolve())
    raise DatasetError(f"unknown dense dataset {name!r}; allowed: {', '.join(DENSE_DATASETS)}")


def check_dense_name(name: str) -> str:
    """``name`` if it names a dense dataset (its files are not looked at), else DatasetError."""
    _parse(name)
    return name


@lru_cache(maxsize=8)
def _load(kind: str, where: str | None, split: str, size: int, n: int | None,
          seed: int) -> DenseDataset:
    if kind == "digit-scenes":
        from archspace.datasets.digit_scenes import make_digit_scenes

        return make_digit_scenes(n or 256, size, seed, split)
    assert where is not None
    root = Path(where)
    if not root.is_dir():
        raise DatasetError(f"dataset {kind}:{where}: no such folder")
    if kind == "voc":
        from archspace.datasets.voc import load_voc

        data = load_voc(root, split, size)
    elif kind == "cityscapes":
        from archspace.datasets.cityscapes import load_cityscapes

        data = load_cityscapes(root, split, size)
    else:
        from archspace.datasets.coco import load_coco

        data = load_coco(root, split, size)
    return data if n is None or n >= len(data) else data.subset(slice(0, n))


def load_dense(name: str, split: str, size: int, n: int | None = None,
               seed: int = 0) -> DenseDataset:
    """Split ``split`` (``train`` or ``val``) of dense dataset ``name`` at ``size`` x ``size``:
    ``n`` scenes (digit scenes; default 256) or the first ``n`` images (real data; default all),
    ``seed`` seeding generated data."""
    if split not in SPLITS:
        raise DatasetError(f"split {split!r}; allowed: {', '.join(SPLITS)}")
    if size < 16:
        raise DatasetError(f"image size {size} must be at least 16 pixels")
    kind, where = _parse(name)
    return _load(kind, where, split, size, n, seed)
