"""Zero-cost proxies as estimators: score an untrained network from one batch, in milliseconds.

One estimator per proxy (its name is also its metric), each citing its paper:

* ``synflow``: Tanaka et al., NeurIPS 2020; as a NAS proxy Abdelfattah et al., "Zero-Cost
  Proxies for Lightweight NAS", ICLR 2021. Data-free; the metric is the score's natural log.
* ``naswot``: Mellor et al., "Neural Architecture Search without Training", ICML 2021.
* ``snip``: Lee et al., "SNIP: Single-shot Network Pruning based on Connection Sensitivity",
  ICLR 2019; as a NAS proxy Abdelfattah et al. 2021.
* ``grad_norm``: the gradient-norm baseline of Abdelfattah et al. 2021.
* ``fisher``: Turner et al., "BlockSwap: Fisher-guided Block Substitution for Network
  Compression on a Budget", ICLR 2020; as a NAS proxy Abdelfattah et al. 2021.
* ``jacov``: Mellor et al., "Neural Architecture Search without Training", arXiv 2006.04647v1
  (2020), as computed by Abdelfattah et al. 2021.
* ``params`` and ``macs``: the size baselines every zero-cost study compares with (Abdelfattah
  et al. 2021, Table 1), from the analytic cost model: no torch, no data.

The definitions are in :mod:`archspace.estimators.proxy_scores`. The data-dependent proxies
score one batch of ``batch_size`` training images of any dataset the ``train`` estimator reads
(``dataset=...``, default the bundled digits), drawn with the seed; the network is fitted to the
dataset as ``train`` does (classes, channels, resolution; :mod:`archspace.estimators.train`),
its weights initialised with the same seed, batch norm in training mode. Given a seed (the
study's, or the ``seed`` option) the metrics are identical from run to run on the CPU.
:mod:`archspace.estimators.zero_cost_suite` combines several proxies in one estimator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from archspace.estimators.base import Estimator
from archspace.estimators.options import Option
from archspace.estimators.proxy_scores import naswot_score, synflow_score
from archspace.estimators.train import OPTIONS as TRAIN_OPTIONS
from archspace.estimators.train import TrainEstimator, deterministic_mode
from archspace.limits import MAX_BATCH, MAX_SEED
from archspace.space import Arch, Space

if TYPE_CHECKING:
    from torch import Tensor, nn

__all__ = ["ABDELFATTAH", "PROXIES", "FisherEstimator", "GradNormEstimator", "JacovEstimator",
           "MACsEstimator", "NASWOTEstimator", "ParamsEstimator", "Proxy", "SnipEstimator",
           "SynFlowEstimator", "ZeroCostBase", "list_proxies", "naswot_score", "proxies",
           "synflow_score"]

_SHARED = ("dataset", "root", "download", "val_fraction", "resolution", "device")
SHARED_OPTIONS = tuple(o for o in TRAIN_OPTIONS if o.name in _SHARED)
BATCH_OPTIONS = (
    Option("batch_size", 64, int, "images in the scoring batch", minimum=2, maximum=MAX_BATCH),
    Option("seed", None, int, "seed of the batch and the initial weights (default: the "
           "study's)", minimum=0, maximum=MAX_SEED),
)
COSTS = ("params", "macs", "peak_sram_bytes", "flash_bytes")


@dataclass(frozen=True)
class Proxy:
    """One zero-cost proxy: what it needs and the function computing it (None: the cost model's
    ``params`` or ``macs``)."""

    name: str
    paper: str
    needs: str
    score: Callable[[nn.Module, Tensor, Tensor], float] | None = None

    @property
    def uses_torch(self) -> bool:
        """Whether the proxy needs the torch network (all but the cost-model baselines)."""
        return self.score is not None


def _scores() -> dict[str, Callable[[nn.Module, Tensor, Tensor], float]]:
    from archspace.estimators import proxy_scores as ps

    return {"synflow": lambda m, x, y: ps.synflow_score(m, tuple(x.shape[1:])),
            "naswot": lambda m, x, y: ps.naswot_score(m, x),
            "snip": ps.snip_score, "grad_norm": ps.grad_norm_score, "fisher": ps.fisher_score,
            "jacov": lambda m, x, y: ps.jacov_score(m, x)}


ABDELFATTAH = "Abdelfattah et al. 2021, Zero-Cost Proxies for Lightweight NAS (ICLR)"
_PAPERS = {
    "synflow": f"Tanaka et al. 2020 (NeurIPS); as a NAS proxy {ABDELFATTAH}",
    "naswot": "Mellor et al. 2021, Neural Architecture Search without Training (ICML)",
    "snip": f"Lee et al. 2019, SNIP (ICLR); as a NAS proxy {ABDELFATTAH}",
    "grad_norm": ABDELFATTAH,
    "fisher": f"Turner et al. 2020, BlockSwap (ICLR); as a NAS proxy {ABDELFATTAH}",
    "jacov": f"Mellor et al. 2020, arXiv 2006.04647v1; as computed by {ABDELFATTAH}",
    "params": f"baseline of {ABDELFATTAH}",
    "macs": f"baseline of {ABDELFATTAH}",
}


_NEEDS = {"synflow": "network (no data)", "params": "cost model", "macs": "cost model"}


def proxies() -> dict[str, Proxy]:
    """Every proxy by name, in listing order (the torch functions are bound lazily)."""
    scores = _scores()
    return {n: Proxy(n, p, _NEEDS.get(n, "network and one batch"), scores.get(n))
            for n, p in _PAPERS.items()}


def list_proxies() -> list[dict[str, str]]:
    """Every proxy as JSON-ready data: name, what it needs and its paper."""
    return [{"name": n, "needs": _NEEDS.get(n, "network and one batch"), "paper": p}
            for n, p in _PAPERS.items()]


#: The proxy names, in listing order.
PROXIES: tuple[str, ...] = tuple(_PAPERS)


class ZeroCostBase(TrainEstimator):
    """Shared set-up of the proxy estimators: the fitted network, a seeded batch, the costs."""

    options: ClassVar[tuple[Option, ...]] = SHARED_OPTIONS + BATCH_OPTIONS
    metrics: ClassVar[tuple[str, ...]] = (*COSTS, "resolution")
    #: A proxy trains nothing: no resource to schedule, no checkpoint to keep.
    resource: ClassVar[str | None] = None
    evaluate_at = Estimator.evaluate_at

    @property
    def keep(self) -> str:
        """Always ``none``: there are no trained weights."""
        return "none"

    def _seed(self, seed: int) -> int:
        return seed if self.config.get("seed") is None else int(self.config["seed"])

    def costs(self, space: Space, arch: Arch) -> dict[str, float]:
        """The cost model's numbers for the scored network, and its resolution."""
        fitted, r = self.adapted(space)
        cost = fitted.profile(arch, r)
        return {**{k: float(getattr(cost, k)) for k in COSTS}, "resolution": float(r)}

    def batch(self, space: Space, seed: int) -> tuple[Tensor, Tensor]:
        """``batch_size`` training images and their labels, drawn with ``seed``."""
        import torch

        from archspace.datasets import prepared

        fitted, r = self.adapted(space)
        data = prepared(self._native(), r, fitted.in_channels, self.device)
        n = int(data.x_train.shape[0])
        gen = torch.Generator().manual_seed(seed)
        idx = torch.randperm(n, generator=gen)[:min(int(self.config["batch_size"]), n)]
        idx = idx.to(data.x_train.device)
        return data.x_train.index_select(0, idx), data.y_train.index_select(0, idx)

    def proxy_values(self, space: Space, arch: Arch, names: tuple[str, ...],
                     seed: int) -> dict[str, float]:
        """The value of each proxy in ``names`` for ``arch``; one network serves them all."""
        table = proxies()
        out = self.costs(space, arch)
        seed = self._seed(seed)
        torch_names = [n for n in names if table[n].uses_torch]
        if torch_names:
            import torch

            from archspace.nn import build_module

            fitted, r = self.adapted(space)
            x, y = self.batch(space, seed)
            with deterministic_mode(self.device):
                torch.manual_seed(seed)
                model = build_module(fitted.lower(arch, r)).to(self.device)
                for n in torch_names:
                    fn = table[n].score
                    assert fn is not None
                    torch.manual_seed(seed)  # dropout, if any, draws the same masks
                    out[n] = float(fn(model, x, y))
        return {n: out[n] for n in names}

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        return {**self.proxy_values(space, arch, (self.name,), seed), **self.costs(space, arch)}


