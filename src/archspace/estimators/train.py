"""The ``train`` estimator: build the network, train it briefly on real data, score it.

Short training as a proxy for final accuracy is the oldest NAS estimator (Zoph & Le, ICLR 2017;
its low-budget variant is studied in Zela et al., "Towards Automated Deep Learning: Efficient
Joint Neural Architecture and Hyperparameter Search", ICML AutoML workshop 2018). The recipe
defaults to NAS-Bench-201's (Dong & Yang, ICLR 2020): SGD with Nesterov momentum 0.9, weight
decay 5e-4 and a cosine schedule to zero; no data augmentation.

How the network is fitted to the data:

* **classes**: the classifier gets the dataset's number of classes. A catalog space taking a
  ``num_classes`` parameter is re-instantiated with it (other parameters kept; an arch of a
  restricted sub-space is a point of the full space, so it still validates).
* **channels**: grayscale data is repeated to the space's ``in_channels`` (e.g. digits/MNIST
  into an RGB network); colour data into a grayscale network is an error.
* **resolution**: default is the dataset's native size, raised to the space's
  ``min_resolution`` (and its step) when smaller; images are resized with bilinear
  interpolation (antialiased when shrinking).

Determinism: given a seed, the weights (``torch.manual_seed``), the batch order (a seeded
generator), and, on the CPU, the kernels (``torch.use_deterministic_algorithms``) are fixed, so
the same seed gives identical metrics as long as ``epochs`` ends training; a ``max_seconds``
budget that cuts it short depends on the machine's speed.
"""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from archspace.estimators.base import Estimator, EstimatorError
from archspace.estimators.options import Option
from archspace.space import Arch, Space

if TYPE_CHECKING:
    from torch import nn

    from archspace.cost import Profile
    from archspace.datasets import Dataset

__all__ = ["TrainEstimator", "adapt_space", "choose_resolution", "deterministic_mode"]


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
           requirement="an integer > 0"),
    Option("epochs", 5.0, float, "training epochs (fractions allowed; none: max_seconds alone)",
           check=_positive, requirement="a number > 0", nullable=True),
    Option("max_seconds", None, float, "wall-clock training budget; training stops at whichever "
           "of epochs and max_seconds comes first", check=_positive, requirement="a number > 0"),
    Option("batch_size", 64, int, "training batch size", check=_positive,
           requirement="an integer > 0"),
    Option("optimizer", "sgd", str, "sgd (Nesterov momentum) or adam; cosine schedule either way",
           choices=("sgd", "adam")),
    Option("lr", None, float, "initial learning rate (default 0.05 for sgd, 0.001 for adam)",
           check=_positive, requirement="a number > 0"),
    Option("momentum", 0.9, float, "SGD momentum", check=lambda v: 0 <= v < 1,
           requirement="a number in [0, 1)"),
    Option("weight_decay", 5e-4, float, "L2 weight decay", check=lambda v: v >= 0,
           requirement="a number >= 0"),
    Option("resolution", None, int, "input side in pixels (default: the dataset's, at least the "
           "space's minimum)", check=_positive, requirement="an integer > 0"),
    Option("device", "auto", str, "auto (cuda when available), cpu, cuda, cuda:N or mps",
           check=lambda v: re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", v) is not None,
           requirement="auto, cpu, cuda, cuda:N or mps"),
)
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
    return type(space)(**{**space.params, "num_classes": num_classes})


def choose_resolution(space: Space, data_resolution: int, requested: int | None) -> int:
    """The training resolution: ``requested`` if given, else the data's, raised to the space's
    minimum (and step). Checked by the space."""
    if requested is not None:
        return space.check_resolution(requested)
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

    name: ClassVar[str] = "train"
    summary: ClassVar[str] = ("train the network for a budget (epochs/seconds) on a real dataset; "
                              "validation accuracy (%)")
    paper: ClassVar[str] = "Zoph & Le 2017 (ICLR); recipe of Dong & Yang 2020, NAS-Bench-201 (ICLR)"
    options: ClassVar[tuple[Option, ...]] = OPTIONS
    metric = "val_accuracy"
    metrics: ClassVar[tuple[str, ...]] = ("val_loss", "train_loss", "train_seconds", "epochs",
                                          "steps", "resolution", "threads", *COSTS)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.config.get("epochs", 1) is None and self.config.get("max_seconds") is None:
            raise EstimatorError("estimator train needs a budget: epochs=N and/or max_seconds=S "
                                 "(epochs=none needs max_seconds)")
        self._spaces: dict[int, tuple[Space, Space]] = {}
        self._dataset: Dataset | None = None

    def shared_inputs(self) -> dict[str, Any]:
        """The dataset at its native resolution (a Ray cluster's nodes then need no copy)."""
        return {"dataset": self._native()}

    def use_shared_inputs(self, inputs: dict[str, Any]) -> None:
        self._dataset = inputs.get("dataset", self._dataset)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_dataset": None}  # shipped once as a shared input instead

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

    def adapted(self, space: Space) -> tuple[Space, int]:
        """The network this estimator trains for ``space``: the space fitted to the dataset's
        classes, and the training resolution."""
        base = self._native()
        fitted = self._space(space, base.num_classes)
        return fitted, choose_resolution(fitted, base.resolution, self.config["resolution"])

    def cost(self, space: Space, arch: Arch) -> Profile:
        """The cost of the trained network (the :meth:`adapted` space at the training
        resolution), not of the space as configured."""
        fitted, r = self.adapted(space)
        return fitted.profile(arch, r)

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        return self.fit(space, arch, seed)[1]

    def fit(self, space: Space, arch: Arch, seed: int = 0) -> tuple[nn.Module, dict[str, float]]:
        """Train ``arch`` (in the :meth:`adapted` space) with ``seed``: the trained module, in
        eval mode on the training device, and the metrics :meth:`evaluate` reports for it."""
        import torch

        from archspace.datasets import prepared
        from archspace.estimators.loop import evaluate_model, fit, make_optimizer
        from archspace.nn import build_module

        c = self.config
        device = self.device
        fitted, r = self.adapted(space)
        data = prepared(self._native(), r, fitted.in_channels, device)
        graph = fitted.lower(arch, r)
        with deterministic_mode(device):
            torch.manual_seed(seed)
            model = build_module(graph).to(device)
            lr = c["lr"] if c["lr"] is not None else DEFAULT_LR[c["optimizer"]]
            opt = make_optimizer(model, c["optimizer"], lr, c["weight_decay"], c["momentum"])
            gen = torch.Generator().manual_seed(seed)
            res = fit(model, data.x_train, data.y_train, opt, c["batch_size"], c["epochs"],
                      c["max_seconds"], gen)
            acc, loss = evaluate_model(model, data.x_val, data.y_val)
        cost = self.cost(space, arch)
        return model, {"val_accuracy": acc, "val_loss": loss, "train_loss": res.train_loss,
                       "train_seconds": res.seconds, "epochs": res.epochs,
                       "steps": float(res.steps), "resolution": float(r),
                       "threads": float(torch.get_num_threads()),
                       **{k: float(getattr(cost, k)) for k in COSTS}}
