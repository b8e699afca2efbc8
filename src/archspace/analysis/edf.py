"""Error EDFs of design spaces: compare spaces by the distribution of their models' errors.

Radosavovic, Johnson, Xie, Lo, Dollár, "On Network Design Spaces for Visual Recognition", ICCV
2019 ("NDS"), and Radosavovic et al., "Designing Network Design Spaces", CVPR 2020 (RegNet):
sample ``n`` models from each space, score each, and compare the empirical distribution
functions ``F(e)`` of their errors. A space whose EDF lies higher and further left has more
good models. Because bigger models tend to err less, NDS also compares *complexity-normalised*
EDFs, reweighting each space's models so their complexity distributions agree
(:func:`~archspace.analysis.stats.complexity_weights`), and summarises differences with the
Kolmogorov-Smirnov statistic ``D = sup |F_1 - F_2|``.

Two normalisations: each space's normalised EDF (plotted) matches the complexity range common
to *all* compared spaces; each pair's KS statistic matches the range common to *that pair*,
which is wider. Both report how many models keep a positive weight: spaces whose complexities
barely overlap cannot be compared at equal complexity, and the study says so (``warnings``).

:func:`error_edf` returns an :class:`EDFStudy` holding every model (arch, error, params,
MACs, weight), each space's EDF on a common grid with a bootstrap band, and the pairwise KS
statistics (our own weighted KS, equal to ``scipy.stats.ks_2samp``'s statistic when
unweighted; scipy gives the p-value of the unweighted test). Plotting is
:func:`archspace.plots.analysis.plot_edf`.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archspace.analysis import NORMALIZE
from archspace.analysis.evaluate import Scored, check_accuracy, score_space
from archspace.analysis.specs import SpaceSpec, parse_spec
from archspace.analysis.stats import (
    Floats,
    bootstrap_bands,
    complexity_weights,
    edf,
    ks_statistic,
    weighted_mean,
)
from archspace.errors import ArchspaceError
from archspace.estimators import Estimator, get_estimator
from archspace.limits import MAX_BINS, MAX_BOOTSTRAP, MAX_PROFILED, check_int, check_seed

__all__ = ["NORMALIZE", "EDFStudy", "KSPair", "SpaceEDF", "auto_bins", "error_edf"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SpaceEDF:
    """One space's models and its error distribution on the study's grid."""

    label: str
    space: str
    size: int
    enumerated: bool
    scored: Scored = field(repr=False)
    weights: Floats | None = field(repr=False)
    edf: Floats = field(repr=False)
    norm_edf: Floats | None = field(repr=False)
    band: tuple[Floats, Floats] = field(repr=False)

    @property
    def n(self) -> int:
        """Models scored."""
        return len(self.scored.errors)

    @property
    def errors(self) -> Floats:
        """Error (%) of every model."""
        return self.scored.errors

    def summary(self) -> dict[str, Any]:
        """JSON-ready row: sizes, min/mean error (and the complexity-weighted mean)."""
        e = self.errors
        out: dict[str, Any] = {
            "label": self.label, "space": self.space, "size": self.size, "n": self.n,
            "enumerated": self.enumerated, "failed": self.scored.failed,
            "min_error": float(e.min()) if self.n else None,
            "mean_error": float(e.mean()) if self.n else None,
            "median_error": float(np.median(e)) if self.n else None}
        if self.weights is not None:
            out["normalized_mean_error"] = _finite(weighted_mean(e, self.weights))
            out["normalized_models"] = int((self.weights > 0).sum())
        return out


@dataclass(frozen=True)
class KSPair:
    """The KS statistic between two spaces' EDFs (normalised to the pair's common complexity
    distribution when the study normalises), the unweighted one, and scipy's two-sided p-value
    for the unweighted one."""

    a: str
    b: str
    ks: float
    ks_raw: float
    pvalue_raw: float
    #: models of a and of b with positive weight in the normalised comparison
    kept: tuple[int, int]

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "ks": _finite(self.ks), "ks_raw": _finite(self.ks_raw),
                "pvalue_raw": _finite(self.pvalue_raw), "kept": list(self.kept)}


@dataclass(frozen=True)
class EDFStudy:
    """Error EDFs of several spaces under one estimator."""

    spaces: tuple[SpaceEDF, ...]
    grid: Floats = field(repr=False)
    estimator: str
    metric: str
    normalize: str
    bins: int
    samples: int
    seed: int
    n_boot: int
    ks: tuple[KSPair, ...]
    seconds: float
    warnings: tuple[str, ...] = ()

    def __getitem__(self, label: str) -> SpaceEDF:
        for s in self.spaces:
            if s.label == label:
                return s
        raise KeyError(label)

    def ks_between(self, a: str, b: str) -> KSPair:
        """The pair (a, b) in either order."""
        for p in self.ks:
            if {p.a, p.b} == {a, b}:
                return p
        raise KeyError((a, b))

    def to_dict(self, curves: bool = False) -> dict[str, Any]:
        """JSON form; with ``curves`` the grid and every EDF and band are included."""
        out: dict[str, Any] = {
            "estimator": self.estimator, "metric": self.metric, "normalize": self.normalize,
            "bins": self.bins, "samples": self.samples, "seed": self.seed, "n_boot": self.n_boot,
            "seconds": round(self.seconds, 3), "spaces": [s.summary() for s in self.spaces],
            "ks": [p.to_dict() for p in self.ks], "warnings": list(self.warnings)}
        if curves:
            out["grid"] = self.grid.tolist()
            for row, s in zip(out["spaces"], self.spaces, strict=True):
                row["edf"] = s.edf.tolist()
                if s.norm_edf is not None:
                    row["normalized_edf"] = _nan_list(s.norm_edf)
                row["band_low"], row["band_high"] = _nan_list(s.band[0]), _nan_list(s.band[1])
        return out

    def rows(self) -> list[dict[str, Any]]:
        """One row per model: space, arch, error, params, MACs, normalising weight."""
        out = []
        for s in self.spaces:
            w = s.weights if s.weights is not None else np.ones(s.n)
            for j, arch in enumerate(s.scored.archs):
                out.append({"space": s.label, "arch": arch, "error": float(s.errors[j]),
                            "params": int(s.scored.params[j]), "macs": int(s.scored.macs[j]),
                            "weight": float(w[j])})
        return out


def _finite(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def _nan_list(a: Floats) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in a]


def error_edf(specs: Sequence[str | SpaceSpec], estimator: Estimator | str,
              samples: int = 100, seed: int = 0, normalize: str = "macs", bins: int | None = None,
              n_boot: int = 200, grid_points: int = 200,
              estimator_options: dict[str, Any] | None = None,
              progress: Progress | None = None) -> EDFStudy:
    """Score ``samples`` models of each spec'd space with ``estimator`` and compare their
    error EDFs (NDS). A space with at most ``samples`` archs is enumerated instead.

    ``normalize`` picks the complexity the normalised EDFs match (``macs``, ``params`` or
    ``none``); ``bins`` log-complexity bins are used for it (default: one per ten models of
    the smallest sample, from 1 to 10, see :func:`auto_bins`). Bands are pointwise 95%
    bootstrap bands from ``n_boot`` resamples.
    """
    if normalize not in NORMALIZE:
        raise ArchspaceError(f"normalize={normalize!r}; allowed: {', '.join(NORMALIZE)}")
    for name, value, least, most in (("samples", samples, 1, MAX_PROFILED),
                                     ("bins", bins or 1, 1, MAX_BINS),
                                     ("n_boot", n_boot, 1, MAX_BOOTSTRAP),
                                     ("grid_points", grid_points, 2, MAX_BOOTSTRAP)):
        check_int(value, name, least, most)
    check_seed(seed)
    parsed = [s if isinstance(s, SpaceSpec) else parse_spec(s) for s in specs]
    if not parsed:
        raise ArchspaceError("no space specs given; give at least one")
    labels = [p.label for p in parsed]
    if len(set(labels)) != len(labels):
        raise ArchspaceError(f"space spec {_first_dup(labels)!r} given twice")
    est = (get_estimator(estimator, **(estimator_options or {})) if isinstance(estimator, str)
           else estimator)
    check_accuracy(est)
    t0 = time.perf_counter()
    scored = [score_space(p, est, samples, seed, progress) for p in parsed]
    bins = bins or auto_bins([len(s.errors) for s in scored])
    return _study(scored, est, normalize, bins, samples, seed, n_boot, grid_points,
                  time.perf_counter() - t0)


def auto_bins(sizes: Sequence[int]) -> int:
    """Log-complexity bins for samples of these sizes: about ten models per bin in the
    smallest, between 1 and 10 bins (NDS used 10 with hundreds of models per space)."""
    return max(1, min(10, min(sizes, default=0) // 10))


def _first_dup(items: list[str]) -> str:
    return next(x for x in items if items.count(x) > 1)


def _study(scored: list[Scored], est: Estimator, normalize: str, bins: int, samples: int,
           seed: int, n_boot: int, grid_points: int, seconds: float) -> EDFStudy:
    errors = np.concatenate([s.errors for s in scored])
    if not len(errors):
        raise ArchspaceError("every model failed to evaluate; nothing to compare")
    lo, hi = float(errors.min()), float(errors.max())
    pad = max(hi - lo, 1e-6) * 0.01
    grid = np.linspace(lo, hi + pad, grid_points)
    weights: list[Floats | None] = [None] * len(scored)
    if normalize != "none":
        weights = list(complexity_weights([getattr(s, normalize) for s in scored], bins))
    rng = np.random.default_rng(seed)
    rows = []
    for s, w in zip(scored, weights, strict=True):
        raw = edf(s.errors, grid)
        norm = edf(s.errors, grid, w) if w is not None else None
        band = bootstrap_bands(s.errors, grid, w, n_boot, rng=rng)
        rows.append(SpaceEDF(s.label, s.space, s.size, s.enumerated, s, w, raw, norm, band))
    ks = tuple(_ks(a, b, normalize, bins) for a, b in itertools.combinations(rows, 2))
    return EDFStudy(tuple(rows), grid, est.name, est.metric, normalize, bins, samples, seed,
                    n_boot, ks, seconds, _warnings(rows))


def _ks(a: SpaceEDF, b: SpaceEDF, normalize: str, bins: int) -> KSPair:
    """KS between two spaces; normalised with weights matching *this pair's* complexity
    distributions (their common range is wider than that of all spaces together)."""
    from scipy.stats import ks_2samp

    raw = ks_statistic(a.errors, b.errors)
    norm, kept = raw, (a.n, b.n)
    if normalize != "none":
        wa, wb = complexity_weights([getattr(a.scored, normalize), getattr(b.scored, normalize)],
                                    bins)
        norm = ks_statistic(a.errors, b.errors, wa, wb)
        kept = (int((wa > 0).sum()), int((wb > 0).sum()))
    p = float(ks_2samp(a.errors, b.errors).pvalue) if a.n and b.n else float("nan")
    return KSPair(a.label, b.label, norm, raw, p, kept)


def _warnings(rows: list[SpaceEDF]) -> tuple[str, ...]:
    """Spaces whose normalised EDF rests on few models (under a quarter of the sample, or
    under 5): little complexity range in common with the others."""
    out = []
    for s in rows:
        if s.weights is None or not s.n:
            continue
        kept = int((s.weights > 0).sum())
        if kept < max(5, s.n // 4):
            out.append(f"{s.label}: only {kept} of {s.n} models lie in the complexity range "
                       "common to all spaces; its normalised EDF rests on them (compare fewer "
                       "spaces, or see the pairwise KS, normalised per pair)")
    return tuple(out)
