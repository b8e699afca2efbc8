"""The ``oneshot`` estimator: an arch's accuracy with weights inherited from a trained supernet.

One-shot NAS (Bender et al., "Understanding and Simplifying One-Shot Architecture Search",
ICML 2018; SPOS, Guo et al. ECCV 2020) trains one weight-sharing supernet
(``archspace supernet train``, :mod:`archspace.supernet`) and then ranks archs by the
validation accuracy of the sub-network holding the supernet's weights, with no training of its
own. The shared batch-norm statistics belong to no single arch, so, as SPOS does, each arch's
statistics are first recalibrated on ``bn_batches`` training batches (the same fixed images for
every arch, so a score does not depend on the order archs are scored in).

The data, classes and resolution are the supernet file's (its training options); the study's
space and parameters must be those the supernet was trained for. ``archspace export`` of a
study scored this way writes the arch with its inherited weights (:meth:`inherited`),
optionally fine-tuned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from archspace.estimators.base import EstimatorError
from archspace.estimators.options import Option
from archspace.estimators.train import COSTS, OPTIONS, TrainEstimator
from archspace.space import Arch, Space

if TYPE_CHECKING:
    from torch import Tensor, nn

    from archspace.datasets import Dataset
    from archspace.supernet import Supernet
    from archspace.supernet.fewshot import FewShotSupernet

__all__ = ["OneshotEstimator"]

_SHARED = {o.name: o for o in OPTIONS}


def _given(v: str | None) -> bool:
    return bool(v)


class OneshotEstimator(TrainEstimator):
    """Validation accuracy (%) with weights inherited from a trained supernet."""

    name: ClassVar[str] = "oneshot"
    summary: ClassVar[str] = ("score with weights inherited from a trained supernet "
                              "(archspace supernet train), batch norm recalibrated; "
                              "validation accuracy (%)")
    paper: ClassVar[str] = "Bender et al. 2018 (ICML); SPOS, Guo et al. 2020 (ECCV)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("supernet", None, str, "the supernet file (archspace supernet train -o FILE); "
               "required", check=_given, requirement="a file name"),
        Option("bn_batches", 4, int, "training batches each arch's batch-norm statistics are "
               "recalibrated on", check=lambda v: v > 0, requirement="an integer > 0",
               maximum=10_000),
        Option("val_samples", None, int, "score on this many validation images (a fixed "
               "subset; default all)", check=lambda v: v > 0, requirement="an integer > 0"),
        _SHARED["device"], _SHARED["root"], _SHARED["download"],
    )
    metric = "val_accuracy"
    metrics: ClassVar[tuple[str, ...]] = ("val_loss", "resolution", *COSTS)
    resource: ClassVar[str | None] = None

    def __init__(self, **options: Any) -> None:
        from archspace.estimators.base import Estimator
        from archspace.supernet.checkpoint import read_supernet_file

        Estimator.__init__(self, **options)
        own = dict(self.config)
        if own["supernet"] is None:
            raise EstimatorError("estimator oneshot needs the supernet file: -e supernet=FILE "
                                 "(written by 'archspace supernet train -o FILE')")
        data = read_supernet_file(own["supernet"])
        if "few_shot" in data:
            from archspace.supernet.fewshot import check_few_shot_file

            check_few_shot_file(data, f"supernet file {own['supernet']}")
        trained = {o.name: o.default for o in OPTIONS}
        trained.update(dict(data.get("options") or {}))
        trained["resolution"] = int(data["resolution"])
        self.config = {**trained, **own}
        self._file = {k: v for k, v in data.items() if k != "optimizer"}
        self._spaces = {}
        self._dataset = None
        self._subsets = {}
        self._net: tuple[Space, Supernet | FewShotSupernet] | None = None
        self._calib: tuple[Dataset, Tensor, Tensor, Tensor] | None = None

    def __getstate__(self) -> dict[str, Any]:  # workers load the file again
        return {**super().__getstate__(), "_net": None, "_calib": None}

    @property
    def keep(self) -> str:
        return "none"

    def check_space(self, space: Space) -> None:
        """The supernet must be of ``space`` (same parameters) and its dataset must load."""
        from archspace.supernet.checkpoint import check_space

        check_space(self._file, space, f"supernet file {self.config['supernet']}")
        super().check_space(space)

    def adapted(self, space: Space) -> tuple[Space, int]:
        """The supernet's space (fitted to its classes) and resolution."""
        fitted = self._space(space, int(self._file["num_classes"]))
        return fitted, int(self._file["resolution"])

    def supernet(self, space: Space) -> Supernet | FewShotSupernet:
        """The trained supernet of ``space`` on the estimator's device (loaded once; a
        few-shot file gives the sub-supernets, each arch scored by the one holding it)."""
        from archspace.supernet.checkpoint import load_supernet

        if self._net is None or self._net[0] is not space:
            sn = load_supernet(self._file, space).to(self.device)
            self._net = (space, sn)
        return self._net[1]

    def _data(self, fitted: Space, r: int) -> tuple[Tensor, Tensor, Tensor]:
        """(calibration images, validation images, labels) on the device (made once)."""
        import torch

        from archspace.datasets import prepared
        from archspace.supernet.train import _calibration_images

        base = self._native()
        data = prepared(base, r, fitted.in_channels, self.device)
        if self._calib is None or self._calib[0] is not data:
            x, _ = self._train_split(data)
            bs = min(int(self.config["batch_size"]), int(x.shape[0]))
            calib = _calibration_images(x, int(self.config["bn_batches"]) * bs, 0)
            xv, yv = data.x_val, data.y_val
            n = self.config.get("val_samples")
            if n is not None and n < int(xv.shape[0]):
                gen = torch.Generator().manual_seed(0)
                idx = torch.randperm(int(xv.shape[0]), generator=gen)[:n].to(xv.device)
                xv, yv = xv.index_select(0, idx), yv.index_select(0, idx)
            self._calib = (data, calib, xv, yv)
        return self._calib[1], self._calib[2], self._calib[3]

    def _score(self, space: Space, arch: Arch) -> tuple[Supernet | FewShotSupernet, float, float]:
        import torch

        from archspace.supernet.train import evaluate_path

        fitted, r = self.adapted(space)
        sn = self.supernet(space)
        calib, xv, yv = self._data(fitted, r)
        with torch.no_grad():
            acc, loss = evaluate_path(sn, fitted.validate(arch), calib, xv, yv,
                                      int(self.config["bn_batches"]),
                                      int(self.config["batch_size"]))
        return sn, acc, loss

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        _, acc, loss = self._score(space, arch)
        _, r = self.adapted(space)
        cost = self.cost(space, arch)
        return {"val_accuracy": acc, "val_loss": loss, "resolution": float(r),
                **{k: float(getattr(cost, k)) for k in COSTS}}

    def evaluate_at(self, space: Space, arch: Arch, seed: int = 0, resource: float | None = None,
                    **kwargs: Any) -> dict[str, float]:
        if resource is None and not any(v is not None for v in kwargs.values()):
            return self.evaluate(space, arch, seed)
        raise EstimatorError("estimator oneshot has no resource and keeps no checkpoints; "
                             "allowed: a plain study (no --scheduler)")

    def inherited(self, space: Space, arch: Arch, seed: int = 0,
                  finetune_epochs: float = 0.0) -> tuple[nn.Module, dict[str, float], str]:
        """The stand-alone network of ``arch`` holding the supernet's weights (batch norm
        recalibrated), fine-tuned for ``finetune_epochs`` with the supernet's recipe at a tenth
        of its learning rate when asked; its metrics and a note saying where the weights come
        from."""
        import torch

        from archspace.estimators.augment import augmentation
        from archspace.estimators.loop import evaluate_model, fit, make_optimizer
        from archspace.estimators.train import DEFAULT_LR, deterministic_mode

        sn, acc, loss = self._score(space, arch)
        model = sn.extract(arch).eval()
        note = f"inherited from the supernet {self.config['supernet']} (batch norm recalibrated)"
        metrics = {"val_accuracy": acc, "val_loss": loss}
        if finetune_epochs > 0:
            c = self.config
            fitted, r = self.adapted(space)
            base = self._native()
            from archspace.datasets import prepared

            data = prepared(base, r, fitted.in_channels, self.device)
            x, y = self._train_split(data)
            lr = 0.1 * (c["lr"] if c.get("lr") is not None else DEFAULT_LR[c["optimizer"]])
            with deterministic_mode(self.device):
                torch.manual_seed(seed)
                opt = make_optimizer(model, c["optimizer"], lr, c["weight_decay"], c["momentum"])
                gen = torch.Generator().manual_seed(seed)
                aug = augmentation(c.get("augment", "none"), base.in_channels, r, data.mean,
                                   data.std)
                res = fit(model, x, y, opt, int(c["batch_size"]), float(finetune_epochs), None,
                          gen, augment=aug)
                acc, loss = evaluate_model(model, data.x_val, data.y_val)
            metrics = {"val_accuracy": acc, "val_loss": loss, "train_loss": res.train_loss,
                       "finetune_epochs": float(finetune_epochs)}
            note += f", fine-tuned {finetune_epochs:g} epochs at lr {lr:g}"
        return model.cpu().eval(), metrics, note
