"""The performance-estimation interface: how good is an architecture?

An estimator turns (space, arch, seed) into metrics. ``metric`` names the one the search
maximises; ``final_metrics`` gives numbers that are reported but never searched on (for a
tabular benchmark, the 200-epoch test accuracy: the NATS-Bench protocol). Estimators are
stateless between calls apart from caches, so a worker process can run them independently.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from archspace.space import Arch, Space

__all__ = ["Estimator"]


class Estimator(ABC):
    """Base class of performance estimators."""

    name: ClassVar[str] = "estimator"
    summary: ClassVar[str] = ""
    #: The metric the search maximises (a key of :meth:`evaluate`'s result).
    metric: str = "accuracy"

    def check_space(self, space: Space) -> None:
        """Raise :class:`~archspace.errors.ArchspaceError` if this estimator can't score
        ``space`` (default: any space is fine)."""

    @abstractmethod
    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        """Metrics of ``arch``; must contain :attr:`metric`."""

    def final_metrics(self, space: Space, arch: Arch) -> dict[str, float]:
        """Report-only metrics (never used as a search signal); default none."""
        return {}
