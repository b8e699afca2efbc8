"""Torch-only parts of a one-stage detector: box coding, IoU/GIoU, focal loss, NMS, and the
FCOS target assignment and decoding of the ``fcos`` head (no torchvision)."""

from archspace.nn.detection.boxes import (
                                          box_area,
                                          box_iou,
                                          decode_ltrb,
                                          encode_ltrb,
                                          generalized_box_iou,
                                          xywh_to_xyxy,
                                          xyxy_to_xywh,
)
from archspace.nn.detection.losses import giou_loss, sigmoid_focal_loss
from archspace.nn.detection.nms import batched_nms, nms

__all__ = ["batched_nms", "box_area", "box_iou", "decode_ltrb", "encode_ltrb",
           "generalized_box_iou", "giou_loss", "nms", "sigmoid_focal_loss", "xywh_to_xyxy",
           "xyxy_to_xywh"]
