"""Reusable parts of the strategies: a ledger of asks and tells, sampling without repeats, and
JSON helpers for archs and random generators.

A strategy's state is made of plain data (archs as choice-index lists, scores, counters), so
each strategy's ``state_dict`` is a few calls to the helpers here.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from archspace.space import Arch, Space
from archspace.strategies.base import StrategyError

__all__ = ["Ledger", "Result", "UniqueSampler", "active_index", "check_state", "decode", "encode",
           "rng_from_state", "rng_state", "unseen"]

#: One told result: the arch, its score (None: failed or infeasible) and its objectives.
Result = tuple[Arch, float | None, tuple[float, ...]]

#: Spaces at most this large are enumerated to find the last unseen archs.
_ENUMERATE_LIMIT = 200_000
_REJECTION_TRIES = 200


def encode(space: Space, arch: Arch) -> list[int]:
    """An arch as JSON data: its choice indices (-1 for an inactive decision)."""
    return list(space.to_indices(arch))


def decode(space: Space, data: Sequence[int]) -> Arch:
    """Inverse of :func:`encode` (validated against ``space``)."""
    return space.from_indices([int(k) for k in data])


def active_index(space: Space, i: int, indices: Sequence[int]) -> bool:
    """Whether decision ``i`` is active given the choice indices of the decisions before it."""
    when = space.decisions[i].when
    if when is None:
        return True
    p = space.names.index(when[0])
    k = indices[p]
    return k >= 0 and space.decisions[p].choices[k] in when[1]


def rng_state(rng: random.Random) -> list[Any]:
    """A ``random.Random`` state as JSON data."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def rng_from_state(rng: random.Random, state: Sequence[Any]) -> None:
    """Restore what :func:`rng_state` returned into ``rng``."""
    version, internal, gauss = state
    rng.setstate((version, tuple(internal), gauss))


class Ledger:
    """Every ask and tell of a strategy: pending asks (a multiset), the told results in tell
    order, and the last score told for each arch.

    A tell for an arch that was never asked is accepted as an outside observation (a study
    replaying a recorded history into a strategy that diverged does that). With ``distinct``,
    an arch counts as seen once any arch of its equivalence class (:meth:`Space.canonical`) was.
    :meth:`skip` adds ``feasible`` (the strategy's constraint check): what a strategy that
    avoids infeasible archs must not propose.
    """

    def __init__(self, space: Space, distinct: bool = False,
                 feasible: Callable[[Arch], bool] | None = None) -> None:
        self.space = space
        self.feasible = feasible
        self.distinct = distinct and space.has_equivalences()
        self.pending: Counter[Arch] = Counter()
        self.results: list[Result] = []
        self.scores: dict[Arch, float | None] = {}
        self._classes: set[Arch] = set()

    def key(self, arch: Arch) -> Arch:
        """What :meth:`seen` compares: the arch, or with ``distinct`` its class representative."""
        return self.space.canonical(arch) if self.distinct else arch

    def asked(self, arch: Arch) -> None:
        """Record that ``arch`` was proposed."""
        self.pending[arch] += 1
        if self.distinct:
            self._classes.add(self.key(arch))

    def told(self, arch: Arch, score: float | None, objectives: Sequence[float] = ()) -> None:
        """Record the result of ``arch``."""
        if self.pending[arch] > 1:
            self.pending[arch] -= 1
        else:
            self.pending.pop(arch, None)
        score = None if score is None else float(score)
        self.results.append((arch, score, tuple(float(v) for v in objectives)))
        self.scores[arch] = score
        if self.distinct:
            self._classes.add(self.key(arch))

    def seen(self, arch: Arch) -> bool:
        """Whether ``arch`` (with ``distinct``: an arch equivalent to it) was told or is
        pending."""
        if self.distinct:
            return self.key(arch) in self._classes
        return arch in self.scores or arch in self.pending

    def skip(self, arch: Arch) -> bool:
        """Whether ``arch`` was seen or fails the ``feasible`` check."""
        return self.seen(arch) or (self.feasible is not None and not self.feasible(arch))

    @property
    def n_seen(self) -> int:
        """Distinct archs told or pending."""
        return len(self.scores) + sum(1 for a in self.pending if a not in self.scores)

    def completed(self) -> list[tuple[Arch, float]]:
        """The told results with a score, in tell order."""
        return [(a, s) for a, s, _ in self.results if s is not None]

    def best(self) -> tuple[Arch, float] | None:
        """The best scored result so far (the earliest one among ties)."""
        done = self.completed()
        return max(done, key=lambda r: r[1]) if done else None

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state."""
        sp = self.space
        return {"pending": [[encode(sp, a), n] for a, n in self.pending.items()],
                "results": [[encode(sp, a), s, list(o)] for a, s, o in self.results]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        sp = self.space
        self.pending = Counter({decode(sp, a): int(n) for a, n in state["pending"]})
        self.results, self.scores = [], {}
        for a, s, o in state["results"]:
            arch = decode(sp, a)
            self.results.append((arch, None if s is None else float(s), tuple(o)))
            self.scores[arch] = None if s is None else float(s)
        self._classes = {self.key(a) for a in (*self.pending, *self.scores)} if self.distinct \
            else set()


class UniqueSampler:
    """Draws archs with :meth:`Space.sample`, skipping those ``seen`` says were proposed before.

    Rejection sampling first; when that keeps hitting seen archs, a space small enough is
    enumerated and an unseen arch drawn from the rest. Only once every arch has been seen (or
    none unseen can be found in a huge space) does it return a repeat.
    """

    def __init__(self, space: Space, seen: Callable[[Arch], bool]) -> None:
        self.space = space
        self.seen = seen
        self._size: int | None = None

    @property
    def size(self) -> int:
        """The space's exact size (computed once)."""
        if self._size is None:
            self._size = self.space.size()
        return self._size

    def sample(self, rng: random.Random) -> Arch:
        """An arch not seen before if one can be found, else a repeat."""
        arch = self.space.sample(rng)
        for _ in range(_REJECTION_TRIES):
            if not self.seen(arch):
                return arch
            arch = self.space.sample(rng)
        if self.size <= _ENUMERATE_LIMIT:
            rest = [a for a in self.space.enumerate(_ENUMERATE_LIMIT) if not self.seen(a)]
            if rest:
                return rng.choice(rest)
        return arch


def unseen(archs: Iterable[Arch], seen: Callable[[Arch], bool],
           key: Callable[[Arch], Arch] | None = None) -> list[Arch]:
    """The archs of ``archs`` not seen, order kept, duplicates (the same ``key``) dropped."""
    out: list[Arch] = []
    done: set[Arch] = set()
    for a in archs:
        k = a if key is None else key(a)
        if k not in done and not seen(a):
            out.append(a)
            done.add(k)
    return out


def check_state(strategy: str, state: Any, keys: Iterable[str]) -> None:
    """Raise :class:`StrategyError` unless ``state`` is a mapping holding ``keys``."""
    missing = [k for k in keys if not isinstance(state, dict) or k not in state]
    if missing:
        raise StrategyError(f"state for strategy {strategy!r} lacks {', '.join(missing)}; pass "
                            "what state_dict() of the same strategy returned")
