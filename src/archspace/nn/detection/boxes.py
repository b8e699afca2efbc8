"""Boxes as ``(x0, y0, x1, y1)`` tensors: areas, pairwise IoU and GIoU, and FCOS's coding of a
box as the distances (l, t, r, b) from a location to its four sides (Tian et al., ICCV 2019).

GIoU: Rezatofighi et al., "Generalized Intersection over Union", CVPR 2019.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["box_area", "box_iou", "decode_ltrb", "encode_ltrb", "generalized_box_iou",
           "xywh_to_xyxy", "xyxy_to_xywh"]


def xywh_to_xyxy(boxes: Tensor) -> Tensor:
    """COCO ``[x, y, w, h]`` to corners."""
    x, y, w, h = boxes.unbind(-1)
    return torch.stack((x, y, x + w, y + h), -1)


def xyxy_to_xywh(boxes: Tensor) -> Tensor:
    """Corners to COCO ``[x, y, w, h]``."""
    x0, y0, x1, y1 = boxes.unbind(-1)
    return torch.stack((x0, y0, x1 - x0, y1 - y0), -1)


def box_area(boxes: Tensor) -> Tensor:
    """Area of each box (0 for a degenerate one)."""
    return (boxes[..., 2] - boxes[..., 0]).clamp(min=0) * (boxes[..., 3] - boxes[..., 1]).clamp(min=0)


def _inter_union(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return inter, union


def box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise IoU, shape ``(len(a), len(b))``; 0 where both boxes are empty."""
    inter, union = _inter_union(a, b)
    return inter / union.clamp(min=torch.finfo(inter.dtype).tiny)


def generalized_box_iou(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise GIoU: IoU minus the share of the enclosing box the union leaves empty."""
    inter, union = _inter_union(a, b)
    eps = torch.finfo(inter.dtype).tiny
    iou = inter / union.clamp(min=eps)
    lt = torch.minimum(a[:, None, :2], b[None, :, :2])
    rb = torch.maximum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    hull = wh[..., 0] * wh[..., 1]
    return iou - (hull - union) / hull.clamp(min=eps)


def encode_ltrb(points: Tensor, boxes: Tensor, strides: Tensor | float = 1.0) -> Tensor:
    """Distances (l, t, r, b) from each ``(x, y)`` in ``points`` to the sides of its box, in
    units of ``strides`` (one per point, or a number); negative when the point is outside."""
    x, y = points[..., 0], points[..., 1]
    d = torch.stack((x - boxes[..., 0], y - boxes[..., 1], boxes[..., 2] - x, boxes[..., 3] - y), -1)
    s = strides if isinstance(strides, float | int) else strides[..., None]
    return d / s


def decode_ltrb(points: Tensor, ltrb: Tensor, strides: Tensor | float = 1.0) -> Tensor:
    """The boxes that (l, t, r, b) in units of ``strides`` describe around ``points``: the
    inverse of :func:`encode_ltrb`."""
    s = strides if isinstance(strides, float | int) else strides[..., None]
    d = ltrb * s
    x, y = points[..., 0], points[..., 1]
    return torch.stack((x - d[..., 0], y - d[..., 1], x + d[..., 2], y + d[..., 3]), -1)
