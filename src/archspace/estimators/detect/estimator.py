"""The ``detect`` estimator: COCO box AP of a pyramid space trained briefly as a detector.

NAS-FPN's merging cells were searched on object detection (Ghiasi et al., CVPR 2019): a
RetinaNet trained on a proxy task of reduced resolution and epochs, scored by COCO box AP. Here
the space is fitted with its ``fcos`` head (``head="fcos"``, ``num_classes`` the dataset's
object classes: an FCOS-style dense head on every pyramid level, part of the IR so the cost
model and constraints count it; see :mod:`archspace.spaces.nasfpn`), trained with FCOS's
losses and target assignment (:mod:`archspace.nn.detection.fcos`, every level supervised), and
its class-aware-NMS detections on the validation split scored by COCO box AP, AP50 and AP75
(in %, :mod:`archspace.estimators.detect.coco_eval`). Adam with a cosine schedule; the
training loop, checkpoints, resumption and multi-fidelity continuation are the ``train``
estimator's (:class:`~archspace.estimators.train.TrainEstimator`), the resource being epochs.

Data: ``digit-scenes`` (default; scenes of scikit-learn's digits with tight boxes, validation
scenes from digits never used in training, :mod:`archspace.datasets.digit_scenes`), or a
dataset with boxes that the dense loaders read (``coco:PATH``, ``voc:PATH``,
``cityscapes:PATH`` with its ``gtFine`` instanceIds).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from archspace.estimators.base import EstimatorError
from archspace.estimators.options import Option
from archspace.estimators.train import COSTS, TrainedRun, TrainEstimator, deterministic_mode
from archspace.limits import MAX_BATCH, MAX_EPOCHS, MAX_RESOLUTION, MAX_SECONDS
from archspace.space import Arch, Space

if TYPE_CHECKING:
    from torch import Tensor, nn

    from archspace.estimators.detect.data import BoxData
    from archspace.nn.detection.fcos import Detections, FCOSLayout

__all__ = ["DetectEstimator", "detection_space"]

#: Prior probability of an object at a location, for the class logits' initial bias (RetinaNet).
PRIOR = 0.01


def _positive(v: float) -> bool:
    return v > 0


def _box_dataset(name: str) -> bool:
    try:
        from archspace.datasets.dense_sources import check_dense_name  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # without the dense loaders: the digit scenes only
        return name == "digit-scenes"
    from archspace.datasets import DatasetError

    try:
        check_dense_name(name)
    except DatasetError:
        return False
    return True


OPTIONS = (
    Option("dataset", "digit-scenes", str, "digit-scenes (scenes of scikit-learn's digits with "
           "boxes), coco:PATH (instances JSON and images), voc:PATH (a VOC2012-style folder) "
           "or cityscapes:PATH (boxes from gtFine instanceIds)",
           check=_box_dataset, requirement="digit-scenes, coco:PATH, voc:PATH or cityscapes:PATH"),
    Option("train_images", 512, int, "training images: digit scenes drawn, or the first N of "
           "a real dataset's training split (none: all)", check=_positive,
           requirement="an integer > 0", maximum=100_000, nullable=True),
    Option("val_images", 128, int, "validation images: digit scenes drawn, or the first N of "
           "a real dataset's validation split (none: all)", check=_positive,
           requirement="an integer > 0", maximum=100_000, nullable=True),
    Option("image_size", 128, int, "side the images are loaded at: digit scenes are drawn at "
           "it, real images resized to it (boxes scaled)", minimum=16, maximum=1024),
    Option("resolution", None, int, "input side in pixels (default: the data's, raised to the "
           "space's minimum and step)", check=_positive, requirement="an integer > 0",
           maximum=MAX_RESOLUTION),
    Option("epochs", 3.0, float, "training epochs (fractions allowed; none: max_seconds alone)",
           check=_positive, requirement="a number > 0", nullable=True, maximum=MAX_EPOCHS),
    Option("max_seconds", None, float, "wall-clock training budget; training stops at whichever "
           "of epochs and max_seconds comes first", check=_positive, requirement="a number > 0",
           maximum=MAX_SECONDS),
    Option("batch_size", 16, int, "training batch size", check=_positive,
           requirement="an integer > 0", maximum=MAX_BATCH),
    Option("optimizer", "adam", str, "adam or sgd (Nesterov momentum); cosine schedule either "
           "way", choices=("adam", "sgd")),
    Option("lr", None, float, "initial learning rate (default 0.002 for adam, 0.01 for sgd)",
           check=_positive, requirement="a number > 0"),
    Option("momentum", 0.9, float, "SGD momentum", check=lambda v: 0 <= v < 1,
           requirement="a number in [0, 1)"),
    Option("weight_decay", 1e-4, float, "L2 weight decay", check=lambda v: v >= 0,
           requirement="a number >= 0"),
    Option("head_convs", None, int, "conv layers per level of the fcos head (default: the "
           "space's)", minimum=0, maximum=8),
    Option("device", "auto", str, "auto (cuda when available), cpu, cuda, cuda:N or mps",
           check=lambda v: re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", v) is not None,
           requirement="auto, cpu, cuda, cuda:N or mps"),
    Option("horizon", None, float, "epochs the cosine schedule spans (default: epochs); a "
           "multi-fidelity scheduler sets its max resource", check=_positive,
           requirement="a number > 0", maximum=MAX_EPOCHS),
    Option("keep", "best", str, "checkpoints a study keeps beside its file (STUDY.ckpt/N.pt): "
           "best, all or none", choices=("best", "all", "none")),
)
DEFAULT_LR = {"adam": 2e-3, "sgd": 1e-2}


def detection_space(space: Space, num_classes: int, head_convs: int | None = None) -> Space:
    """``space`` re-instantiated with its ``fcos`` detection head for ``num_classes`` object
    classes; :class:`EstimatorError` for a space that has no detection head."""
    if "fcos" not in getattr(space, "heads", ()):
        raise EstimatorError(f"space {space.label} has no detection head; allowed: a pyramid "
                             "space with head=fcos (nasfpn)")
    want: dict[str, Any] = {"head": "fcos", "num_classes": num_classes}
    if head_convs is not None:
        want["head_convs"] = head_convs
    if all(getattr(space, k, None) == v for k, v in want.items()):
        return space
    fitted = type(space)(**{**space.params, **want})
    fitted.explicit_params = fitted.explicit_params | (space.explicit_params - set(want))
    return fitted


class DetectEstimator(TrainEstimator):
    """COCO box AP (%) on the validation split after training the arch's FCOS head briefly."""

    default_lr: ClassVar[Mapping[str, float]] = DEFAULT_LR

    name = "detect"
    summary = ("train the space's FCOS detection head (every pyramid level) briefly on boxes; "
               "score COCO box AP")
    paper = "Ghiasi et al. 2019, NAS-FPN (CVPR); Tian et al. 2019, FCOS (ICCV)"
    options = OPTIONS
    metric = "ap"
    metrics: ClassVar[tuple[str, ...]] = ("ap50", "ap75", "ap_constant", "train_loss",
                                          "train_seconds", "epochs", "steps", "resolution", "threads", *COSTS)
    resource: ClassVar[str | None] = "epochs"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._boxes: BoxData | None = None
        self._prepared_cache: dict[tuple[int, str], tuple[Any, ...]] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_boxes": None, "_dataset": None, "_prepared_cache": {}}

    # -- data ------------------------------------------------------------------------------
    def _native(self) -> BoxData:  # type: ignore[override]
        if self._boxes is None:
            self._boxes = self._load()
        return self._boxes

    def box_dataset(self) -> BoxData:
        """The images with their boxes, both splits, at the data's own side."""
        return self._native()

    def shared_inputs(self) -> dict[str, Any]:
        return {"boxes": self._native()}

    def use_shared_inputs(self, inputs: dict[str, Any]) -> None:
        self._boxes = inputs.get("boxes", self._boxes)

    def _load(self) -> BoxData:
        from archspace.datasets import DatasetError
        from archspace.estimators.detect.data import box_data

        c = self.config
        name = str(c["dataset"])
        size, n_train, n_val = c["image_size"], c["train_images"], c["val_images"]
        try:
            try:
                from archspace.datasets.dense_sources import load_dense  # type: ignore[import-not-found,unused-ignore]
            except ImportError:  # without the dense loaders: the digit scenes only
                from archspace.datasets.digit_scenes import make_digit_scenes

                train = make_digit_scenes(n_train or 512, size, 0, "train")
                val = make_digit_scenes(n_val or 128, size, 0, "val")
            else:
                train = load_dense(name, "train", size, n_train)
                val = load_dense(name, "val", size, n_val)
            return box_data(train, val, name)
        except DatasetError as e:
            raise EstimatorError(str(e)) from None

    # -- the network -----------------------------------------------------------------------
    def _space(self, space: Space, num_classes: int) -> Space:
        hit = self._spaces.get(id(space))
        if hit is None or hit[0] is not space:
            fitted = detection_space(space, num_classes, self.config.get("head_convs"))
            hit = self._spaces[id(space)] = (space, fitted)
        return hit[1]

    def check_space(self, space: Space) -> None:
        """The space must have a detection head and the dataset boxes (both checked before
        any training)."""
        if "fcos" not in getattr(space, "heads", ()):
            detection_space(space, 1)
        fitted, r = self.adapted(space)
        from archspace.nn.detection.fcos import FCOSLayout

        layout = FCOSLayout(_levels(fitted, r), fitted.num_classes, r)
        out = fitted.lower(fitted.sample(0), r).output.shape
        if out != (layout.outputs,):
            raise EstimatorError(f"space {space.label} outputs shape {out}, not the fcos head's "
                                 f"({layout.outputs},); allowed: a pyramid space with head=fcos")

    def _layout(self, fitted: Space, r: int, data: BoxData) -> FCOSLayout:
        from archspace.nn.detection.fcos import FCOSLayout

        levels = _levels(fitted, r)
        edges = FCOSLayout.size_edges(list(data.boxes_train), len(levels))
        return FCOSLayout(levels, fitted.num_classes, r, edges)

    def _prepared(self, fitted: Space, r: int, device: str) -> tuple[Any, ...]:
        """(layout, training images, packed targets, validation images, COCO ground truth,
        the constant predictor's AP)."""
        import torch

        key = (r, device)
        hit = self._prepared_cache.get(key)
        if hit is None:
            data = self._native().resized(r)
            layout = self._layout(fitted, r, data)
            targets = layout.targets(list(data.boxes_train), list(data.labels_train)).packed()
            from archspace.estimators.detect.coco_eval import constant_ap

            gt = data.val_ground_truth()
            train_xywh = torch.cat([torch.cat((b[:, :2], b[:, 2:] - b[:, :2]), 1)
                                    for b in data.boxes_train]).numpy()
            hit = (layout, data.x_train.to(device), targets.to(device), data.x_val.to(device), gt,
                   constant_ap(gt, train_xywh, data.num_classes)["ap"])
            self._prepared_cache = {key: hit}
        return hit

    # -- training --------------------------------------------------------------------------
    def train(self, space: Space, arch: Arch, seed: int = 0, resource: float | None = None,
              warm_start: str | os.PathLike[str] | Mapping[str, Any] | None = None) -> TrainedRun:
        """Train ``arch``'s detector to ``resource`` epochs (default option ``epochs``),
        continuing from ``warm_start`` as :meth:`TrainEstimator.train` does, and score its
        validation detections."""
        import torch

        from archspace.estimators.loop import fit
        from archspace.nn.detection.fcos import FCOSTargets

        c = self.config
        device = self.device
        fitted, r = self.adapted(space)
        start, epochs, horizon = self.schedule(space, arch, seed, resource, warm_start)
        layout, x, y, x_val, gt, ap_constant = self._prepared(fitted, r, device)
        graph = fitted.lower(arch, r)
        with deterministic_mode(device):
            model, opt, gen, resume = self.start_training(
                graph, seed, start, init=lambda m: _init_head(m, graph, fitted.num_classes))

            def loss_fn(out: Tensor, yb: Tensor) -> Tensor:
                return layout.loss(out, FCOSTargets.unpack(yb))

            res = fit(model, x, y, opt, c["batch_size"], epochs, c["max_seconds"], gen,
                      horizon=horizon, resume=resume, loss_fn=loss_fn)
            scores = score_detector(model, layout, x_val, gt)
        cost = self.cost(space, arch)
        metrics = {**scores, "ap_constant": ap_constant, "train_loss": res.train_loss,
                   "train_seconds": res.seconds, "epochs": res.epochs, "steps": float(res.steps),
                   "resolution": float(r),
                   "train_samples": float(x.shape[0]),
                   "resumed_from": float(start["epoch"]) if start is not None else 0.0,
                   "threads": float(torch.get_num_threads()),
                   **{k: float(getattr(cost, k)) for k in COSTS}}
        info = {"arch": space.format_arch(arch), "arch_json": space.arch_to_json(arch),
                "space": space.label, "seed": seed, "options": self.training_options(),
                "horizon": horizon if horizon is not None else res.epochs}
        return TrainedRun(model, opt, gen, res, metrics, info)

    def detections(self, model: nn.Module, space: Space, images: Tensor) -> list[Detections]:
        """``model``'s detections (corners in pixels of the training side, 0-based labels) on
        standardised ``images`` already at the training side."""
        fitted, r = self.adapted(space)
        data = self._native().resized(r)
        return predict(model, self._layout(fitted, r, data), images)


