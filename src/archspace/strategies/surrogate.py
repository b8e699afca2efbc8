"""A Gaussian-process surrogate on categorical architecture vectors (numpy and scipy only).

The kernel is an exponentiated Hamming kernel, ``k(x, x') = s2 * exp(-theta * h(x, x') / d)``
with ``h`` the number of decisions on which two archs differ (an inactive decision is a value of
its own) and ``d`` the number of decisions: the categorical kernel of COMBO (Oh et al.,
"Combinatorial Bayesian Optimization using the Graph Cartesian Product", NeurIPS 2019) and
CASMOPOLITAN (Wan et al., ICML 2021) with one shared length scale. ``theta`` and the noise are
chosen by marginal likelihood on a small grid; ``s2`` has its closed-form maximum.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.linalg import LinAlgError, cholesky, solve_triangular

__all__ = ["HammingGP", "clip_below"]

Array = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_THETAS = (1.5, 3.0, 6.0, 12.0)
_NOISES = (1e-3, 1e-2, 1e-1)


def clip_below(y: Array, quantile: float) -> Array:
    """``y`` with values under its ``quantile`` raised to it: the surrogate then spends its
    capacity on the good archs instead of on how bad the failures are."""
    return np.maximum(y, np.quantile(y, quantile)) if len(y) else y


def mismatches(a: IntArray, b: IntArray) -> Array:
    """Number of differing entries between each row of ``a`` and each row of ``b``."""
    return (a[:, None, :] != b[None, :, :]).sum(axis=2).astype(np.float64)


class HammingGP:
    """GP regression with an exponentiated Hamming kernel (see the module docstring)."""

    def __init__(self) -> None:
        self.theta = 0.0
        self.s2 = 1.0
        self._x: IntArray = np.zeros((0, 0), dtype=np.int64)
        self._chol: Array = np.zeros((0, 0))
        self._alpha: Array = np.zeros(0)
        self._mean, self._scale = 0.0, 1.0

    def fit(self, x: IntArray, y: Array) -> HammingGP:
        """Fit to archs ``x`` (rows of choice indices) and their values ``y``."""
        self._x = np.asarray(x, dtype=np.int64)
        y = np.asarray(y, dtype=np.float64)
        self._mean, self._scale = float(y.mean()), float(y.std()) or 1.0
        z = (y - self._mean) / self._scale
        h = mismatches(self._x, self._x) / max(1, self._x.shape[1])
        best = None
        for theta in _THETAS:
            k = np.exp(-theta * h)
            for noise in _NOISES:
                try:
                    chol = cholesky(k + noise * np.eye(len(z)), lower=True)
                except LinAlgError:
                    continue
                alpha = solve_triangular(chol.T, solve_triangular(chol, z, lower=True), lower=False)
                s2 = max(float(z @ alpha) / len(z), 1e-12)
                loglik = -0.5 * len(z) * np.log(s2) - float(np.log(np.diag(chol)).sum())
                if best is None or loglik > best[0]:
                    best = (loglik, theta, s2, chol, alpha)
        if best is None:  # only with degenerate data: fall back to the prior
            best = (0.0, _THETAS[0], 1.0, np.eye(len(z)), z)
        _, self.theta, self.s2, self._chol, self._alpha = best
        return self

    def predict(self, x: IntArray) -> tuple[Array, Array]:
        """Posterior mean and standard deviation at archs ``x``, in the units of ``y``."""
        x = np.asarray(x, dtype=np.int64)
        ks = np.exp(-self.theta * mismatches(x, self._x) / max(1, x.shape[1]))
        mu = ks @ self._alpha
        v = solve_triangular(self._chol, ks.T, lower=True)
        var = np.maximum(1.0 - (v * v).sum(axis=0), 1e-12) * self.s2
        return self._mean + self._scale * mu, self._scale * np.sqrt(var)