class SynFlowEstimator(ZeroCostBase):
    """log of the SynFlow saliency summed over all weights (no data, no training): Tanaka et
    al., "Pruning neural networks without any data by iteratively conserving synaptic flow",
    NeurIPS 2020; as a NAS proxy Abdelfattah et al., ICLR 2021."""

    name: ClassVar[str] = "synflow"
    summary: ClassVar[str] = "SynFlow zero-cost score (log): data-free synaptic-flow saliency"
    paper: ClassVar[str] = _PAPERS["synflow"]
    metric = "synflow"


class NASWOTEstimator(ZeroCostBase):
    """log|det K| of the activation-pattern kernel of one batch (no training): Mellor et al.,
    "Neural Architecture Search without Training", ICML 2021."""

    name: ClassVar[str] = "naswot"
    summary: ClassVar[str] = "NASWOT zero-cost score: log|det| of a batch's activation-code kernel"
    paper: ClassVar[str] = _PAPERS["naswot"]
    metric = "naswot"


class SnipEstimator(ZeroCostBase):
    """Summed connection sensitivity ``|w * dL/dw|`` of one batch: Lee et al., "SNIP:
    Single-shot Network Pruning based on Connection Sensitivity", ICLR 2019; as a NAS proxy
    Abdelfattah et al., ICLR 2021."""

    name: ClassVar[str] = "snip"
    summary: ClassVar[str] = "SNIP zero-cost score: summed |weight x loss gradient| of one batch"
    paper: ClassVar[str] = _PAPERS["snip"]
    metric = "snip"


