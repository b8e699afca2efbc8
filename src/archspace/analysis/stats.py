"""Statistics of error distributions (Radosavovic et al., "On Network Design Spaces for Visual
Recognition", ICCV 2019, "NDS"): weighted error EDFs, bootstrap bands, complexity-normalising
weights and the Kolmogorov-Smirnov statistic. numpy only; every function is deterministic given
its inputs (and its seeded generator).

The EDF follows NDS's definition, ``F(e) = sum_i w_i [e_i < e] / sum_i w_i`` (strictly below:
the share of models with error lower than ``e``); unweighted, ``w_i = 1``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["bootstrap_bands", "complexity_weights", "edf", "ks_statistic", "weighted_mean"]

Floats = npt.NDArray[np.float64]


def _weights(values: Floats, weights: Floats | None) -> Floats:
    w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != np.shape(values):
        raise ValueError(f"{len(w)} weights for {len(values)} values")
    return w


def edf(values: Floats, grid: Floats, weights: Floats | None = None) -> Floats:
    """``F(e)`` at each point of ``grid``: the (weighted) share of ``values`` below ``e``.
    Zero total weight gives NaN everywhere."""
    v = np.asarray(values, dtype=float)
    w = _weights(v, weights)
    total = w.sum()
    if total <= 0:
        return np.full(len(grid), np.nan)
    order = np.argsort(v, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(w[order])])
    below = np.searchsorted(v[order], np.asarray(grid, dtype=float), side="left")
    return cum[below] / total  # type: ignore[no-any-return]


def weighted_mean(values: Floats, weights: Floats | None = None) -> float:
    """Weighted mean (NaN when the weights sum to zero)."""
    w = _weights(np.asarray(values), weights)
    return float(np.sum(w * values) / w.sum()) if w.sum() > 0 else float("nan")


def bootstrap_bands(values: Floats, grid: Floats, weights: Floats | None = None,
                    n_boot: int = 200, level: float = 0.95,
                    rng: np.random.Generator | None = None) -> tuple[Floats, Floats]:
    """Pointwise percentile bootstrap band of the EDF: resample the models with replacement
    ``n_boot`` times (weights travel with their models) and take the ``(1 - level) / 2`` and
    ``(1 + level) / 2`` quantiles of ``F(e)`` at each grid point."""
    rng = rng or np.random.default_rng(0)
    v = np.asarray(values, dtype=float)
    w = _weights(v, weights)
    n = len(v)
    if not n:
        return np.full(len(grid), np.nan), np.full(len(grid), np.nan)
    order = np.argsort(v, kind="stable")
    w_sorted = w[order]
    below = np.searchsorted(v[order], np.asarray(grid, dtype=float), side="left")
    curves = np.empty((n_boot, len(grid)))
    for b in range(n_boot):
        counts = np.bincount(rng.integers(0, n, size=n), minlength=n)[order]
        cum = np.concatenate([[0.0], np.cumsum(counts * w_sorted)])
        curves[b] = cum[below] / cum[-1] if cum[-1] > 0 else np.nan
    alpha = (1.0 - level) / 2.0
    with warnings.catch_warnings():  # all-NaN columns (zero weight) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanquantile(curves, alpha, axis=0)
        hi = np.nanquantile(curves, 1.0 - alpha, axis=0)
    return lo, hi


def complexity_weights(complexities: Sequence[Floats], bins: int = 10) -> list[Floats]:
    """Weights that give every sample the same complexity distribution (NDS section 4).

    ``log10`` of the complexities is cut into ``bins`` equal bins over the range every sample
    covers (the largest minimum to the smallest maximum); bins some sample leaves empty are
    dropped. Within each sample a model in bin ``j`` gets ``1 / (k * n_j)`` (``k`` bins kept,
    ``n_j`` of the sample's models in bin ``j``) and models outside the kept bins get 0, so
    each sample's weights sum to 1 and its reweighted complexity distribution is uniform over
    the same ``k`` bins. With no common range every weight is 0.
    """
    logs = [np.log10(np.maximum(np.asarray(c, dtype=float), 1.0)) for c in complexities]
    if not logs or any(len(x) == 0 for x in logs):
        return [np.zeros(len(x)) for x in logs]
    lo = max(float(x.min()) for x in logs)
    hi = min(float(x.max()) for x in logs)
    if lo > hi:
        return [np.zeros(len(x)) for x in logs]
    edges = np.linspace(lo, hi, bins + 1) if hi > lo else np.array([lo, hi])
    k_edges = len(edges) - 1
    which = [_bin(x, edges, k_edges) for x in logs]
    counts = np.array([np.bincount(b[b >= 0], minlength=k_edges) for b in which])
    kept = np.all(counts > 0, axis=0)
    k = int(kept.sum())
    out = []
    for b, cnt in zip(which, counts, strict=True):
        w = np.zeros(len(b))
        use = (b >= 0) & kept[np.maximum(b, 0)]
        w[use] = 1.0 / (k * cnt[b[use]])
        out.append(w)
    return out


def _bin(x: Floats, edges: Floats, k: int) -> npt.NDArray[np.int64]:
    """Bin index of each value (last bin closed), -1 outside ``[edges[0], edges[-1]]``."""
    b = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, k - 1)
    return np.where((x >= edges[0]) & (x <= edges[-1]), b, -1)


def ks_statistic(a: Floats, b: Floats, wa: Floats | None = None, wb: Floats | None = None) -> float:
    """Two-sample Kolmogorov-Smirnov statistic ``sup_e |F_a(e) - F_b(e)|`` of (weighted)
    EDFs, evaluated at every sample value and just past the largest one (where the sup of a
    step function is reached). Unweighted, it equals ``scipy.stats.ks_2samp``'s statistic."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if not len(a) or not len(b):
        return float("nan")
    points = np.unique(np.concatenate([a, b]))
    points = np.append(points, np.nextafter(points[-1], np.inf))
    fa, fb = edf(a, points, wa), edf(b, points, wb)
    if np.isnan(fa).any() or np.isnan(fb).any():
        return float("nan")
    return float(np.max(np.abs(fa - fb)))
