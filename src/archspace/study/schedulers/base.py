"""What a multi-fidelity scheduler sees and decides: the ledger of rung trials and the next slot.

A scheduler is a pure function of the study's trials: :meth:`Scheduler.next` reads the
:class:`Ledger` (every trial with its bracket, rung, parent and, once recorded, its score) and
says what to evaluate next, a new arch from the strategy at a bracket's bottom rung or the
promotion of a recorded trial to the next rung. It keeps no state of its own, so a resumed
study, whose ledger is rebuilt from the file, continues exactly where the interrupted one
stopped, and nothing recorded is evaluated again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from archspace.study.schedulers.brackets import check_resources, rung_resources

__all__ = ["Entry", "Ledger", "Scheduler", "Slot", "ranked"]


@dataclass(frozen=True)
class Slot:
    """An evaluation to run at rung ``rung`` of bracket ``bracket`` with ``resource``: a new arch
    from the strategy (``parent`` None) or trial ``parent``'s arch, promoted."""

    bracket: int
    rung: int
    resource: int
    parent: int | None = None


@dataclass
class Entry:
    """One trial in the ledger; ``score`` is set when it completed (None: running, failed or
    infeasible; ``done`` tells running from the rest)."""

    number: int
    bracket: int
    rung: int
    parent: int | None
    score: float | None = None
    done: bool = False


class Ledger:
    """Every trial of a scheduled study by (bracket, rung), kept up to date by the study loop."""

    def __init__(self) -> None:
        self.entries: dict[int, Entry] = {}
        self._rungs: dict[tuple[int, int], list[Entry]] = {}
        self._promoted: set[int] = set()
        #: Brackets ``0 .. settled - 1`` need nothing more: a synchronous scheduler's memo, so
        #: it need not look at them again (:meth:`drop` reopens a bracket).
        self.settled = 0

    def add(self, number: int, slot: Slot) -> Entry:
        """Trial ``number`` was started (or recorded without evaluation) in ``slot``."""
        entry = Entry(number, slot.bracket, slot.rung, slot.parent)
        self.entries[number] = entry
        self._rungs.setdefault((slot.bracket, slot.rung), []).append(entry)
        if slot.parent is not None:
            self._promoted.add(slot.parent)
        return entry

    def finish(self, number: int, score: float | None) -> None:
        """Trial ``number`` was recorded with ``score`` (None: failed or infeasible)."""
        entry = self.entries[number]
        entry.score, entry.done = score, True

    def drop(self, number: int) -> None:
        """Forget a trial that was started but never recorded (an interrupted evaluation)."""
        entry = self.entries.pop(number, None)
        if entry is None:
            return
        self._rungs[(entry.bracket, entry.rung)].remove(entry)
        self.settled = min(self.settled, entry.bracket)
        if entry.parent is not None:
            self._promoted.discard(entry.parent)

    def rung(self, bracket: int, rung: int) -> list[Entry]:
        """The trials of one rung, in the order they were started."""
        return self._rungs.get((bracket, rung), [])

    def promoted(self, number: int) -> bool:
        """Whether trial ``number`` has been promoted to the next rung."""
        return number in self._promoted

    def brackets(self) -> int:
        """One more than the highest bracket index in the ledger (0 when empty)."""
        return 1 + max((b for b, _ in self._rungs), default=-1)


def ranked(entries: Iterable[Entry]) -> list[Entry]:
    """The complete trials among ``entries``, best score first (earliest trial on ties)."""
    done = [e for e in entries if e.score is not None]
    return sorted(done, key=lambda e: (-(e.score or 0.0), e.number))


class Scheduler(ABC):
    """Decides which (arch, resource) a multi-fidelity study evaluates next (module doc)."""

    name: ClassVar[str] = "scheduler"
    paper: ClassVar[str] = ""

    def __init__(self, min_resource: int, max_resource: int, eta: int = 3) -> None:
        check_resources(min_resource, max_resource, eta)
        self.min_resource, self.max_resource, self.eta = min_resource, max_resource, eta
        self.resources = rung_resources(min_resource, max_resource, eta)

    @abstractmethod
    def next(self, ledger: Ledger, new_archs: bool = True) -> Slot | None:
        """The next evaluation, or None when every possible one waits for a running trial (or,
        with ``new_archs`` False, the strategy is exhausted and nothing can be promoted)."""

    @abstractmethod
    def promotable(self, ledger: Ledger) -> set[int]:
        """Recorded trials that may still be promoted (their checkpoints are kept)."""

    def to_json(self) -> dict[str, Any]:
        """How a study file records this scheduler."""
        return {"scheduler": self.name, "min_resource": self.min_resource,
                "max_resource": self.max_resource, "eta": self.eta}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(min_resource={self.min_resource}, "
                f"max_resource={self.max_resource}, eta={self.eta})")
