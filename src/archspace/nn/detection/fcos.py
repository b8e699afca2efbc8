"""FCOS on the ``fcos`` head of a pyramid space: target assignment, loss and decoding.

After Tian, Shen, Chen, He, "FCOS: Fully Convolutional One-Stage Object Detection", ICCV 2019:
every location of every pyramid level is a sample. A location is a positive of a ground-truth
box when it lies inside the box and in its centre region (FCOS's centre sampling: within
``radius`` strides of the box centre); among several boxes it takes the smallest. FCOS gives
each level a range of object sizes (0, 64, 128, 256, 512, inf pixels on its ~800-pixel
inputs); here the ranges are set from the data instead: each level takes an equal share of the
training boxes by size (square root of the area, smallest at P3: the edges are the quantiles,
:meth:`FCOSLayout.size_edges`), so every level's head, and so every merging cell feeding it,
is trained on positives as well as on background at any canvas size. A box with no location
of its level inside its centre region (a small box between a coarse level's locations) goes to
the next finer level that has one. Losses: focal loss on the classes (every location), GIoU
loss on the boxes weighted by the centerness target, and binary cross-entropy on centerness
(positives only), each normalised by the number of positives. Boxes are predicted as ``exp``
of the head's outputs times the level's stride.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from archspace.nn.detection.boxes import decode_ltrb, encode_ltrb
from archspace.nn.detection.losses import giou_loss, sigmoid_focal_loss
from archspace.nn.detection.nms import batched_nms

__all__ = ["Detections", "FCOSLayout", "FCOSTargets"]

#: Largest exponent of a predicted distance (in strides): keeps exp finite early in training.
MAX_LOG_DISTANCE = 8.0


@dataclass(frozen=True)
class Detections:
    """One image's detections: boxes ``(k, 4)`` as corners, scores and labels ``(k,)``."""

    boxes: Tensor
    scores: Tensor
    labels: Tensor


@dataclass(frozen=True)
class FCOSTargets:
    """Per-location targets of a set of images: ``labels`` ``(N, P)`` (-1: background),
    ``boxes`` ``(N, P, 4)`` the assigned ground-truth corners, ``centerness`` ``(N, P)``."""

    labels: Tensor
    boxes: Tensor
    centerness: Tensor

    def select(self, idx: Tensor) -> FCOSTargets:
        """The targets of images ``idx``."""
        return FCOSTargets(self.labels.index_select(0, idx), self.boxes.index_select(0, idx),
                           self.centerness.index_select(0, idx))

    def packed(self) -> Tensor:
        """One float tensor ``(N, P, 6)``: label, box corners, centerness."""
        return torch.cat((self.labels[..., None].float(), self.boxes, self.centerness[..., None]),
                         -1)

    @staticmethod
    def unpack(t: Tensor) -> FCOSTargets:
        """The inverse of :meth:`packed`."""
        return FCOSTargets(t[..., 0].round().long(), t[..., 1:5], t[..., 5])

    def positives_per_level(self, layout: FCOSLayout) -> list[int]:
        """How many positive locations each level has over all images."""
        pos = (self.labels >= 0).sum(0)
        out, start = [], 0
        for n in layout.sizes:
            out.append(int(pos[start:start + n].sum()))
            start += n
        return out


