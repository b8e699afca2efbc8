"""The ``segment`` estimator: train a space's segmentation network briefly, score its mIoU.

Auto-DeepLab (Liu et al., "Auto-DeepLab: Hierarchical Neural Architecture Search for Semantic
Image Segmentation", CVPR 2019) searches the network-level path of a DeepLab network; its
proxy trains each candidate briefly on reduced crops and ranks by validation mIoU. Here the
network is the space's whole lowered graph, the ASPP head included
(:mod:`archspace.spaces.autodeeplab`: its atrous rates shrink with the input so no branch sees
only padding), so the cost model, the constraints and export see what is trained.

Training: per-pixel cross-entropy ignoring label 255 (object borders, VOC's void), Adam (or SGD
with Nesterov momentum) on a cosine schedule, batches of whole images, a random horizontal flip
of image and mask. The background dominates dense data (95% of the pixels of 48 px digit
scenes), and under plain cross-entropy a briefly trained network predicts it everywhere; by
default the loss weighs each class by 1/sqrt of its training pixel frequency (option
``class_weight``) and the classifier's bias starts at the log of the (weighted) class priors
(``prior_init``; the prior initialisation of Lin et al., "Focal Loss for Dense Object
Detection", ICCV 2017), which docs/benchmarks.md measured to lift brief runs off the
all-background baseline. Option ``labels=foreground`` merges every non-background class into
one (a cheaper, two-class proxy task). Scoring: mean intersection-over-union over the classes present in the
validation masks or predictions, with torchmetrics' ``MulticlassJaccardIndex`` (ignore index 255),
in percent (``miou``); also pixel accuracy, ``val_loss`` (the unweighted cross-entropy) and
``miou_background``, the mIoU of predicting class
0 everywhere (the background; Cityscapes' road), the trivial baseline on this validation set.

Data (option ``dataset``): ``digit-scenes`` (offline default, :mod:`archspace.datasets.digit_scenes`),
``voc:PATH``, ``cityscapes:PATH`` or ``coco:PATH`` (:mod:`archspace.datasets.dense_sources`),
resized to ``image_size``; images are standardised with the training split's per-channel
statistics. Checkpoints, warm starts and multi-fidelity resources (epochs) work as for
``train`` (:class:`~archspace.estimators.train.TrainEstimator`, which this extends).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from archspace.estimators.base import EstimatorError
from archspace.estimators.options import Option
from archspace.estimators.train import (
    COSTS,
    TrainedRun,
    TrainEstimator,
    adapt_space,
    deterministic_mode,
)
from archspace.limits import MAX_BATCH, MAX_EPOCHS, MAX_RESOLUTION, MAX_SECONDS
from archspace.space import Arch, Space

if TYPE_CHECKING:
    from torch import Tensor, nn

    from archspace.datasets.dense import DenseDataset

__all__ = ["DenseTensors", "SegmentEstimator", "class_weights", "foreground", "miou_of", "predict_masks",
           "prior_bias"]


def _positive(v: float) -> bool:
    return v > 0


def _known(name: str) -> bool:
    from archspace.datasets import DatasetError
    from archspace.datasets.dense_sources import check_dense_name

    try:
        check_dense_name(name)
    except DatasetError:
        return False
    return True


_DATASETS = "digit-scenes, voc:PATH, cityscapes:PATH or coco:PATH"
OPTIONS = (
    Option("dataset", "digit-scenes", str, f"{_DATASETS} (see docs/dense-tasks.md)",
           check=_known, requirement=_DATASETS),
    Option("image_size", 96, int, "side images are generated at (digit scenes) or resized to "
           "(real data)", check=lambda v: v >= 16, requirement="an integer >= 16",
           maximum=MAX_RESOLUTION),
    Option("scenes", 256, int, "training images: digit scenes generated, or the first N of a "
           "real training split (default for real data: 256; 0: all)", check=lambda v: v >= 0,
           requirement="an integer >= 0"),
    Option("val_scenes", 64, int, "validation images (digit scenes drawn from held-out digits, "
           "or the first N of a real val split; 0: all)", check=lambda v: v >= 0,
           requirement="an integer >= 0"),
    Option("data_seed", 0, int, "seed of the generated scenes"),
    Option("epochs", 5.0, float, "training epochs (fractions allowed; none: max_seconds alone)",
           check=_positive, requirement="a number > 0", nullable=True, maximum=MAX_EPOCHS),
    Option("max_seconds", None, float, "wall-clock training budget; training stops at whichever "
           "of epochs and max_seconds comes first", check=_positive, requirement="a number > 0",
           maximum=MAX_SECONDS),
    Option("batch_size", 16, int, "training batch size (images)", check=_positive,
           requirement="an integer > 0", maximum=MAX_BATCH),
    Option("optimizer", "adam", str, "adam or sgd (Nesterov momentum); cosine schedule either "
           "way", choices=("sgd", "adam")),
    Option("lr", None, float, "initial learning rate (default 0.001 for adam, 0.05 for sgd)",
           check=_positive, requirement="a number > 0"),
    Option("momentum", 0.9, float, "SGD momentum", check=lambda v: 0 <= v < 1,
           requirement="a number in [0, 1)"),
    Option("weight_decay", 1e-4, float, "L2 weight decay", check=lambda v: v >= 0,
           requirement="a number >= 0"),
    Option("resolution", None, int, "network input side (default: image_size, raised to the "
           "space's minimum); images and masks are resized to it", check=_positive,
           requirement="an integer > 0", maximum=MAX_RESOLUTION),
    Option("device", "auto", str, "auto (cuda when available), cpu, cuda, cuda:N or mps",
           check=lambda v: re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", v) is not None,
           requirement="auto, cpu, cuda, cuda:N or mps"),
    Option("augment", "flip", str, "training augmentation: flip (random horizontal flip of image "
           "and mask) or none", choices=("flip", "none")),
    Option("horizon", None, float, "epochs the cosine schedule spans (default: epochs); a "
           "multi-fidelity scheduler sets its max resource", check=_positive,
           requirement="a number > 0", maximum=MAX_EPOCHS),
    Option("keep", "best", str, "checkpoints a study keeps beside its file (STUDY.ckpt/N.pt): "
           "best, all or none", choices=("best", "all", "none")),
    Option("class_weight", "sqrt", str, "per-class weights of the training cross-entropy, from "
           "the training masks' pixel frequencies f_c: none, balanced (1/f_c) or sqrt "
           "(1/sqrt(f_c)); normalised to a pixel-weighted mean of 1",
           choices=("none", "balanced", "sqrt")),
    Option("labels", "classes", str, "what the masks label: classes (the dataset's own) or "
           "foreground (2 classes: background, and every other class as one)",
           choices=("classes", "foreground")),
    Option("prior_init", True, bool, "start the classifier's bias at the log class priors of "
           "the (weighted) training pixels (Lin et al., ICCV 2017), not at zero"),
)


@dataclass(frozen=True, eq=False)
class DenseTensors:
    """A dense dataset's two splits as tensors at their native size: images float ``(N, 3, H,
    W)`` standardised with the training split's per-channel ``mean``/``std`` (of [0, 1]
    pixels), masks int64 ``(N, H, W)``."""

    name: str
    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int
    class_names: tuple[str, ...]
    ignore_index: int

    @property
    def resolution(self) -> int:
        return int(self.x_train.shape[-1])

    @property
    def in_channels(self) -> int:
        return int(self.x_train.shape[1])


def _tensors(train: DenseDataset, val: DenseDataset) -> DenseTensors:
    import torch

    def images(d: DenseDataset) -> Tensor:
        return torch.from_numpy(d.images).permute(0, 3, 1, 2).float().div_(255.0)

    xt, xv = images(train), images(val)
    mean = xt.mean(dim=(0, 2, 3))
    std = xt.std(dim=(0, 2, 3)).clamp_min(1e-3)

    def norm(x: Tensor) -> Tensor:
        return (x - mean[:, None, None]) / std[:, None, None]

    assert train.masks is not None and val.masks is not None
    return DenseTensors(train.name.split("/")[0], norm(xt).contiguous(),
                        torch.from_numpy(train.masks).long(), norm(xv).contiguous(),
                        torch.from_numpy(val.masks).long(), tuple(mean.tolist()),
                        tuple(std.tolist()), train.num_classes, train.class_names,
                        train.ignore_index)


def foreground(data: DenseTensors) -> DenseTensors:
    """``data`` with two classes: 0 (class 0, the background) and 1 (every other class);
    ignored pixels stay ignored."""
    import dataclasses

    def fg(y: Tensor) -> Tensor:
        return y.where((y == 0) | (y == data.ignore_index), y.new_ones(()))

    bg = data.class_names[0] if data.class_names else "background"
    return dataclasses.replace(data, y_train=fg(data.y_train), y_val=fg(data.y_val),
                               num_classes=2, class_names=(bg, "foreground"))


def _resized(data: DenseTensors, r: int, device: str) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    import torch.nn.functional as F

    def img(x: Tensor) -> Tensor:
        if x.shape[-1] == r:
            return x
        return F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False,
                             antialias=r < x.shape[-1])

    def mask(y: Tensor) -> Tensor:
        if y.shape[-1] == r:
            return y
        return F.interpolate(y[:, None].float(), size=(r, r), mode="nearest")[:, 0].long()

    return (img(data.x_train).to(device), mask(data.y_train).to(device),
            img(data.x_val).to(device), mask(data.y_val).to(device))


def predict_masks(model: nn.Module, x: Tensor, batch_size: int = 32) -> Tensor:
    """The per-pixel argmax class of ``model`` (in eval mode) on images ``x``, int64 (N, H, W)."""
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, int(x.shape[0]), batch_size):
            out.append(model(x[i:i + batch_size]).argmax(dim=1))
    return torch.cat(out) if out else x.new_zeros((0, *x.shape[2:]), dtype=torch.long)


def miou_of(pred: Tensor, target: Tensor, num_classes: int, ignore_index: int = 255) -> float:
    """Mean IoU in percent (torchmetrics' ``MulticlassJaccardIndex``, macro average over the
    classes present in ``pred`` or ``target``; pixels labelled ``ignore_index`` don't count)."""
    from torchmetrics.classification import MulticlassJaccardIndex

    metric = MulticlassJaccardIndex(num_classes, average="macro", ignore_index=ignore_index,
                                    validate_args=False).to(pred.device)
    return 100.0 * float(metric(pred, target))


def _pixel_counts(masks: Tensor, num_classes: int, ignore_index: int) -> Tensor:
    """How many pixels of ``masks`` each class labels (float64; ``ignore_index`` not counted)."""
    import torch

    y = masks[masks != ignore_index]
    return torch.bincount(y.flatten(), minlength=num_classes)[:num_classes].double()


def class_weights(masks: Tensor, num_classes: int, mode: str,
                  ignore_index: int = 255) -> Tensor | None:
    """Per-class cross-entropy weights from the pixel frequencies ``f_c`` of ``masks`` (pixels
    labelled ``ignore_index`` don't count): ``balanced`` 1/f_c (scikit-learn's "balanced"; the
    median-frequency balancing of Eigen & Fergus, ICCV 2015, up to a constant), ``sqrt``
    1/sqrt(f_c), ``none`` None. Scaled so that the pixel-weighted mean is 1; a class absent from
    the masks gets weight 1."""
    import torch

    if mode == "none":
        return None
    counts = _pixel_counts(masks, num_classes, ignore_index)
    present = counts > 0
    w = torch.ones(num_classes, dtype=torch.float64)
    if bool(present.any()):
        freq = counts[present] / counts.sum()
        w[present] = 1.0 / freq if mode == "balanced" else freq.rsqrt()
        w[present] /= float((freq * w[present]).sum())
    return w.float()


def prior_bias(masks: Tensor, num_classes: int, weights: Tensor | None,
               ignore_index: int = 255) -> Tensor:
    """The logits' bias at which the softmax predicts the class priors of ``masks``' pixels,
    each weighted by its class weight (the prior initialisation of Lin et al., "Focal Loss for
    Dense Object Detection", ICCV 2017, for a softmax): log p_c, with absent classes at a
    1-in-10^4 prior."""

    counts = _pixel_counts(masks, num_classes, ignore_index)
    if weights is not None:
        counts = counts * weights.double()
    p = (counts / counts.sum().clamp_min(1.0)).clamp_min(1e-4)
    return (p / p.sum()).log().float()


def _init_classifier(model: nn.Module, bias: Tensor) -> None:
    """Set the bias of ``model``'s last convolution with one output per class (the classifier)
    to ``bias``; a network without one is left alone."""
    import torch
    from torch import nn

    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)
             and m.out_channels == bias.numel() and m.bias is not None]
    b = convs[-1].bias if convs else None
    if b is not None:
        with torch.no_grad():
            b.copy_(bias.to(b))


