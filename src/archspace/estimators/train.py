"""The ``train`` estimator: build the network, train it briefly on real data, score it.

Short training as a proxy for final accuracy is the oldest NAS estimator (Zoph & Le, ICLR 2017;
its low-budget variant is studied in Zela et al., "Towards Automated Deep Learning: Efficient
Joint Neural Architecture and Hyperparameter Search", ICML AutoML workshop 2018). The recipe
follows NAS-Bench-201's (Dong & Yang, ICLR 2020): SGD with Nesterov momentum 0.9, weight
decay 5e-4 and a cosine schedule to zero, flip-and-crop augmentation for colour images;
``recipe=nb201`` (:mod:`~archspace.estimators.recipes`) sets its exact values. A study keeps
the best trial's checkpoint (``keep=best``) so that export needs no re-training, and
:meth:`TrainEstimator.evaluate_at` continues training from a checkpoint. docs/estimation.md
has the whole picture.

How the network is fitted to the data:

* **classes**: the classifier gets the dataset's number of classes. A catalog space taking a
  ``num_classes`` parameter is re-instantiated with it (other parameters kept; an arch of a
  restricted sub-space is a point of the full space, so it still validates).
* **channels**: grayscale data is repeated to the space's ``in_channels`` (e.g. digits/MNIST
  into an RGB network); colour data into a grayscale network is an error.
* **resolution**: the estimator's ``resolution`` option if given, else the space's own
  ``resolution`` parameter where the user set it, else the dataset's native size, raised to
  the space's ``min_resolution`` (and its step) when smaller; the metric ``resolution`` records
  it; images are resized with bilinear
  interpolation (antialiased when shrinking).

Training-speed metrics come free with the run (Ru et al., "Speedy Performance Estimation for
Neural Architecture Search", NeurIPS 2021): ``sotl_e`` is the mean training loss over the last
epoch (their SoTL-E with E=1; the same number as ``train_loss``) and ``sotl`` the mean over
every step from the start (SoTL divided by the steps, which every arch of one setting shares,
so it ranks as SoTL does); lower is better for both, and both count the minibatch losses as
training computed them, with no extra pass. A run continued from a checkpoint written before
``sotl`` existed reports it as NaN.

Determinism: given a seed, the weights (``torch.manual_seed``), the batch order (a seeded
generator), and, on the CPU, the kernels (``torch.use_deterministic_algorithms``) are fixed, so
the same seed gives identical metrics as long as ``epochs`` ends training; a ``max_seconds``
budget that cuts it short depends on the machine's speed.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from archspace.estimators.base import Estimator, EstimatorError
from archspace.estimators.checkpoint import load_checkpoint, save_checkpoint
from archspace.estimators.options import Option
from archspace.estimators.recipes import RECIPES, with_recipe
from archspace.estimators.subset import balanced_subset, check_subset_size
from archspace.limits import MAX_BATCH, MAX_EPOCHS, MAX_RESOLUTION, MAX_SECONDS
from archspace.space import Arch, Space

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn

    from archspace.cost import Profile
    from archspace.datasets import Dataset
    from archspace.estimators.loop import FitResult

__all__ = ["TrainEstimator", "TrainedRun", "adapt_space", "choose_resolution", "deterministic_mode"]


def _positive(v: float) -> bool:
    return v > 0


def _known_dataset(name: str) -> bool:
    from archspace.datasets import DatasetError, check_name

    try:
        check_name(name)
    except DatasetError:
        return False
    return True


OPTIONS = (
    Option("dataset", "digits", str, "digits, mnist, fashion-mnist, cifar10, cifar100 or "
           "imagefolder:PATH (a folder, .tar, .tar.gz or .zip); see 'archspace datasets'",
           check=_known_dataset, requirement="digits, mnist, fashion-mnist, cifar10, cifar100 or "
           "imagefolder:PATH"),
    Option("root", None, str, "folder holding cifar10/cifar100/mnist files (default "
           "$ARCHSPACE_DATA or ~/.cache/archspace/data)"),
    Option("download", False, bool, "let torchvision download a missing dataset"),
    Option("val_split", "auto", str, "validation images: the dataset's own test/val split "
           "(test), a val_fraction share of its training images (train), or test when it has "
           "one (auto)", choices=("auto", "test", "train")),
    Option("val_fraction", 0.2, float, "share of each class held out for validation (when "
           "validating on training images)", check=lambda v: 0 < v < 1,
           requirement="a number in (0, 1)"),
    Option("image_size", None, int, "side that images of differing sizes are resized to "
           "(default: the median of their shorter sides)", check=_positive,
           requirement="an integer > 0", maximum=MAX_RESOLUTION),
    Option("epochs", 5.0, float, "training epochs (fractions allowed; none: max_seconds alone)",
           check=_positive, requirement="a number > 0", nullable=True, maximum=MAX_EPOCHS),
    Option("max_seconds", None, float, "wall-clock training budget; training stops at whichever "
           "of epochs and max_seconds comes first", check=_positive, requirement="a number > 0",
           maximum=MAX_SECONDS),
    Option("batch_size", 64, int, "training batch size", check=_positive,
           requirement="an integer > 0", maximum=MAX_BATCH),
    Option("optimizer", "sgd", str, "sgd (Nesterov momentum) or adam; cosine schedule either way",
           choices=("sgd", "adam")),
    Option("lr", None, float, "initial learning rate (default 0.05 for sgd, 0.001 for adam)",
           check=_positive, requirement="a number > 0"),
    Option("momentum", 0.9, float, "SGD momentum", check=lambda v: 0 <= v < 1,
           requirement="a number in [0, 1)"),
    Option("weight_decay", 5e-4, float, "L2 weight decay", check=lambda v: v >= 0,
           requirement="a number >= 0"),
    Option("resolution", None, int, "input side in pixels (default: the space's resolution "
           "parameter if set, else the dataset's, at least the "
           "space's minimum)", check=_positive, requirement="an integer > 0",
           maximum=MAX_RESOLUTION),
    Option("device", "auto", str, "auto (cuda when available), cpu, cuda, cuda:N or mps",
           check=lambda v: re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", v) is not None,
           requirement="auto, cpu, cuda, cuda:N or mps"),
    Option("recipe", None, str, "a named set of the options above: nb201 (NAS-Bench-201, 200 "
           "epochs) or nb201-12e (its 12-epoch setting); options given explicitly override it",
           choices=tuple(RECIPES)),
    Option("augment", "auto", str, "training augmentation: flip_crop (random flip, and crop "
           "from a resolution/8 padding), none, or auto (flip_crop for 3-channel images)",
           choices=("auto", "none", "flip_crop")),
    Option("train_samples", None, int, "train on a class-balanced subset of this many training "
           "images (fixed seed; default all)", check=_positive, requirement="an integer > 0"),
    Option("horizon", None, float, "epochs the cosine schedule spans (default: epochs); a "
           "multi-fidelity scheduler sets its max resource, so that training continued from a "
           "checkpoint equals training straight", check=_positive,
           requirement="a number > 0", maximum=MAX_EPOCHS),
    Option("keep", "best", str, "checkpoints a study keeps beside its file (STUDY.ckpt/N.pt), "
           "so that export need not re-train: best (the best trial's so far), all or none",
           choices=("best", "all", "none")),
)
#: Options that do not change what is trained (a checkpoint continues under other values).
NOT_TRAINING = frozenset({"epochs", "max_seconds", "keep", "device", "root", "download",
                          "recipe"})
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3}
COSTS = ("params", "macs", "peak_sram_bytes", "flash_bytes")


def adapt_space(space: Space, num_classes: int) -> Space:
    """``space`` with a classifier of ``num_classes`` outputs (re-instantiated with that
    parameter when it differs; an error if the space takes no ``num_classes``)."""
    if getattr(space, "num_classes", None) == num_classes:
        return space
    sig = inspect.signature(type(space).__init__)
    if "num_classes" not in sig.parameters:
        raise EstimatorError(f"space {space.label} has {space.num_classes} classes and no "
                             f"num_classes parameter; the dataset has {num_classes}; allowed: "
                             "a space whose classifier matches the dataset")
    fitted = type(space)(**{**space.params, "num_classes": num_classes})
    fitted.explicit_params = fitted.explicit_params | (space.explicit_params - {"num_classes"})
    return fitted


def choose_resolution(space: Space, data_resolution: int, requested: int | None) -> int:
    """The training resolution: ``requested`` (the estimator's option) if given, else the
    space's own ``resolution`` parameter where the user set one (``mcunet -p resolution=96``
    trains at 96), else the data's, raised to the space's minimum (and step). Checked by the
    space."""
    if requested is not None:
        return space.check_resolution(requested)
    if "resolution" in space.explicit_params:
        return space.check_resolution(space.default_resolution)
    r = max(data_resolution, space.min_resolution)
    step = max(space.resolution_step, 1)
    return space.check_resolution(-(-r // step) * step)


@contextlib.contextmanager
def deterministic_mode(device: str) -> Iterator[None]:
    """Deterministic kernels (warn-only) on the CPU, where they cost nothing; a no-op on GPUs,
    whose deterministic kernels can be slow and need ``CUBLAS_WORKSPACE_CONFIG``. Filling fresh
    tensors with NaN (a debugging aid that comes with deterministic mode) is switched off: it
    made training steps about 4% slower and every kernel used writes its whole output anyway."""
    import torch
    import torch.utils.deterministic as tud

    if not device.startswith("cpu"):
        yield
        return
    was, warn = torch.are_deterministic_algorithms_enabled(), \
        torch.is_deterministic_algorithms_warn_only_enabled()
    fill = tud.fill_uninitialized_memory  # type: ignore[attr-defined]
    torch.use_deterministic_algorithms(True, warn_only=True)
    tud.fill_uninitialized_memory = False  # type: ignore[attr-defined]
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was, warn_only=warn)
        tud.fill_uninitialized_memory = fill  # type: ignore[attr-defined]


class TrainEstimator(Estimator):
    """Validation accuracy (%) after training the arch for a small budget on real data."""

    #: The learning rate by optimizer when the ``lr`` option is not given.
    default_lr: ClassVar[Mapping[str, float]] = DEFAULT_LR

    name: ClassVar[str] = "train"
    summary: ClassVar[str] = ("train the network for a budget (epochs/seconds) on a real dataset; "
                              "validation accuracy (%)")
    paper: ClassVar[str] = "Zoph & Le 2017 (ICLR); recipe of Dong & Yang 2020, NAS-Bench-201 (ICLR)"
    options: ClassVar[tuple[Option, ...]] = OPTIONS
    metric = "val_accuracy"
    metrics: ClassVar[tuple[str, ...]] = ("val_loss", "train_loss", "sotl_e", "sotl",
                                          "train_seconds", "epochs", "steps", "resolution",
                                          "threads", *COSTS)

    resource: ClassVar[str | None] = "epochs"

    def __init__(self, **options: Any) -> None:
        recipe = next((o for o in self.options if o.name == "recipe"), None)
        if recipe is not None and "recipe" in options:
            options = with_recipe(recipe.convert(self.name, options["recipe"], "estimator",
                                                 EstimatorError), options)
        super().__init__(**options)
        c = self.config
        if c.get("epochs", 1) is None and c.get("max_seconds") is None:
            raise EstimatorError("estimator train needs a budget: epochs=N and/or max_seconds=S "
                                 "(epochs=none needs max_seconds)")
        horizon, epochs = c.get("horizon"), c.get("epochs")
        if horizon is not None and epochs is not None and epochs > horizon:
            raise EstimatorError(f"option epochs={epochs:g} is beyond horizon={horizon:g}, the "
                                 "epochs the schedule spans; allowed: epochs <= horizon")
        self._spaces: dict[int, tuple[Space, Space]] = {}
        self._dataset: Dataset | None = None
        self._subsets: dict[tuple[int, int], tuple[Dataset, Tensor, Tensor]] = {}

    @property
    def keep(self) -> str:
        """Which trials' checkpoints a study keeps (option ``keep``)."""
        return str(self.config.get("keep", "none"))  # subclasses without the option keep none

    def shared_inputs(self) -> dict[str, Any]:
        """The dataset at its native resolution (a Ray cluster's nodes then need no copy)."""
        return {"dataset": self._native()}

    def use_shared_inputs(self, inputs: dict[str, Any]) -> None:
        self._dataset = inputs.get("dataset", self._dataset)

    def __getstate__(self) -> dict[str, Any]:  # the dataset is shipped once as a shared input
        return {**self.__dict__, "_dataset": None, "_subsets": {}}

    @property
    def device(self) -> str:
        """The torch device training runs on."""
        dev = str(self.config["device"])
        if dev == "cpu":
            return dev
        import torch

        if dev == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if dev == "mps":
            if not torch.backends.mps.is_available():
                raise EstimatorError("option device='mps': MPS (Apple GPU) is not available here; "
                                     f"allowed: {self._devices_here()}")
            return dev
        if not torch.cuda.is_available():
            raise EstimatorError(f"option device={dev!r}: CUDA is not available here; "
                                 f"allowed: {self._devices_here()}")
        count = torch.cuda.device_count()
        if ":" in dev and int(dev.partition(":")[2]) >= count:
            raise EstimatorError(f"option device={dev!r}: this machine has {count} CUDA "
                                 f"device(s); allowed: {self._devices_here()}")
        return dev

    @staticmethod
    def _devices_here() -> str:
        import torch

        here = ["auto", "cpu"]
        if torch.cuda.is_available():
            n = torch.cuda.device_count()
            here += ["cuda", f"cuda:0 to cuda:{n - 1}" if n > 1 else "cuda:0"]
        if torch.backends.mps.is_available():
            here.append("mps")
        return ", ".join(here)

    def check_machine(self) -> None:
        """The ``device`` option must name a device this machine has."""
        _ = self.device

    def native_dataset(self) -> Dataset:
        """The dataset at its native resolution and channels (standardised, split)."""
        return self._native()

    def _native(self) -> Dataset:
        from archspace.datasets import native

        if self._dataset is not None:
            return self._dataset
        c = self.config
        return native(c["dataset"], c["root"], c["download"], c["val_fraction"],
                      c.get("val_split", "auto"), c.get("image_size"))  # subclasses may omit

    def _space(self, space: Space, num_classes: int) -> Space:
        hit = self._spaces.get(id(space))
        if hit is None or hit[0] is not space:
            hit = self._spaces[id(space)] = (space, adapt_space(space, num_classes))
        return hit[1]

    def check_space(self, space: Space) -> None:
        """The dataset must load and the space must end in a classifier that can be fitted to
        its classes and channels."""
        base = self._native()
        fitted = self._space(space, base.num_classes)
        r = choose_resolution(fitted, base.resolution, self.config["resolution"])
        out = fitted.lower(fitted.sample(0), r).output.shape
        if out != (base.num_classes,):
            raise EstimatorError(f"space {space.label} outputs shape {out}, not a vector of "
                                 f"{base.num_classes} class scores; allowed: classification spaces")
        if fitted.in_channels != base.in_channels and base.in_channels != 1:
            raise EstimatorError(f"space {space.label} takes {fitted.in_channels}-channel input; "
                                 f"dataset {self.config['dataset']!r} has {base.in_channels}")
        n = self.config.get("train_samples")
        if n is not None:
            check_subset_size(n, int(base.y_train.shape[0]), base.num_classes, base.name)

    def schedule(self, space: Space, arch: Arch, seed: int, resource: float | None,
                 warm_start: Any) -> tuple[Mapping[str, Any] | None, Any, Any]:
        """(the checked warm start or None, the epochs to train to, the schedule's horizon) of
        one trial; a resource beyond the horizon or below the warm start's epoch is refused."""
        c = self.config
        start = None if warm_start is None else self.check_checkpoint(space, arch, seed,
                                                                      warm_start)
        epochs = c["epochs"] if resource is None else _resource(resource)
        horizon = start["horizon"] if start is not None else (c.get("horizon") or epochs)
        if epochs is not None and horizon is not None and epochs > horizon:
            raise EstimatorError(f"resource {epochs:g} epochs is beyond the {horizon:g}-epoch "
                                 "schedule; allowed: at most the horizon (option horizon)")
        if start is not None and epochs is not None and epochs < start["epoch"]:
            raise EstimatorError(f"resource {epochs:g} epochs is below the {start['epoch']:g} "
                                 "the warm start was trained for; allowed: at least that")
        return start, epochs, horizon

    def start_training(self, graph: Any, seed: int, start: Mapping[str, Any] | None,
                       init: Any = None) -> Any:
        """(model, optimizer, batch generator, resume point) for training ``graph`` from
        ``seed``, continued from the warm start ``start`` when there is one; ``init(model)``
        adjusts the fresh weights before the optimizer is made. Call it inside
        :func:`deterministic_mode`."""
        import torch

        from archspace.estimators.loop import Resume, make_optimizer
        from archspace.nn import build_module

        c = self.config
        torch.manual_seed(seed)
        model = build_module(graph).to(self.device)
        if init is not None:
            init(model)
        lr = c["lr"] if c.get("lr") is not None else self.default_lr[c["optimizer"]]
        opt = make_optimizer(model, c["optimizer"], lr, c["weight_decay"], c["momentum"])
        gen = torch.Generator().manual_seed(seed)
        resume = None
        if start is not None:
            model.load_state_dict(start["model"])
            opt.load_state_dict(start["optimizer"])
            gen.set_state(start["generator"])
            resume = Resume(int(start["step"]), start.get("perm"), start.get("epoch_loss"),
                            int(start.get("epoch_steps") or 0), start.get("run_loss"))
        return model, opt, gen, resume

    def adapted(self, space: Space) -> tuple[Space, int]:
        """The network this estimator trains for ``space``: the space fitted to the dataset's
        classes, and the training resolution."""
        base = self._native()
        fitted = self._space(space, base.num_classes)
        return fitted, choose_resolution(fitted, base.resolution, self.config["resolution"])

    def cost(self, space: Space, arch: Arch, memory_model: str = "mcunet") -> Profile:
        """The cost of the trained network (the :meth:`adapted` space at the training
        resolution), not of the space as configured."""
        fitted, r = self.adapted(space)
        if memory_model == "mcunet":  # user spaces may override profile() without the keyword
            return fitted.profile(arch, r)
        return fitted.profile(arch, r, memory_model=memory_model)

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        return self.evaluate_at(space, arch, seed)

    def evaluate_at(self, space: Space, arch: Arch, seed: int = 0, resource: float | None = None,
                    *, warm_start: str | os.PathLike[str] | None = None,
                    checkpoint: str | os.PathLike[str] | None = None) -> dict[str, float]:
        """Train ``arch`` to ``resource`` epochs (default option ``epochs``), continuing from
        the ``warm_start`` checkpoint if given (see :meth:`train`), and write the trained state
        to ``checkpoint`` (:mod:`archspace.estimators.checkpoint`). The metrics count epochs
        and steps from the start of training; ``resumed_from`` is the warm start's epoch. A
        checkpoint that cannot be written (a full disk, a Ray worker without the study's
        folder) costs only a later re-training: a warning says so, the metrics still count."""
        run = self.train(space, arch, seed, resource, warm_start)
        if checkpoint is not None:
            try:
                save_checkpoint(checkpoint, run.checkpoint())
            except OSError as e:
                warnings.warn(f"archspace: checkpoint {checkpoint} not written: "
                              f"{e.strerror or e}", RuntimeWarning, stacklevel=2)
        return run.metrics

    def fit(self, space: Space, arch: Arch, seed: int = 0) -> tuple[nn.Module, dict[str, float]]:
        """Train ``arch`` (in the :meth:`adapted` space) with ``seed``: the trained module, in
        eval mode on the training device, and the metrics :meth:`evaluate` reports for it."""
        run = self.train(space, arch, seed)
        return run.model, run.metrics

    def training_options(self) -> dict[str, Any]:
        """The options that decide what is trained (all but budget, device and file
        locations): a checkpoint continues only under the same ones."""
        return {k: v for k, v in sorted(self.config.items()) if k not in NOT_TRAINING}

    def training_images(self, data: Dataset) -> tuple[Tensor, Tensor]:
        """The training images and labels of ``data`` this estimator trains on (the
        ``train_samples`` subset when set): what a differentiable strategy splits in two."""
        return self._train_split(data)

    def _train_split(self, data: Dataset) -> tuple[Tensor, Tensor]:
        n = self.config.get("train_samples")
        if n is None:
            return data.x_train, data.y_train
        hit = self._subsets.get((id(data), n))
        if hit is None or hit[0] is not data:
            check_subset_size(n, int(data.y_train.shape[0]), data.num_classes, data.name)
            idx = balanced_subset(data.y_train.cpu(), n).to(data.x_train.device)
            hit = (data, data.x_train.index_select(0, idx), data.y_train.index_select(0, idx))
            self._subsets = {(id(data), n): hit}
        return hit[1], hit[2]

    def train(self, space: Space, arch: Arch, seed: int = 0, resource: float | None = None,
              warm_start: str | os.PathLike[str] | Mapping[str, Any] | None = None) -> TrainedRun:
        """Train ``arch`` to ``resource`` epochs (default: option ``epochs``) and validate it.

        ``warm_start`` (a checkpoint's path, or its loaded contents) continues a run of the
        same arch, seed and :meth:`training_options` from the epoch it reached. The cosine
        schedule spans ``horizon`` epochs (default: the epochs trained), fixed when training
        starts: a continued run keeps its checkpoint's horizon and may go up to it, so with a
        horizon set training to e1 then continuing to e2 gives the run (and the metrics, on the
        CPU) that training to e2 at once gives. That is how multi-fidelity schedulers use it
        (Hyperband's rungs as prefixes of one max-resource run): the schedule is defined over
        the max resource, so a low rung is scored before its learning rate has annealed.
        """
        import torch

        from archspace.datasets import prepared
        from archspace.estimators.augment import augmentation
        from archspace.estimators.loop import evaluate_model, fit

        c = self.config
        device = self.device
        fitted, r = self.adapted(space)
        start, epochs, horizon = self.schedule(space, arch, seed, resource, warm_start)
        data = prepared(self._native(), r, fitted.in_channels, device)
        x, y = self._train_split(data)
        graph = fitted.lower(arch, r)
        with deterministic_mode(device):
            model, opt, gen, resume = self.start_training(graph, seed, start)
            augment = augmentation(c.get("augment", "none"), self._native().in_channels, r,
                                   data.mean, data.std)
            res = fit(model, x, y, opt, c["batch_size"], epochs, c["max_seconds"], gen,
                      horizon=horizon, resume=resume, augment=augment)
            acc, loss = evaluate_model(model, data.x_val, data.y_val)
        cost = self.cost(space, arch)
        metrics = {"val_accuracy": acc, "val_loss": loss, "train_loss": res.train_loss,
                   "sotl_e": res.train_loss, "sotl": res.sotl,
                   "train_seconds": res.seconds, "epochs": res.epochs,
                   "steps": float(res.steps), "resolution": float(r),
                   "train_samples": float(x.shape[0]),
                   "resumed_from": float(start["epoch"]) if start is not None else 0.0,
                   "threads": float(torch.get_num_threads()),
                   **{k: float(getattr(cost, k)) for k in COSTS}}
        info = {"arch": space.format_arch(arch), "arch_json": space.arch_to_json(arch),
                "space": space.label, "seed": seed, "options": self.training_options(),
                "horizon": horizon if horizon is not None else res.epochs}
        return TrainedRun(model, opt, gen, res, metrics, info)

    def check_checkpoint(self, space: Space, arch: Arch, seed: int,
                         source: str | os.PathLike[str] | Mapping[str, Any]) -> Mapping[str, Any]:
        """The checkpoint ``source`` (a path, or contents already loaded), checked to be of
        ``arch``, ``seed`` and this estimator's :meth:`training_options`; else
        :class:`EstimatorError` saying what differs."""
        ckpt = source if isinstance(source, Mapping) else load_checkpoint(source)
        where = "the warm start" if isinstance(source, Mapping) else f"checkpoint {source}"
        if ckpt.get("space") != space.label:
            raise EstimatorError(f"{where} is of space {ckpt.get('space')}, not {space.label}; "
                                 "allowed: a checkpoint of this space and arch")
        if ckpt.get("arch_json") != space.arch_to_json(arch):
            raise EstimatorError(f"{where} is of arch {ckpt.get('arch')}, not "
                                 f"{space.format_arch(arch)}; allowed: a checkpoint of this arch")
        if ckpt.get("seed") != seed:
            raise EstimatorError(f"{where} was trained with seed {ckpt.get('seed')}, not {seed}")
        mine = _comparable(self.training_options())
        theirs = _comparable(ckpt.get("options") or {})
        diff = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
        if diff:
            k = diff[0]
            raise EstimatorError(f"{where} was trained with {k}={theirs.get(k)!r}, this "
                                 f"estimator has {k}={mine.get(k)!r}; allowed: the same training "
                                 "options (only epochs, max_seconds, keep and device may differ)")
        return ckpt


def _comparable(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options as a checkpoint stores them (JSON-like, so 0.1 == 0.1 across a save)."""
    return {k: (float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v)
            for k, v in options.items() if k not in NOT_TRAINING}


def _resource(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 \
            or math.isinf(value):
        raise EstimatorError(f"resource {value!r} must be a finite number of epochs > 0")
    return float(value)


@dataclass(frozen=True, eq=False)
class TrainedRun:
    """A trained network with what continuing its training needs (:meth:`checkpoint`)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    result: FitResult
    metrics: dict[str, float]
    info: dict[str, Any]

    def checkpoint(self) -> dict[str, Any]:
        """The run as a checkpoint's contents (see :mod:`archspace.estimators.checkpoint`)."""
        return {**self.info, "epoch": self.result.epochs, "step": self.result.steps,
                "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                "optimizer": _to_cpu(self.optimizer.state_dict()),
                "generator": self.generator.get_state(), "perm": self.result.perm,
                "epoch_loss": self.result.epoch_loss, "epoch_steps": self.result.epoch_steps,
                "run_loss": self.result.run_loss,
                "metrics": dict(self.metrics)}


def _to_cpu(obj: Any) -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj
