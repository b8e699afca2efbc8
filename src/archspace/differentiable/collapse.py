"""Detecting the skip-connection collapse of differentiable search.

DARTS is known to drift towards parameter-free ops as its architecture weights train: on
NAS-Bench-201 (Dong & Yang, ICLR 2020, Table 5) first- and second-order DARTS both derive the
all-skip cell (54.30% on CIFAR-10); Zela et al. ("Understanding and Robustifying Differentiable
Architecture Search", ICLR 2020) and Chu et al. ("Fair DARTS", ECCV 2020) trace it to skip
connections dominating the softmax. A derived cell is flagged as collapsed when at least
:data:`SKIP_SHARE_LIMIT` of its edges are skip connections, or when the architecture weights put
at least that share of their mass (the mean softmax probability over the edges) on skip
connections. No torch here: the report reads it from a study file.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["SKIP_SHARE_LIMIT", "Collapse", "detect_collapse"]

#: Share of skip-connection edges (or of weight mass on them) from which a cell is collapsed.
SKIP_SHARE_LIMIT = 0.5


@dataclass(frozen=True)
class Collapse:
    """How much of a derived cell is skip connections, and whether that is a collapse."""

    skip_edges: int
    edges: int
    skip_mass: float | None
    collapsed: bool

    @property
    def skip_share(self) -> float:
        """Share of the derived edges that are skip connections."""
        return self.skip_edges / self.edges if self.edges else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``skip_edges``, ``edges``, ``skip_share``, ``skip_mass``, ``collapsed``."""
        return {"skip_edges": self.skip_edges, "edges": self.edges,
                "skip_share": round(self.skip_share, 4),
                "skip_mass": None if self.skip_mass is None else round(self.skip_mass, 4),
                "collapsed": self.collapsed}

    def describe(self) -> str:
        """One phrase: ``"3/6 edges skip_connect, weight mass 0.41: COLLAPSED"``."""
        mass = "" if self.skip_mass is None else f", weight mass {self.skip_mass:.2f}"
        verdict = "COLLAPSED (skip connections dominate)" if self.collapsed else "no collapse"
        return f"{self.skip_edges}/{self.edges} edges skip{mass}: {verdict}"


def detect_collapse(derived: Sequence[str], skip_ops: Collection[str],
                    weights: Sequence[Mapping[str, float]] | None = None,
                    limit: float = SKIP_SHARE_LIMIT) -> Collapse:
    """The :class:`Collapse` of a derived cell.

    ``derived`` are the ops the cell's edges got, ``skip_ops`` the candidates that are skip
    connections (identity), ``weights`` the architecture's softmax probabilities per edge
    (``{op: p}``; optional). Collapsed: the share of skip edges, or the mean probability of skip
    ops over the edges, is at least ``limit``.
    """
    skip = set(skip_ops)
    n_skip = sum(op in skip for op in derived)
    mass = None
    if weights:
        mass = sum(sum(p for op, p in w.items() if op in skip) for w in weights) / len(weights)
    share = n_skip / len(derived) if derived else 0.0
    collapsed = bool(derived) and (share >= limit or (mass is not None and mass >= limit))
    return Collapse(n_skip, len(derived), mass, collapsed)
