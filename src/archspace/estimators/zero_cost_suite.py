"""Several zero-cost proxies in one estimator, ranked against a fixed reference sample.

``zerocost`` with ``proxies=synflow,naswot`` scores an arch by every named proxy (each value is
recorded as its own metric) and searches on the mean of their ranks, the combination
Abdelfattah et al. ("Zero-Cost Proxies for Lightweight NAS", ICLR 2021) use for voting and
Krishnakumar et al. ("NAS-Bench-Suite-Zero", NeurIPS 2022 Datasets and Benchmarks) for their
ensembles. A rank among the archs a study has seen so far would change with the study's history,
so the rank here is against a *reference sample*: ``reference`` distinct archs of the space
drawn once with ``reference_seed`` and scored when the estimator first meets the space (its
``check_space``; with ``seed`` unset they are scored with ``reference_seed``). A proxy's rank is
the share of reference archs with a lower value (ties count half), in [0, 1]; the metric
``zerocost`` is the mean of the proxies' ranks, a number of the arch alone. The reference is
deterministic (same seeds, same values on the CPU), so a resumed study recomputes the same one;
worker processes receive it with the estimator.
"""

from __future__ import annotations

import bisect
import math
import random
from typing import Any, ClassVar

from archspace.estimators.base import EstimatorError
from archspace.estimators.options import Option
from archspace.estimators.zero_cost import (
    ABDELFATTAH,
    BATCH_OPTIONS,
    PROXIES,
    SHARED_OPTIONS,
    ZeroCostBase,
)
from archspace.limits import MAX_REFERENCE, MAX_SEED
from archspace.space import Arch, Space

__all__ = ["ZeroCostSuite", "parse_proxies", "rank_in"]

SUITE_OPTIONS = (
    Option("proxies", "synflow,naswot", str, "the proxies to combine (see the proxy table)",
           requirement="comma-separated names among " + ", ".join(PROXIES)),
    Option("reference", 50, int, "archs of the reference sample the ranks are taken in",
           minimum=2, maximum=MAX_REFERENCE),
    Option("reference_seed", 0, int, "seed drawing (and scoring) the reference sample",
           minimum=0, maximum=MAX_SEED),
)


def parse_proxies(text: str) -> tuple[str, ...]:
    """``"synflow, naswot"`` -> ``("synflow", "naswot")``; an unknown, repeated or missing name
    raises :class:`EstimatorError` listing the allowed ones."""
    names = tuple(n.strip() for n in str(text).split(",") if n.strip())
    allowed = ", ".join(PROXIES)
    for n in names:
        if n not in PROXIES:
            raise EstimatorError(f"unknown proxy {n!r} in proxies={text!r} of estimator "
                                 f"'zerocost'; allowed: {allowed}")
    if not names:
        raise EstimatorError(f"option proxies of estimator 'zerocost' names no proxy; allowed: "
                             f"a comma-separated list of {allowed}")
    if len(set(names)) != len(names):
        raise EstimatorError(f"option proxies={text!r} of estimator 'zerocost' names a proxy "
                             "twice; name each once")
    return names


def rank_in(value: float, reference: list[float]) -> float:
    """The share of the sorted ``reference`` below ``value`` (ties count half); NaN ranks 0."""
    if math.isnan(value):
        return 0.0
    lo, hi = bisect.bisect_left(reference, value), bisect.bisect_right(reference, value)
    return (lo + hi) / (2 * len(reference))


def _space_key(space: Space) -> tuple[Any, ...]:
    return (space.label, tuple((d.name, tuple(d.choices)) for d in space.decisions))


class ZeroCostSuite(ZeroCostBase):
    """Mean rank of several zero-cost proxies against a fixed reference sample (see the module
    docstring): after Abdelfattah et al., ICLR 2021, and Krishnakumar et al., NeurIPS 2022."""

    name: ClassVar[str] = "zerocost"
    summary: ClassVar[str] = ("several zero-cost proxies at once: the mean of their ranks in a "
                              "fixed, seeded reference sample of the space")
    paper: ClassVar[str] = f"{ABDELFATTAH}; Krishnakumar et al. 2022, NAS-Bench-Suite-Zero"
    options: ClassVar[tuple[Option, ...]] = SHARED_OPTIONS + BATCH_OPTIONS + SUITE_OPTIONS
    metrics: ClassVar[tuple[str, ...]] = ()  # one value and one rank per chosen proxy
    metric = "zerocost"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.proxies = parse_proxies(self.config["proxies"])
        self._references: dict[tuple[Any, ...], dict[str, list[float]]] = {}

    def check_space(self, space: Space) -> None:
        """As ``train``'s check, then the reference sample is scored (once per space)."""
        super().check_space(space)
        self.reference(space)

    def reference_archs(self, space: Space) -> list[Arch]:
        """The reference sample: distinct archs (one per equivalence class where the space
        defines them) drawn with ``reference_seed``."""
        rng = random.Random(self.config["reference_seed"])
        want = int(self.config["reference"])
        out: dict[Arch, Arch] = {}
        for _ in range(50 * want):
            arch = space.sample(rng)
            out.setdefault(space.canonical(arch), arch)
            if len(out) == want:
                break
        return list(out.values())

    def reference(self, space: Space) -> dict[str, list[float]]:
        """Each proxy's sorted values over the reference sample (computed once per space)."""
        key = _space_key(space)
        if key not in self._references:
            values: dict[str, list[float]] = {p: [] for p in self.proxies}
            seed = int(self.config["reference_seed"])
            for arch in self.reference_archs(space):
                for p, v in self.proxy_values(space, arch, self.proxies, seed).items():
                    values[p].append(v)
            self._references[key] = {p: sorted(map(_nan_low, v)) for p, v in values.items()}
        return self._references[key]

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        ref = self.reference(space)
        values = self.proxy_values(space, arch, self.proxies, seed)
        ranks = {f"{p}_rank": rank_in(v, ref[p]) for p, v in values.items()}
        return {"zerocost": sum(ranks.values()) / len(ranks), **values, **ranks,
                **self.costs(space, arch)}


def _nan_low(v: float) -> float:
    return -math.inf if math.isnan(v) else v
