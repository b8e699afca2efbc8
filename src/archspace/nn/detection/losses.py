"""Losses of a one-stage detector.

Focal loss: Lin, Goyal, Girshick, He, Dollar, "Focal Loss for Dense Object Detection" (RetinaNet),
ICCV 2017. GIoU loss: Rezatofighi et al., CVPR 2019 (FCOS's later versions regress with it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from archspace.nn.detection.boxes import box_area

__all__ = ["giou_loss", "sigmoid_focal_loss"]


def sigmoid_focal_loss(logits: Tensor, targets: Tensor, alpha: float = 0.25,
                       gamma: float = 2.0) -> Tensor:
    """Summed focal loss of independent sigmoid classifiers (``targets`` in {0, 1})."""
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = loss * (alpha * targets + (1 - alpha) * (1 - targets))
    return loss.sum()


def giou_loss(pred: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
    """Summed ``1 - GIoU`` of matching pairs of boxes (rows of ``pred`` and ``target``)."""
    lt = torch.maximum(pred[:, :2], target[:, :2])
    rb = torch.minimum(pred[:, 2:], target[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    union = box_area(pred) + box_area(target) - inter
    eps = 1e-7
    iou = inter / (union + eps)
    hull_wh = (torch.maximum(pred[:, 2:], target[:, 2:]) - torch.minimum(pred[:, :2], target[:, :2]))
    hull = hull_wh.clamp(min=0).prod(-1)
    loss = 1 - (iou - (hull - union) / (hull + eps))
    return (loss * weight).sum() if weight is not None else loss.sum()
