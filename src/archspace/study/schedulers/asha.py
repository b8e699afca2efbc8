"""Asynchronous successive halving (ASHA) as a study scheduler.

Li et al., "A System for Massively Parallel Hyperparameter Tuning", MLSys 2020, Algorithm 2
(one bracket, minimum early-stopping rate 0). Whenever a worker is free, the highest rung k
below the top that has a trial in the top ``floor(|rung k| / eta)`` of its complete trials not
yet promoted promotes it (the best such first) to rung k + 1; if there is none, a new arch
from the strategy starts at the bottom rung. No rung ever waits for another, so workers never
idle; a trial left behind may still be promoted later, when its rung has grown.
"""

from __future__ import annotations

from typing import ClassVar

from archspace.study.schedulers.base import Ledger, Scheduler, Slot, ranked

__all__ = ["ASHA"]


class ASHA(Scheduler):
    """Asynchronous successive halving from ``min_resource`` to ``max_resource``."""

    name: ClassVar[str] = "asha"
    paper: ClassVar[str] = "Li et al. 2020, ASHA (MLSys)"

    def next(self, ledger: Ledger, new_archs: bool = True) -> Slot | None:
        for k in range(len(self.resources) - 2, -1, -1):
            done = ranked(ledger.rung(0, k))
            for e in done[:len(done) // self.eta]:
                if not ledger.promoted(e.number):
                    return Slot(0, k + 1, self.resources[k + 1], e.number)
        return Slot(0, 0, self.resources[0]) if new_archs else None

    def promotable(self, ledger: Ledger) -> set[int]:
        return {e.number for k in range(len(self.resources) - 1) for e in ranked(ledger.rung(0, k))
                if not ledger.promoted(e.number)}