class FCOSLayout:
    """The locations of the ``fcos`` head's output at input side ``resolution``.

    ``levels`` are ``(level, stride, side)`` as the space's ``detection_levels`` gives them.
    """

    def __init__(self, levels: list[tuple[int, int, int]], num_classes: int, resolution: int,
                 edges: list[float] | None = None, radius: float = 1.5) -> None:
        self.levels = levels
        self.num_classes = num_classes
        self.resolution = resolution
        self.radius = radius
        self.sizes = [side * side for _, _, side in levels]
        if edges is None:  # FCOS's ranges in strides: objects about 8 strides across
            edges = [8.0 * stride for _, stride, _ in levels[:-1]]
        if len(edges) != len(levels) - 1:
            raise ValueError(f"{len(levels)} levels need {len(levels) - 1} size edges")
        self.edges = [float(e) for e in edges]
        pts, strides, level = [], [], []
        for k, (_, stride, side) in enumerate(levels):
            c = (torch.arange(side, dtype=torch.float32) + 0.5) * stride
            yy, xx = torch.meshgrid(c, c, indexing="ij")
            pts.append(torch.stack((xx.reshape(-1), yy.reshape(-1)), -1))
            strides.append(torch.full((side * side,), float(stride)))
            level.append(torch.full((side * side,), k, dtype=torch.long))
        self.points = torch.cat(pts)
        self.strides = torch.cat(strides)
        self.level_of = torch.cat(level)

    @staticmethod
    def size_edges(boxes: list[Tensor], n_levels: int) -> list[float]:
        """The box sizes (square root of the area) splitting ``boxes`` (corners, all images)
        into ``n_levels`` equal shares."""
        sizes = torch.cat([((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).clamp(min=0).sqrt()
                           for b in boxes] or [torch.zeros(0)])
        if sizes.numel() == 0:
            return [float(2 ** k) for k in range(1, n_levels)]
        q = torch.linspace(0, 1, n_levels + 1)[1:-1]
        return [float(v) for v in torch.quantile(sizes.double(), q.double())]

    @property
    def outputs(self) -> int:
        """Length of the network's flat output per image."""
        return (self.num_classes + 5) * int(sum(self.sizes))

    def split(self, out: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The flat output ``(N, F)`` as class logits ``(N, P, C)``, log-distances
        ``(N, P, 4)`` and centerness logits ``(N, P)``."""
        k = self.num_classes + 5
        parts, start = [], 0
        for n in self.sizes:
            parts.append(out[:, start:start + k * n].reshape(out.shape[0], k, n).transpose(1, 2))
            start += k * n
        y = torch.cat(parts, 1)
        c = self.num_classes
        return y[..., :c], y[..., c:c + 4], y[..., c + 4]

    def assign(self, boxes: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One image's targets: labels ``(P,)`` (-1 background), boxes ``(P, 4)``, centerness
        ``(P,)``, for ground-truth corners ``boxes`` ``(K, 4)`` and ``labels`` ``(K,)``."""
        p = self.points.shape[0]
        lab = torch.full((p,), -1, dtype=torch.long)
        box = torch.zeros(p, 4)
        if boxes.shape[0] == 0:
            return lab, box, torch.zeros(p)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        level = torch.bucketize(area.clamp(min=0).sqrt(), torch.tensor(self.edges), right=True)
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2
        for k in torch.argsort(area, descending=True, stable=True).tolist():  # smallest last
            b = boxes[k]
            reach = self.radius * self.strides[:, None]
            lo = torch.maximum(centre[k] - reach, b[:2])
            hi = torch.minimum(centre[k] + reach, b[2:])
            inside = ((self.points > lo) & (self.points < hi)).all(-1)
            for lv in range(int(level[k]), -1, -1):
                here = inside & (self.level_of == lv)
                if bool(here.any()):
                    lab[here] = labels[k]
                    box[here] = b
                    break
        d = encode_ltrb(self.points, box).clamp(min=1e-6)
        ctr = torch.sqrt((torch.minimum(d[:, 0], d[:, 2]) / torch.maximum(d[:, 0], d[:, 2]))
                         * (torch.minimum(d[:, 1], d[:, 3]) / torch.maximum(d[:, 1], d[:, 3])))
        return lab, box, torch.where(lab >= 0, ctr, torch.zeros_like(ctr))

    def targets(self, boxes: list[Tensor], labels: list[Tensor]) -> FCOSTargets:
        """:meth:`assign` for every image."""
        out = [self.assign(b.float(), lab.long()) for b, lab in zip(boxes, labels, strict=True)]
        return FCOSTargets(torch.stack([o[0] for o in out]), torch.stack([o[1] for o in out]),
                           torch.stack([o[2] for o in out]))

    def decode_boxes(self, log_ltrb: Tensor) -> Tensor:
        """Corners predicted at every location from the head's log-distances."""
        pts, strides = self.points.to(log_ltrb.device), self.strides.to(log_ltrb.device)
        return decode_ltrb(pts, torch.exp(log_ltrb.clamp(max=MAX_LOG_DISTANCE)), strides)

    def loss(self, out: Tensor, t: FCOSTargets) -> Tensor:
        """FCOS's loss of a batch: focal + centerness-weighted GIoU + centerness BCE."""
        cls, reg, ctr = self.split(out)
        pos = t.labels >= 0
        n_pos = max(int(pos.sum()), 1)
        onehot = F.one_hot(t.labels.clamp(min=0), self.num_classes).to(cls.dtype)
        onehot = onehot * pos[..., None].to(cls.dtype)
        loss = sigmoid_focal_loss(cls, onehot) / n_pos
        if bool(pos.any()):
            boxes = self.decode_boxes(reg)[pos]
            w = t.centerness[pos]
            loss = loss + giou_loss(boxes, t.boxes[pos], w) / w.sum().clamp(min=1e-6)
            loss = loss + F.binary_cross_entropy_with_logits(ctr[pos], w, reduction="sum") / n_pos
        return loss

    def detect(self, out: Tensor, score_threshold: float = 0.05, candidates: int = 1000,
               iou_threshold: float = 0.6, max_detections: int = 100) -> list[Detections]:
        """Each image's detections: score ``sqrt(class prob * centerness)`` above
        ``score_threshold``, the best ``candidates``, class-aware NMS, the best
        ``max_detections``, boxes clipped to the image."""
        cls, reg, ctr = self.split(out.float())
        scores = torch.sqrt(torch.sigmoid(cls) * torch.sigmoid(ctr)[..., None])
        boxes = self.decode_boxes(reg).clamp(0, float(self.resolution))
        res = []
        c = self.num_classes
        for i in range(out.shape[0]):
            s = scores[i].reshape(-1)
            keep = torch.nonzero(s > score_threshold).squeeze(1)
            if keep.numel() > candidates:
                keep = keep[torch.topk(s[keep], candidates).indices]
            loc, lab = keep // c, keep % c
            b, sc = boxes[i, loc], s[keep]
            kept = batched_nms(b, sc, lab, iou_threshold)[:max_detections]
            res.append(Detections(b[kept], sc[kept], lab[kept]))
        return res
