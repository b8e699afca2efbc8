"""Synchronous successive halving and Hyperband as study schedulers.

Successive halving (Jamieson & Talwalkar, "Non-stochastic Best Arm Identification and
Hyperparameter Optimization", AISTATS 2016) and Hyperband (Li et al., "Hyperband: A Novel
Bandit-Based Approach to Hyperparameter Optimization", JMLR 2018). A bracket fills its bottom
rung with new archs from the strategy; once every trial of rung k is recorded, the best
``min(n_{k+1}, max(1, c // eta))`` of its ``c`` complete trials are promoted to rung k + 1 (for
a full rung that is Hyperband's ``n_{k+1}``: the top 1/eta). :class:`SuccessiveHalving` repeats
the most exploratory bracket (s = s_max); :class:`Hyperband` cycles through s = s_max, ..., 0
(the infinite-horizon loop of Li et al.), so the study's budget decides how many brackets run.
While a bracket waits for running trials (parallel executors), the next bracket starts.
"""

from __future__ import annotations

from typing import ClassVar

from archspace.study.schedulers.base import Ledger, Scheduler, Slot, ranked
from archspace.study.schedulers.brackets import Bracket, hyperband_brackets

__all__ = ["Hyperband", "SuccessiveHalving"]

_WAIT, _DONE, _EMPTY = "wait", "done", "empty"


class _Synchronous(Scheduler):
    """Brackets of successive halving, each rung promoted when it is complete."""

    def shape(self, bracket: int) -> Bracket:
        """The sizes and resources of bracket number ``bracket``."""
        raise NotImplementedError

    def next(self, ledger: Ledger, new_archs: bool = True) -> Slot | None:
        j = ledger.settled
        while True:
            slot, state = self._next_in(ledger, j, new_archs)
            if slot is not None:
                return slot
            if state == _EMPTY:
                return Slot(j, 0, self.shape(j).resources[0]) if new_archs else None
            if state == _DONE and j == ledger.settled and new_archs:
                ledger.settled += 1
            j += 1

    def _target(self, ledger: Ledger, j: int, k: int, new_archs: bool) -> int | None:
        """How many trials rung ``k`` of bracket ``j`` gets; None while rung k - 1 runs."""
        shape = self.shape(j)
        if k == 0:
            return shape.sizes[0] if new_archs else len(ledger.rung(j, 0))
        below = ledger.rung(j, k - 1)
        wanted = self._target(ledger, j, k - 1, new_archs)
        if wanted is None or len(below) < wanted or not all(e.done for e in below):
            return None
        complete = len(ranked(below))
        return min(shape.sizes[k], max(1, complete // self.eta)) if complete else 0

    def _next_in(self, ledger: Ledger, j: int, new_archs: bool) -> tuple[Slot | None, str]:
        shape = self.shape(j)
        if not ledger.rung(j, 0):
            return None, _EMPTY
        for k, resource in enumerate(shape.resources):
            target = self._target(ledger, j, k, new_archs)
            if target is None:
                return None, _WAIT
            have = ledger.rung(j, k)
            if len(have) >= target:
                continue
            if k == 0:
                return Slot(j, 0, resource), _WAIT
            best = next(e for e in ranked(ledger.rung(j, k - 1)) if not ledger.promoted(e.number))
            return Slot(j, k, resource, best.number), _WAIT
        return None, _DONE

    def promotable(self, ledger: Ledger) -> set[int]:
        out: set[int] = set()
        for j in range(ledger.settled, ledger.brackets()):
            top = len(self.shape(j).resources) - 1
            for k in range(top):
                target = self._target(ledger, j, k + 1, True)
                if target is not None and len(ledger.rung(j, k + 1)) >= target:
                    continue  # rung k + 1 is decided
                out.update(e.number for e in ranked(ledger.rung(j, k))
                           if not ledger.promoted(e.number))
        return out


class SuccessiveHalving(_Synchronous):
    """Successive halving from ``min_resource`` to ``max_resource``, bracket after bracket."""

    name: ClassVar[str] = "sh"
    paper: ClassVar[str] = "Jamieson & Talwalkar 2016, successive halving (AISTATS)"

    def __init__(self, min_resource: int, max_resource: int, eta: int = 3) -> None:
        super().__init__(min_resource, max_resource, eta)
        self._bracket = hyperband_brackets(min_resource, max_resource, eta)[0]

    def shape(self, bracket: int) -> Bracket:
        return self._bracket


class Hyperband(_Synchronous):
    """Hyperband's brackets s = s_max, ..., 0, cycled until the study's budget."""

    name: ClassVar[str] = "hyperband"
    paper: ClassVar[str] = "Li et al. 2018, Hyperband (JMLR)"

    def __init__(self, min_resource: int, max_resource: int, eta: int = 3) -> None:
        super().__init__(min_resource, max_resource, eta)
        self.brackets = hyperband_brackets(min_resource, max_resource, eta)

    def shape(self, bracket: int) -> Bracket:
        return self.brackets[bracket % len(self.brackets)]