def _flip(x: Tensor, y: Tensor, gen: Any) -> tuple[Tensor, Tensor]:
    import torch

    flip = torch.rand(x.shape[0], generator=gen) < 0.5
    if not bool(flip.any()):
        return x, y
    f = flip.to(x.device)
    return (torch.where(f[:, None, None, None], x.flip(-1), x),
            torch.where(f[:, None, None], y.flip(-1), y))


class SegmentEstimator(TrainEstimator):
    """Validation mIoU (%) after training the space's segmentation network briefly."""

    name: ClassVar[str] = "segment"
    summary: ClassVar[str] = ("train the space's segmentation network (e.g. Auto-DeepLab + ASPP) "
                              "for a budget on dense data; validation mIoU (%)")
    paper: ClassVar[str] = "Liu et al. 2019, Auto-DeepLab (CVPR)"
    options: ClassVar[tuple[Option, ...]] = OPTIONS
    metric = "miou"
    metrics: ClassVar[tuple[str, ...]] = ("pixel_accuracy", "miou_background", "val_loss",
                                          "train_loss", "train_seconds", "epochs", "steps",
                                          "resolution", "threads", *COSTS)
    resource: ClassVar[str | None] = "epochs"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._dense: DenseTensors | None = None

    def shared_inputs(self) -> dict[str, Any]:
        return {"dense": self._native()}

    def use_shared_inputs(self, inputs: dict[str, Any]) -> None:
        self._dense = inputs.get("dense", self._dense)

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "_dense": None}

    def splits(self) -> tuple[DenseDataset, DenseDataset]:
        """The training and validation :class:`DenseDataset` (checked to have masks with labels
        in the classes)."""
        from archspace.datasets.dense_sources import load_dense

        c = self.config
        seed = c["data_seed"]
        train = load_dense(c["dataset"], "train", c["image_size"], c["scenes"] or None, seed)
        val = load_dense(c["dataset"], "val", c["image_size"], c["val_scenes"] or None, seed)
        for d in (train, val):
            d.check_masks()
        if len(train) < 2 or len(val) < 1:
            raise EstimatorError(f"dataset {c['dataset']} has {len(train)} training and "
                                 f"{len(val)} validation images; at least 2 and 1 are needed")
        return train, val

    def native_dataset(self) -> DenseTensors:  # type: ignore[override]
        return self._native()

    def _native(self) -> DenseTensors:  # type: ignore[override]
        if self._dense is None:
            dense = _tensors(*self.splits())
            self._dense = foreground(dense) if self.config["labels"] == "foreground" else dense
        return self._dense

    def check_space(self, space: Space) -> None:
        """The data must load with masks, and the space's network must output per-pixel class
        scores ``(classes, H, W)`` at the input resolution."""
        base = self._native()
        fitted, r = self.adapted(space)
        out = fitted.lower(fitted.sample(0), r).output.shape
        if out != (base.num_classes, r, r):
            raise EstimatorError(f"space {space.label} has no segmentation head: it outputs "
                                 f"shape {out}, not per-pixel scores ({base.num_classes}, {r}, "
                                 f"{r}); allowed: a segmentation space, e.g. autodeeplab")
        if fitted.in_channels != 3:
            raise EstimatorError(f"space {space.label} takes {fitted.in_channels}-channel input; "
                                 "dense datasets are RGB")

    def adapted(self, space: Space) -> tuple[Space, int]:
        """The space fitted to the dataset's classes, and the training resolution."""
        base = self._native()
        fitted = self._space(space, base.num_classes)
        req = self.config["resolution"]
        r = req if req is not None else max(base.resolution, fitted.min_resolution)
        return fitted, fitted.check_resolution(r)

    def _space(self, space: Space, num_classes: int) -> Space:
        hit = self._spaces.get(id(space))
        if hit is None or hit[0] is not space:
            if getattr(space, "num_classes", None) is None:
                raise EstimatorError(f"space {space.label} has no segmentation head (no "
                                     "num_classes); allowed: a segmentation space, e.g. "
                                     "autodeeplab")
            hit = self._spaces[id(space)] = (space, adapt_space(space, num_classes))
        return hit[1]

    def train(self, space: Space, arch: Arch, seed: int = 0, resource: float | None = None,
              warm_start: str | os.PathLike[str] | Mapping[str, Any] | None = None) -> TrainedRun:
        """Train ``arch``'s segmentation network to ``resource`` epochs (default option
        ``epochs``) and score it (see :meth:`TrainEstimator.train` for warm starts and the
        schedule's horizon)."""
        import torch
        import torch.nn.functional as F

        from archspace.estimators.loop import fit

        c = self.config
        device = self.device
        fitted, r = self.adapted(space)
        start, epochs, horizon = self.schedule(space, arch, seed, resource, warm_start)
        data = self._native()
        x, y, xv, yv = _resized(data, r, device)
        ignore = data.ignore_index
        graph = fitted.lower(arch, r)

        k = data.num_classes
        weights = class_weights(data.y_train, k, c["class_weight"], ignore)
        weight = weights.to(device) if weights is not None else None
        bias = prior_bias(data.y_train, k, weights, ignore) if c["prior_init"] else None

        def loss_fn(out: Tensor, target: Tensor) -> Tensor:
            return F.cross_entropy(out, target, weight=weight, ignore_index=ignore)

        def init(model: nn.Module) -> None:
            if bias is not None:
                _init_classifier(model, bias)

        with deterministic_mode(device):
            model, opt, gen, resume = self.start_training(graph, seed, start, init)
            res = fit(model, x, y, opt, c["batch_size"], epochs, c["max_seconds"], gen,
                      horizon=horizon, resume=resume, loss_fn=loss_fn,
                      augment_pair=_flip if c["augment"] == "flip" else None)
            metrics = self._score(model, xv, yv, data)
        cost = self.cost(space, arch)
        metrics.update({
            "train_loss": res.train_loss, "train_seconds": res.seconds, "epochs": res.epochs,
            "steps": float(res.steps), "resolution": float(r), "train_samples": float(x.shape[0]),
            "resumed_from": float(start["epoch"]) if start is not None else 0.0,
            "threads": float(torch.get_num_threads()),
            **{k: float(getattr(cost, k)) for k in COSTS}})
        info = {"arch": space.format_arch(arch), "arch_json": space.arch_to_json(arch),
                "space": space.label, "seed": seed, "options": self.training_options(),
                "horizon": horizon if horizon is not None else res.epochs}
        return TrainedRun(model, opt, gen, res, metrics, info)

    @staticmethod
    def _score(model: nn.Module, xv: Tensor, yv: Tensor, data: DenseTensors) -> dict[str, float]:
        import math

        import torch
        import torch.nn.functional as F

        from archspace.estimators.base import TrainingDiverged

        model.eval()
        preds, loss, n = [], 0.0, 0
        with torch.inference_mode():
            for i in range(0, int(xv.shape[0]), 32):
                out = model(xv[i:i + 32]).float()
                yb = yv[i:i + 32]
                loss += float(F.cross_entropy(out, yb, ignore_index=data.ignore_index,
                                              reduction="sum"))
                n += int((yb != data.ignore_index).sum())
                preds.append(out.argmax(dim=1))
        val_loss = loss / max(n, 1)
        if not math.isfinite(val_loss):
            raise TrainingDiverged(f"evaluation loss is {val_loss}: the trained network outputs "
                                   "non-finite values; allowed: a lower lr, or another arch")
        pred = torch.cat(preds)
        valid = yv != data.ignore_index
        acc = 100.0 * float((pred == yv)[valid].float().mean()) if bool(valid.any()) else 0.0
        k = data.num_classes
        return {"miou": miou_of(pred, yv, k, data.ignore_index), "pixel_accuracy": acc,
                "miou_background": miou_of(torch.zeros_like(yv), yv, k, data.ignore_index),
                "val_loss": val_loss}
