"""The ``superres`` estimator: train a super-resolution network on LR/HR patches, score PSNR.

The proxy task of the SR NAS papers (Trilevel NAS, Wu et al., CVPR 2021; FALSR, Chu et al.,
ICPR 2020), shrunk to CPU minutes: the network maps LR patches to HR patches, trained with an L1
loss (EDSR's, Lim et al., CVPRW 2017) by Adam on a cosine schedule, pairs flipped and
transposed at random (EDSR's augmentation), for a budget of epochs and/or
seconds. It is scored on held-out patches by PSNR and SSIM on the Y channel with ``scale``
pixels shaved (:mod:`~archspace.estimators.sr_metrics`): ``psnr_y`` (searched), ``ssim_y``,
the bicubic baseline's ``bicubic_psnr_y`` / ``bicubic_ssim_y`` on the same patches, and
``psnr_gain``, the network's PSNR over bicubic's (what the architecture adds; bicubic itself
scores 0).

The data (:mod:`archspace.datasets.superres`): ``photos`` (bundled photographs, offline),
``div2k:PATH`` or ``srfolder:PATH``. The space must end in an SR head: its network maps a
``(3, r, r)`` LR image to its ``(3, r * s, r * s)`` HR image, ``s`` being the space's
``scale`` (``trilevel``); option ``scale`` re-instantiates the space with another one. The
network's input resolution is ``lr_patch``. Checkpoints, warm starts, multi-fidelity resources
(epochs) and export work as for ``train`` (:class:`~archspace.estimators.train.TrainEstimator`).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from archspace.estimators.base import EstimatorError
from archspace.estimators.options import Option
from archspace.estimators.train import NOT_TRAINING, TrainedRun, TrainEstimator, deterministic_mode
from archspace.limits import MAX_BATCH, MAX_EPOCHS, MAX_RESOLUTION, MAX_SECONDS
from archspace.space import Arch, Space

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn

    from archspace.cost import Profile
    from archspace.datasets.superres import SRData

__all__ = ["SuperResEstimator", "adapt_scale"]


def _positive(v: float) -> bool:
    return v > 0


def _known(name: str) -> bool:
    from archspace.datasets import DatasetError
    from archspace.datasets.superres import check_sr_name

    try:
        check_sr_name(name)
    except DatasetError:
        return False
    return True


_SOURCES = "photos, div2k:PATH or srfolder:PATH"
OPTIONS = (
    Option("dataset", "photos", str, "photos (bundled photographs, offline), div2k:PATH (the "
           "DIV2K layout) or srfolder:PATH (a folder of HR images)", check=_known,
           requirement=_SOURCES),
    Option("scale", None, int, "upscaling factor (default: the space's scale parameter)",
           check=lambda v: v in (2, 3, 4), requirement="2, 3 or 4"),
    Option("lr_patch", 16, int, "side of the LR patches in pixels (the network's input; the HR "
           "patch is lr_patch x scale)", check=lambda v: v >= 4, requirement="an integer >= 4",
           maximum=MAX_RESOLUTION),
    Option("train_patches", 512, int, "training patch pairs (seeded crops)", check=_positive,
           requirement="an integer > 0", maximum=1_000_000),
    Option("val_patches", 64, int, "validation patch pairs, from images or regions never "
           "trained on", check=_positive, requirement="an integer > 0", maximum=1_000_000),
    Option("val_fraction", 0.2, float, "share of the images validating, when the source has no "
           "split of its own", check=lambda v: 0 < v < 1, requirement="a number in (0, 1)"),
    Option("epochs", 5.0, float, "training epochs (fractions allowed; none: max_seconds alone)",
           check=_positive, requirement="a number > 0", nullable=True, maximum=MAX_EPOCHS),
    Option("max_seconds", None, float, "wall-clock training budget; training stops at whichever "
           "of epochs and max_seconds comes first", check=_positive, requirement="a number > 0",
           maximum=MAX_SECONDS),
    Option("batch_size", 16, int, "training batch size", check=_positive,
           requirement="an integer > 0", maximum=MAX_BATCH),
    Option("optimizer", "adam", str, "adam or sgd (Nesterov momentum); cosine schedule either "
           "way", choices=("adam", "sgd")),
    Option("lr", None, float, "initial learning rate (default 0.001 for adam, 0.01 for sgd)",
           check=_positive, requirement="a number > 0"),
    Option("momentum", 0.9, float, "SGD momentum", check=lambda v: 0 <= v < 1,
           requirement="a number in [0, 1)"),
    Option("weight_decay", 0.0, float, "L2 weight decay", check=lambda v: v >= 0,
           requirement="a number >= 0"),
    Option("device", "auto", str, "auto (cuda when available), cpu, cuda, cuda:N or mps",
           check=lambda v: v in ("auto", "cpu", "mps") or v == "cuda" or
           (v.startswith("cuda:") and v[5:].isdigit()),
           requirement="auto, cpu, cuda, cuda:N or mps"),
    Option("horizon", None, float, "epochs the cosine schedule spans (default: epochs); a "
           "multi-fidelity scheduler sets its max resource", check=_positive,
           requirement="a number > 0", maximum=MAX_EPOCHS),
    Option("keep", "best", str, "checkpoints a study keeps beside its file (STUDY.ckpt/N.pt): "
           "best, all or none", choices=("best", "all", "none")),
)
DEFAULT_LR = {"adam": 1e-3, "sgd": 1e-2}
COSTS = ("params", "macs", "peak_sram_bytes", "flash_bytes")
_HEAD_HINT = ("allowed: a space with a super-resolution head (trilevel), whose network maps a "
              "(3, r, r) LR image to the (3, r*s, r*s) HR image for its scale s")


def adapt_scale(space: Space, scale: int | None) -> Space:
    """``space`` with upscaling factor ``scale`` (re-instantiated when it differs; None: as
    is). An error for a space without a ``scale`` parameter: it has no SR head."""
    own = getattr(space, "scale", None)
    if not isinstance(own, int) or isinstance(own, bool):
        raise EstimatorError(f"space {space.label} has no super-resolution head (no scale); "
                             f"{_HEAD_HINT}")
    if scale is None or own == scale:
        return space
    if "scale" not in inspect.signature(type(space).__init__).parameters:
        raise EstimatorError(f"space {space.label} upscales by {own} and has no scale "
                             f"parameter; option scale={scale} needs one")
    fitted = type(space)(**{**space.params, "scale": scale})
    fitted.explicit_params = fitted.explicit_params | (space.explicit_params - {"scale"})
    return fitted


class SuperResEstimator(TrainEstimator):
    """Validation PSNR (dB, Y channel) after training the SR network for a small budget."""

    default_lr: ClassVar[Mapping[str, float]] = DEFAULT_LR

    name: ClassVar[str] = "superres"
    summary: ClassVar[str] = ("train a super-resolution network (L1) on LR/HR patches; PSNR and "
                              "SSIM on the Y channel, and the gain over bicubic")
    paper: ClassVar[str] = ("Wu et al. 2021, Trilevel NAS (CVPR); loss of Lim et al. 2017, EDSR "
                            "(CVPRW)")
    options: ClassVar[tuple[Option, ...]] = OPTIONS
    metric = "psnr_y"
    metrics: ClassVar[tuple[str, ...]] = (
        "ssim_y", "psnr_gain", "bicubic_psnr_y", "bicubic_ssim_y", "val_l1", "train_loss",
        "train_seconds", "epochs", "steps", "resolution", "scale", "threads", *COSTS)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._data: dict[int, SRData] = {}
        self._baseline: dict[int, tuple[float, float]] = {}
        self._fitted: dict[int, tuple[Space, Space]] = {}

    def __getstate__(self) -> dict[str, Any]:  # workers load (cached) patches themselves
        return {**super().__getstate__(), "_data": {}, "_baseline": {}, "_fitted": {}}

    def shared_inputs(self) -> dict[str, Any]:
        """None: the patches are small and cached on disk."""
        return {}

    # -- data and network ------------------------------------------------------------------
    def patches(self, scale: int) -> SRData:
        """The LR/HR patch pairs at ``scale`` (loaded once)."""
        from archspace.datasets.superres import load_superres

        hit = self._data.get(scale)
        if hit is None:
            c = self.config
            hit = self._data[scale] = load_superres(
                c["dataset"], scale, c["lr_patch"], c["train_patches"], c["val_patches"],
                c["val_fraction"])
        return hit

    def native_dataset(self) -> SRData:  # type: ignore[override]
        """The patches at the scale last trained (option ``scale``, else 2, before any)."""
        scale = self.config["scale"] or next(iter(self._data), 2)
        return self.patches(int(scale))

    def input_note(self, resolution: int) -> str:
        """What an exported network takes and gives (for ``arch.json``)."""
        return (f"LR RGB images with pixels in [0, 1] (no standardisation), e.g. "
                f"{resolution}x{resolution} patches of dataset {self.config['dataset']!r}; the "
                "output is the HR image in [0, 1] (clamp and quantise it to 8 bits)")

    def _fit_space(self, space: Space) -> Space:
        hit = self._fitted.get(id(space))
        if hit is None or hit[0] is not space:
            hit = self._fitted[id(space)] = (space, adapt_scale(space, self.config["scale"]))
        return hit[1]

    def adapted(self, space: Space) -> tuple[Space, int]:
        """The space at the estimator's scale, and the LR input resolution (``lr_patch``)."""
        fitted = self._fit_space(space)
        return fitted, fitted.check_resolution(int(self.config["lr_patch"]))

    def check_space(self, space: Space) -> None:
        """The space must end in an SR head of its scale, the patches must hold an SSIM window
        after shaving, and the data must load."""
        from archspace.estimators.sr_metrics import min_hr_side

        fitted, r = self.adapted(space)
        s = int(fitted.scale)  # type: ignore[attr-defined]
        want = (3, r * s, r * s)
        out = fitted.lower(fitted.sample(0), r).output.shape
        if fitted.in_channels != 3 or out != want:
            raise EstimatorError(f"space {space.label} maps a ({fitted.in_channels}, {r}, {r}) "
                                 f"input to {out}, not to the {want} HR image; {_HEAD_HINT}")
        if r * s < min_hr_side(s):
            least = -(-min_hr_side(s) // s)
            raise EstimatorError(f"option lr_patch={r} gives {r * s}-pixel HR patches at x{s}: "
                                 f"too small for SSIM's 11-pixel window once {s} border pixels "
                                 f"are shaved; allowed: lr_patch >= {least}")
        self.patches(s)

    def cost(self, space: Space, arch: Arch, memory_model: str = "mcunet") -> Profile:
        fitted, r = self.adapted(space)
        if memory_model == "mcunet":
            return fitted.profile(arch, r)
        return fitted.profile(arch, r, memory_model=memory_model)

    def training_options(self) -> dict[str, Any]:
        return {k: v for k, v in sorted(self.config.items()) if k not in NOT_TRAINING}

    def bicubic_scores(self, scale: int) -> tuple[float, float]:
        """(PSNR, SSIM) of bicubic upsampling on the validation patches at ``scale``."""
        from archspace.estimators.sr_metrics import bicubic, sr_scores

        hit = self._baseline.get(scale)
        if hit is None:
            data = self.patches(scale)
            hit = self._baseline[scale] = sr_scores(bicubic(data.lr_val, scale), data.hr_val,
                                                    scale)
        return hit

    # -- training --------------------------------------------------------------------------
    def train(self, space: Space, arch: Arch, seed: int = 0, resource: float | None = None,
              warm_start: str | os.PathLike[str] | Mapping[str, Any] | None = None) -> TrainedRun:
        """Train ``arch`` to ``resource`` epochs (default: option ``epochs``) with an L1 loss and
        score it (see the module doc); ``warm_start`` continues a run as
        :meth:`TrainEstimator.train` does."""
        import torch
        import torch.nn.functional as F

        from archspace.estimators.loop import fit

        c = self.config
        device = self.device
        fitted, r = self.adapted(space)
        s = int(fitted.scale)  # type: ignore[attr-defined]
        start, epochs, horizon = self.schedule(space, arch, seed, resource, warm_start)
        data = self.patches(s)
        x, y = data.lr_train.to(device), data.hr_train.to(device)
        graph = fitted.lower(arch, r)
        with deterministic_mode(device):
            model, opt, gen, resume = self.start_training(graph, seed, start)
            res = fit(model, x, y, opt, c["batch_size"], epochs, c["max_seconds"], gen,
                      horizon=horizon, resume=resume, loss_fn=F.l1_loss,
                      augment_pair=flip_pairs)
            sr = super_resolve(model, data.lr_val.to(device)).cpu()
        psnr, ssim = self.scores(sr, data.hr_val, s)
        b_psnr, b_ssim = self.bicubic_scores(s)
        cost = self.cost(space, arch)
        metrics = {"psnr_y": psnr, "ssim_y": ssim, "psnr_gain": psnr - b_psnr,
                   "bicubic_psnr_y": b_psnr, "bicubic_ssim_y": b_ssim,
                   "val_l1": float(F.l1_loss(sr, data.hr_val)), "train_loss": res.train_loss,
                   "train_seconds": res.seconds, "epochs": res.epochs, "steps": float(res.steps),
                   "resolution": float(r), "scale": float(s),
                   "train_samples": float(x.shape[0]),
                   "resumed_from": float(start["epoch"]) if start is not None else 0.0,
                   "threads": float(torch.get_num_threads()),
                   **{k: float(getattr(cost, k)) for k in COSTS}}
        info = {"arch": space.format_arch(arch), "arch_json": space.arch_to_json(arch),
                "space": space.label, "seed": seed, "options": self.training_options(),
                "horizon": horizon if horizon is not None else res.epochs}
        return TrainedRun(model, opt, gen, res, metrics, info)

    @staticmethod
    def scores(sr: Tensor, hr: Tensor, scale: int) -> tuple[float, float]:
        """(PSNR, SSIM) of ``sr`` against ``hr`` (an error for non-finite outputs)."""
        import torch

        from archspace.estimators.base import TrainingDiverged
        from archspace.estimators.sr_metrics import sr_scores

        if not bool(torch.isfinite(sr).all()):
            raise TrainingDiverged("the trained network outputs non-finite values; allowed: a "
                                   "lower lr, or another arch")
        return sr_scores(sr, hr, scale)


def flip_pairs(lr: Tensor, hr: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """The SR literature's training augmentation (EDSR): each LR/HR pair flipped horizontally,
    vertically and transposed, each with probability 1/2, the same way for both."""
    import torch

    n = int(lr.shape[0])
    for dims in ((3,), (2,)):
        flip = torch.rand(n, generator=generator) < 0.5
        if bool(flip.any()):
            idx = flip.nonzero().squeeze(1).to(lr.device)
            lr = lr.index_copy(0, idx, lr.index_select(0, idx).flip(dims))
            hr = hr.index_copy(0, idx, hr.index_select(0, idx).flip(dims))
    swap = torch.rand(n, generator=generator) < 0.5
    if bool(swap.any()):
        idx = swap.nonzero().squeeze(1).to(lr.device)
        lr = lr.index_copy(0, idx, lr.index_select(0, idx).transpose(2, 3))
        hr = hr.index_copy(0, idx, hr.index_select(0, idx).transpose(2, 3))
    return lr, hr


def super_resolve(model: nn.Module, lr: Tensor, batch_size: int = 64) -> Tensor:
    """``model`` (in eval mode) applied to the LR images ``lr``, in batches."""
    import torch

    model.eval()
    with torch.inference_mode():
        return torch.cat([model(lr[i:i + batch_size]) for i in range(0, int(lr.shape[0]),
                                                                        batch_size)])
