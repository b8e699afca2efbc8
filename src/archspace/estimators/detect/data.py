"""Box data as the ``detect`` estimator trains on it: a :class:`~archspace.datasets.dense.
DenseDataset`'s images standardised and resized to the training side, its COCO boxes as
corners scaled with them, and the validation split's ground truth as a COCO instances dict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from archspace.datasets.core import DatasetError
from archspace.estimators.detect.coco_eval import ground_truth
from archspace.nn.detection.boxes import xywh_to_xyxy

if TYPE_CHECKING:
    from archspace.datasets.dense import DenseDataset

__all__ = ["BoxData", "box_data"]


@dataclass(frozen=True, eq=False)
class BoxData:
    """Training and validation images ``(N, 3, H, W)`` (standardised with the training split's
    per-channel ``mean``/``std``), boxes as corners ``(K, 4)`` per image in pixels, and labels
    ``(K,)`` in ``[0, len(classes))`` (the dataset's ids minus one: no background class)."""

    name: str
    x_train: Tensor
    boxes_train: tuple[Tensor, ...]
    labels_train: tuple[Tensor, ...]
    x_val: Tensor
    boxes_val: tuple[Tensor, ...]
    labels_val: tuple[Tensor, ...]
    classes: tuple[str, ...]
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    _resized: dict[int, BoxData] = field(default_factory=dict, repr=False)

    @property
    def num_classes(self) -> int:
        """Object classes (the background is none of them)."""
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def resolution(self) -> int:
        """Image side (images are square once :meth:`resized`; else the larger side)."""
        return int(max(self.x_train.shape[-2:]))

    def resized(self, side: int) -> BoxData:
        """Images at ``side`` x ``side`` (bilinear, antialiased when shrinking), boxes scaled."""
        if self.x_train.shape[-2:] == (side, side):
            return self
        hit = self._resized.get(side)
        if hit is None:
            h, w = self.x_train.shape[-2:]
            scale = torch.tensor([side / w, side / h, side / w, side / h])
            hit = BoxData(self.name, _resize(self.x_train, side),
                          tuple(b * scale for b in self.boxes_train), self.labels_train,
                          _resize(self.x_val, side), tuple(b * scale for b in self.boxes_val),
                          self.labels_val, self.classes, self.mean, self.std)
            self._resized.clear()
            self._resized[side] = hit
        return hit

    def val_ground_truth(self) -> dict[str, Any]:
        """The validation boxes as a COCO instances dict (COCO ``[x, y, w, h]``)."""
        h, w = self.x_val.shape[-2:]
        xywh = [torch.cat((b[:, :2], b[:, 2:] - b[:, :2]), 1).numpy() for b in self.boxes_val]
        return ground_truth(xywh, [lab.numpy() for lab in self.labels_val], self.num_classes,
                            [(int(h), int(w))] * len(xywh))


def _resize(x: Tensor, side: int) -> Tensor:
    shrink = side < max(x.shape[-2:])
    out = [F.interpolate(x[i:i + 1024], size=(side, side), mode="bilinear", align_corners=False,
                         antialias=shrink) for i in range(0, x.shape[0], 1024)]
    return torch.cat(out) if out else x.new_zeros((0, x.shape[1], side, side))


def box_data(train: DenseDataset, val: DenseDataset, name: str) -> BoxData:
    """:class:`BoxData` of two splits that have boxes (checked: inside the image, of a
    positive size, of a class of the dataset)."""
    train.check_boxes()
    val.check_boxes()
    for split in (train, val):
        if not any(len(b) for b in split.boxes or ()):
            raise DatasetError(f"dataset {split.name} has no boxes in any image; detection "
                               "needs boxes (digit-scenes, voc:PATH, coco:PATH, "
                               "cityscapes:PATH with instanceIds)")
    x_tr = torch.from_numpy(np.ascontiguousarray(train.images)).permute(0, 3, 1, 2).float() / 255
    x_va = torch.from_numpy(np.ascontiguousarray(val.images)).permute(0, 3, 1, 2).float() / 255
    mean = x_tr.mean((0, 2, 3))
    std = x_tr.std((0, 2, 3)).clamp(min=1e-3)

    def norm(x: Tensor) -> Tensor:
        return (x - mean[None, :, None, None]) / std[None, :, None, None]

    def corners(bs: tuple[np.ndarray, ...] | None) -> tuple[Tensor, ...]:
        return tuple(xywh_to_xyxy(torch.as_tensor(np.asarray(b, np.float32).reshape(-1, 4)))
                     for b in bs or ())

    def labels(ls: tuple[np.ndarray, ...] | None) -> tuple[Tensor, ...]:
        return tuple(torch.as_tensor(np.asarray(v, np.int64).reshape(-1)) - 1 for v in ls or ())

    return BoxData(name, norm(x_tr), corners(train.boxes), labels(train.box_labels), norm(x_va),
                   corners(val.boxes), labels(val.box_labels), tuple(train.class_names[1:]),
                   tuple(float(v) for v in mean), tuple(float(v) for v in std))
