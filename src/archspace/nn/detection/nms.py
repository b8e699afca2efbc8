"""Greedy non-maximum suppression, in torch (no torchvision).

Keep the highest-scoring box, drop every remaining box whose IoU with it exceeds the threshold,
repeat (the NMS of Girshick et al.'s R-CNN detectors). :func:`batched_nms` is class-aware:
boxes of different labels never suppress each other (each label's boxes are moved to their
own region of the plane, the usual trick, so one pass handles every class).
"""

from __future__ import annotations

import torch
from torch import Tensor

from archspace.nn.detection.boxes import box_iou

__all__ = ["batched_nms", "nms"]


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Indices of the boxes kept, highest score first (ties: the lower index first)."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    iou = box_iou(boxes[order], boxes[order])
    n = int(order.shape[0])
    removed = torch.zeros(n, dtype=torch.bool, device=boxes.device)
    keep = []
    above = (iou > iou_threshold).cpu()
    removed_cpu = removed.cpu()
    for i in range(n):
        if removed_cpu[i]:
            continue
        keep.append(i)
        removed_cpu |= above[i]
    return order[torch.tensor(keep, dtype=torch.long, device=boxes.device)]


def batched_nms(boxes: Tensor, scores: Tensor, labels: Tensor, iou_threshold: float) -> Tensor:
    """:func:`nms` within each label: indices kept, highest score first."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    span = (boxes.max() - boxes.min()).clamp(min=0) + 1
    shifted = boxes - boxes.min() + (labels.to(boxes.dtype) * span)[:, None]
    return nms(shifted, scores, iou_threshold)
