"""Data for the dense tasks (segmentation, detection, super-resolution): images with, per image,
a label mask and/or boxes (numpy only; no torch).

One :class:`DenseDataset` is one split. Images are uint8 ``(N, H, W, 3)``, all of one size (the
loaders resize real images to it). ``masks`` are uint8 ``(N, H, W)`` class ids in
``[0, num_classes)`` (0 is the background) or ``ignore_index`` (255: unlabelled, e.g. object
borders, VOC's "void"). ``boxes`` are per image float32 ``(K, 4)`` arrays in COCO form
``[x, y, w, h]`` (pixels, top-left origin) with ``box_labels`` int64 ``(K,)`` class ids in
``[1, num_classes)``: the same ids the masks use, so a box's class is its pixels' class, and the
``category_id`` a COCO ground truth made from the dataset carries. ``class_names[i]`` names
class id ``i`` (``class_names[0]`` is the background).

:meth:`DenseDataset.arrays` / :meth:`DenseDataset.from_arrays` flatten the ragged boxes into
``boxes`` (M, 4), ``box_labels`` (M,) and ``box_counts`` (N,) for the on-disk cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archspace.datasets.core import DatasetError

__all__ = ["IGNORE_INDEX", "DenseDataset"]

#: The label of unlabelled pixels (VOC's and Cityscapes' convention).
IGNORE_INDEX = 255


@dataclass(frozen=True, eq=False)
class DenseDataset:
    """One split of a dense-prediction dataset (see the module docstring for the layout)."""

    images: np.ndarray
    num_classes: int
    class_names: tuple[str, ...]
    masks: np.ndarray | None = None
    boxes: tuple[np.ndarray, ...] | None = None
    box_labels: tuple[np.ndarray, ...] | None = None
    ignore_index: int = IGNORE_INDEX
    name: str = ""

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or self.images.dtype != np.uint8:
            raise DatasetError(f"dataset {self.name}: images must be uint8 (N, H, W, 3), got "
                               f"{self.images.dtype} {self.images.shape}")
        if len(self.class_names) != self.num_classes:
            raise DatasetError(f"dataset {self.name}: {len(self.class_names)} class names for "
                               f"{self.num_classes} classes")
        n = len(self.images)
        if self.masks is not None and self.masks.shape != self.images.shape[:3]:
            raise DatasetError(f"dataset {self.name}: masks {self.masks.shape} don't match "
                               f"images {self.images.shape[:3]}")
        if (self.boxes is None) != (self.box_labels is None):
            raise DatasetError(f"dataset {self.name}: boxes and box_labels go together")
        if self.boxes is not None and self.box_labels is not None and (
                len(self.boxes) != n or len(self.box_labels) != n):
            raise DatasetError(f"dataset {self.name}: boxes for {len(self.boxes)} of {n} images")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of every image."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    @property
    def has_masks(self) -> bool:
        return self.masks is not None

    @property
    def has_boxes(self) -> bool:
        return self.boxes is not None

    def check_masks(self) -> None:
        """DatasetError unless every mask label is a class id or the ignore index."""
        if self.masks is None:
            raise DatasetError(f"dataset {self.name} has no masks (segmentation needs per-pixel "
                               "labels: digit-scenes, voc:PATH, cityscapes:PATH, coco:PATH)")
        labels = np.unique(self.masks)
        bad = labels[(labels >= self.num_classes) & (labels != self.ignore_index)]
        if bad.size:
            raise DatasetError(f"dataset {self.name}: mask labels {bad[:5].tolist()} are outside "
                               f"the {self.num_classes} classes (allowed: 0..{self.num_classes - 1}"
                               f" and {self.ignore_index} for ignore)")

    def check_boxes(self) -> None:
        """DatasetError unless every box lies in its image with a positive size and a class id
        in ``[1, num_classes)``."""
        if self.boxes is None or self.box_labels is None:
            raise DatasetError(f"dataset {self.name} has no boxes (detection needs boxes: "
                               "digit-scenes, voc:PATH, coco:PATH, cityscapes:PATH with "
                               "instanceIds)")
        h, w = self.size
        for i, (b, lab) in enumerate(zip(self.boxes, self.box_labels, strict=True)):
            if b.size == 0:
                continue
            x, y, bw, bh = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
            if ((x < 0) | (y < 0) | (bw <= 0) | (bh <= 0) | (x + bw > w + 1e-3)
                    | (y + bh > h + 1e-3)).any():
                raise DatasetError(f"dataset {self.name}: image {i} has a box outside its "
                                   f"{w}x{h} image or of no size (boxes are [x, y, w, h])")
            if ((lab < 1) | (lab >= self.num_classes)).any():
                raise DatasetError(f"dataset {self.name}: image {i} has box labels outside "
                                   f"1..{self.num_classes - 1}")

    def subset(self, index: np.ndarray | slice) -> DenseDataset:
        """The images at ``index`` (and their masks and boxes)."""
        idx = np.arange(len(self))[index]
        return DenseDataset(
            self.images[idx], self.num_classes, self.class_names,
            None if self.masks is None else self.masks[idx],
            None if self.boxes is None else tuple(self.boxes[i] for i in idx),
            None if self.box_labels is None else tuple(self.box_labels[i] for i in idx),
            self.ignore_index, self.name)

    # -- the cache's flat form -------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        """Named numeric arrays (``x`` the images as the cache lists them, ``(N, 3, H, W)``;
        ``masks``; ``boxes``, ``box_labels``, ``box_counts`` flattened)."""
        out = {"x": self.images.transpose(0, 3, 1, 2)}
        if self.masks is not None:
            out["masks"] = self.masks
        if self.boxes is not None and self.box_labels is not None:
            out["boxes"] = (np.concatenate(self.boxes).astype(np.float32) if self.boxes
                            else np.zeros((0, 4), np.float32)).reshape(-1, 4)
            out["box_labels"] = (np.concatenate(self.box_labels).astype(np.int64)
                                 if self.box_labels else np.zeros(0, np.int64))
            out["box_counts"] = np.array([len(b) for b in self.boxes], np.int64)
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], class_names: tuple[str, ...],
                    name: str = "", ignore_index: int = IGNORE_INDEX) -> DenseDataset:
        """The dataset :meth:`arrays` flattened."""
        boxes = labels = None
        if "box_counts" in arrays:
            ends = np.cumsum(arrays["box_counts"])
            starts = ends - arrays["box_counts"]
            boxes = tuple(arrays["boxes"][a:b] for a, b in zip(starts, ends, strict=True))
            labels = tuple(arrays["box_labels"][a:b] for a, b in zip(starts, ends, strict=True))
        images = np.ascontiguousarray(arrays["x"].transpose(0, 2, 3, 1))
        return cls(images, len(class_names), class_names, arrays.get("masks"), boxes,
                   labels, ignore_index, name)