def _levels(space: Space, resolution: int) -> list[tuple[int, int, int]]:
    from archspace.spaces.nasfpn import detection_levels

    fn = getattr(space, "detection_levels", None)
    return list(fn(resolution)) if callable(fn) else detection_levels(resolution)


def _init_head(model: nn.Module, graph: Any, num_classes: int) -> None:
    """Class logits start at the prior probability :data:`PRIOR` (RetinaNet's init), so the
    background's loss does not swamp the first steps."""
    import torch

    layers = getattr(model, "layers", {})
    for node in graph.nodes:
        key = node.name.replace(".", "_")
        if node.op == "conv" and node.name.endswith("predict") and key in layers:
            with torch.no_grad():
                layers[key].bias[:num_classes] = -math.log((1 - PRIOR) / PRIOR)


def predict(model: nn.Module, layout: FCOSLayout, images: Tensor,
            batch_size: int = 64) -> list[Detections]:
    """Detections of ``model`` (eval mode) on ``images``."""
    import torch

    model.eval()
    out: list[Detections] = []
    with torch.inference_mode():
        for i in range(0, int(images.shape[0]), batch_size):
            raw = model(images[i:i + batch_size])
            if not bool(torch.isfinite(raw).all()):
                from archspace.estimators.base import TrainingDiverged

                raise TrainingDiverged("the trained detector outputs non-finite values; allowed: "
                                       "a lower lr, or another arch")
            out += layout.detect(raw)
    return out


def score_detector(model: nn.Module, layout: FCOSLayout, images: Tensor,
                   gt: dict[str, Any]) -> dict[str, float]:
    """COCO ``ap``, ``ap50``, ``ap75`` (%) of ``model``'s detections on ``images``."""
    from archspace.estimators.detect.coco_eval import coco_ap
    from archspace.nn.detection.boxes import xyxy_to_xywh

    dets = predict(model, layout, images)
    return coco_ap(gt, [xyxy_to_xywh(d.boxes).cpu().numpy() for d in dets],
                   [d.scores.cpu().numpy() for d in dets], [d.labels.cpu().numpy() for d in dets])
