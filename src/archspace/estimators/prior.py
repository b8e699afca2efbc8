"""Zero-cost priors: a proxy score a strategy consults before it spends a real evaluation.

Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021 (Section 5, "zero-cost
warmup") score a pool of candidates by a zero-cost proxy and let the search start from the
best of them; the proxy's compute is reported beside the number of real evaluations, never
counted among them. :class:`ProxyPrior` is that scorer: it scores archs by one proxy of
:mod:`archspace.estimators.zero_cost` (``synflow``), or by several (``synflow+naswot``: the mean
of their ranks within the scored candidates, as Abdelfattah et al. vote), remembers every score
for the rest of the run, and counts the proxy evaluations and the CPU seconds they took
(``time.process_time``).

Data. The proxies score the network the study's estimator would build, on one batch of the
estimator's dataset when it has one (``train``, the proxy estimators: their ``dataset``,
``root``, ``val_fraction``, ``resolution`` and ``device``), else, as for the tabular
``nasbench201`` estimator, on the bundled 8x8 digits resized to the space's input resolution
(32x32 for ``nb201``; grayscale repeated to the network's channels). SynFlow is data-free: only
the input shape matters. ``prior_dataset`` names another dataset. The batch and the initial
weights are drawn with a fixed ``seed`` (default 0), so a score is a property of the arch: the
same in every run and under every study seed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from archspace.estimators.base import Estimator, EstimatorError
from archspace.space import Arch, Space

if TYPE_CHECKING:
    from archspace.estimators.zero_cost import ZeroCostBase

__all__ = ["DEFAULT_PRIOR_DATASET", "ProxyPrior", "parse_prior", "prior_requirement"]

#: The dataset the proxies score when the study's estimator has none.
DEFAULT_PRIOR_DATASET = "digits"
_DATA_OPTIONS = ("dataset", "root", "val_fraction", "resolution", "device")


def prior_requirement() -> str:
    """What a ``prior`` option allows, in words."""
    from archspace.estimators.zero_cost import PROXIES

    return f"none, or proxy names joined by '+' among {', '.join(PROXIES)}"


def parse_prior(text: str | None) -> tuple[str, ...]:
    """``"synflow+naswot"`` -> ``("synflow", "naswot")``; ``"none"`` or empty -> ``()``. An
    unknown or repeated name raises :class:`EstimatorError` listing the allowed ones."""
    from archspace.estimators.zero_cost import PROXIES

    if text is None or str(text).strip().lower() in ("", "none"):
        return ()
    names = tuple(n.strip() for n in str(text).split("+"))
    for n in names:
        if n not in PROXIES:
            raise EstimatorError(f"unknown proxy {n!r} in prior={text!r}; allowed: "
                                 f"{prior_requirement()}")
    if len(set(names)) != len(names):
        raise EstimatorError(f"prior={text!r} names a proxy twice; name each once")
    return names


def _ranks(values: Sequence[float]) -> list[float]:
    """Average ranks (0-based, ties share the mean rank), NaN lowest."""
    keyed = sorted(range(len(values)), key=lambda i: _low_nan(values[i]))
    out = [0.0] * len(values)
    i = 0
    while i < len(keyed):
        j = i
        while j + 1 < len(keyed) and _low_nan(values[keyed[j + 1]]) == _low_nan(values[keyed[i]]):
            j += 1
        for k in keyed[i:j + 1]:
            out[k] = (i + j) / 2
        i = j + 1
    return out


def _low_nan(v: float) -> float:
    return -math.inf if math.isnan(v) else v


class ProxyPrior:
    """Scores archs by zero-cost proxies, once each, counting the proxy compute (see the
    module docstring). ``options`` are those of the proxy estimators (dataset and batch)."""

    def __init__(self, names: Sequence[str], space: Space, seed: int = 0,
                 **options: Any) -> None:
        from archspace.estimators.zero_cost import SynFlowEstimator

        if not names:
            raise EstimatorError("a prior needs at least one proxy; allowed: "
                                 f"{prior_requirement()}")
        self.names = tuple(names)
        self.space = space
        self.seed = seed
        self.options = dict(options)
        # Any zero-cost estimator computes every proxy (proxy_values); synflow's takes batches.
        self.estimator: ZeroCostBase = SynFlowEstimator(seed=seed, **options)
        self.memo: dict[Arch, dict[str, float]] = {}
        self.evaluations = 0
        self.cpu_seconds = 0.0
        self._checked = False

    @classmethod
    def for_estimator(cls, names: Sequence[str], space: Space, estimator: Estimator | None,
                      dataset: str | None = None, seed: int = 0) -> ProxyPrior:
        """The prior for a study scored by ``estimator``: its data options where it has a
        dataset, else :data:`DEFAULT_PRIOR_DATASET` at the space's input resolution;
        ``dataset`` overrides the dataset either way."""
        config: Mapping[str, Any] = getattr(estimator, "config", {}) or {}
        options: dict[str, Any] = {}
        if "dataset" in config:
            options = {k: config[k] for k in _DATA_OPTIONS if config.get(k) is not None}
        if dataset is not None:
            options["dataset"] = dataset
        if "dataset" not in options:
            options["dataset"] = DEFAULT_PRIOR_DATASET
        if "dataset" not in config and options.get("resolution") is None:
            options["resolution"] = space.input_shape[-1]
        if "device" not in options:
            options["device"] = "cpu"
        return cls(names, space, seed, **options)

    @property
    def label(self) -> str:
        """The prior as the option names it: ``synflow`` or ``synflow+naswot``."""
        return "+".join(self.names)

    def check(self) -> None:
        """Load the dataset and fit the network to it now (bad input fails before a study
        starts)."""
        if not self._checked:
            self.estimator.check_space(self.space)
            self._checked = True

    def compute(self, arch: Arch) -> tuple[dict[str, float], float]:
        """Every proxy of the prior for ``arch`` and the CPU seconds that took (a benchmark
        may override this to read a cache of scores, returning the recorded seconds)."""
        t0 = time.process_time()
        values = self.estimator.proxy_values(self.space, arch, self.names, self.seed)
        return values, time.process_time() - t0

    def values(self, arch: Arch) -> dict[str, float]:
        """The proxies' values of ``arch`` (computed once per run)."""
        hit = self.memo.get(arch)
        if hit is None:
            self.check()
            hit, seconds = self.compute(arch)
            self.memo[arch] = hit
            self.evaluations += 1
            self.cpu_seconds += seconds
        return hit

    def scores(self, archs: Sequence[Arch]) -> list[float]:
        """One number per arch, higher better: the proxy's value, or with several proxies the
        mean of their ranks among ``archs``."""
        table = [self.values(a) for a in archs]
        if len(self.names) == 1:
            return [_low_nan(v[self.names[0]]) for v in table]
        ranks = [_ranks([v[n] for v in table]) for n in self.names]
        return [sum(r[i] for r in ranks) / len(ranks) for i in range(len(archs))]

    def stats(self) -> dict[str, Any]:
        """JSON-ready account of the proxy compute: what a study records as its ``prior``."""
        data = {k: v for k, v in self.options.items() if k in ("dataset", "resolution")}
        return {"prior": self.label, "evaluations": self.evaluations,
                "cpu_seconds": round(self.cpu_seconds, 3), "seed": self.seed, **data}
