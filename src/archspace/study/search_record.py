"""A differentiable strategy's searches in a study file, kept apart from the trials.

The ``darts`` and ``gdas`` strategies (:mod:`archspace.strategies.differentiable`) run one
search per asked trial; the derived cell is then a trial like any other. What only the search
knows (the softmax of every edge's architecture weights, the skip-connection collapse verdict,
on nb201 the derived cell's NAS-Bench-201 row, the search's steps and CPU seconds) goes into the
study's ``differentiable`` meta key, one record per restart, written the moment a search ends:
a study killed during the trial's evaluation keeps it, and a resumed study hands the records
back to the strategy so its replay re-runs no search.
"""

from __future__ import annotations

from typing import Any

from archspace.strategies.base import Strategy
from archspace.study.storage import StudyStorage

__all__ = ["META_KEY", "SearchRecorder"]

#: The meta key of the searches.
META_KEY = "differentiable"


class SearchRecorder:
    """Hands ``strategy`` its recorded searches and records each new one in ``storage``
    (does nothing for a strategy without ``restore_searches``)."""

    def __init__(self, storage: StudyStorage, strategy: Strategy) -> None:
        self.storage = storage
        self.records: list[dict[str, Any]] = []
        restore = getattr(strategy, "restore_searches", None)
        if restore is None:
            return
        stored = storage.meta(META_KEY)
        if isinstance(stored, list):
            self.records = [r for r in stored if isinstance(r, dict)]
        restore(self.records)
        strategy.on_search = self.add  # type: ignore[attr-defined]

    def add(self, record: dict[str, Any]) -> None:
        """Record one search (replacing an earlier record of the same restart)."""
        self.records = [r for r in self.records if r.get("restart") != record.get("restart")]
        self.records.append(record)
        self.records.sort(key=lambda r: int(r.get("restart", 0)))
        self.storage.set_meta(META_KEY, self.records)