class GradNormEstimator(ZeroCostBase):
    """Summed per-layer L2 norms of the loss gradient of one batch: Abdelfattah et al.,
    "Zero-Cost Proxies for Lightweight NAS", ICLR 2021."""

    name: ClassVar[str] = "grad_norm"
    summary: ClassVar[str] = "gradient-norm zero-cost score: summed per-layer L2 gradient norms"
    paper: ClassVar[str] = _PAPERS["grad_norm"]
    metric = "grad_norm"


class FisherEstimator(ZeroCostBase):
    """Summed channel Fisher information of the layer outputs on one batch: Turner et al.,
    "BlockSwap: Fisher-guided Block Substitution for Network Compression on a Budget", ICLR
    2020; as a NAS proxy Abdelfattah et al., ICLR 2021."""

    name: ClassVar[str] = "fisher"
    summary: ClassVar[str] = "Fisher zero-cost score: summed channel Fisher information"
    paper: ClassVar[str] = _PAPERS["fisher"]
    metric = "fisher"


class JacovEstimator(ZeroCostBase):
    """Jacobian covariance of one batch: Mellor et al., "Neural Architecture Search without
    Training", arXiv 2006.04647v1 (2020), as computed by Abdelfattah et al., ICLR 2021."""

    name: ClassVar[str] = "jacov"
    summary: ClassVar[str] = "Jacobian-covariance zero-cost score of one batch's input gradients"
    paper: ClassVar[str] = _PAPERS["jacov"]
    metric = "jacov"


class ParamsEstimator(ZeroCostBase):
    """Parameter count of the fitted network, from the cost model (no torch): the size baseline
    of Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021."""

    name: ClassVar[str] = "params"
    summary: ClassVar[str] = "baseline proxy: parameters of the fitted network (cost model)"
    paper: ClassVar[str] = _PAPERS["params"]
    options: ClassVar[tuple[Option, ...]] = SHARED_OPTIONS
    metric = "params"


class MACsEstimator(ZeroCostBase):
    """Multiply-accumulates of the fitted network, from the cost model (no torch): the FLOPs
    baseline of Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021."""

    name: ClassVar[str] = "macs"
    summary: ClassVar[str] = "baseline proxy: MACs of the fitted network (cost model)"
    paper: ClassVar[str] = _PAPERS["macs"]
    options: ClassVar[tuple[Option, ...]] = SHARED_OPTIONS
    metric = "macs"

