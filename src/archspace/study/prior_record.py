"""The zero-cost prior's account in a study file: proxy compute, kept apart from the trials.

A strategy with a zero-cost prior (``guided -s prior=synflow``;
:class:`~archspace.estimators.prior.ProxyPrior`) spends proxy evaluations that are not queries,
as Abdelfattah et al. ("Zero-Cost Proxies for Lightweight NAS", ICLR 2021) report them: the study
keeps their count and CPU seconds in its ``prior`` meta key (``prior``, ``evaluations``,
``cpu_seconds``, the scoring ``seed``, ``dataset`` and ``resolution``), summed over the sessions
that ran it (a resumed study's replay scores its warm-up pools, and ``guided``'s candidate
neighbours, again, and that is counted).
"""

from __future__ import annotations

from typing import Any

from archspace.strategies.base import Strategy
from archspace.study.storage import StudyStorage

__all__ = ["META_KEY", "PriorRecorder"]

#: The meta key of the prior's account.
META_KEY = "prior"


class PriorRecorder:
    """Writes the strategy's prior account to ``storage`` whenever it changed."""

    def __init__(self, storage: StudyStorage, strategy: Strategy) -> None:
        self.storage = storage
        self.prior = getattr(strategy, "prior", None)
        before = storage.meta(META_KEY) if self.prior is not None else None
        self._before = before if isinstance(before, dict) else {}
        self._saved: tuple[int, float] | None = None

    def save(self) -> None:
        """Record the account if the prior scored anything since the last save."""
        if self.prior is None:
            return
        now = (self.prior.evaluations, self.prior.cpu_seconds)
        if now == self._saved:
            return
        stats: dict[str, Any] = self.prior.stats()
        stats["evaluations"] += int(self._before.get("evaluations", 0))
        stats["cpu_seconds"] = round(stats["cpu_seconds"]
                                     + float(self._before.get("cpu_seconds", 0.0)), 3)
        self.storage.set_meta(META_KEY, stats)
        self._saved = now
