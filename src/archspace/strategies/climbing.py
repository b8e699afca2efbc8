"""Hill climbing over :meth:`Space.neighbours` with restarts: the engine of ``local`` and ``guided``.

A *climber* starts from the best of a batch of random archs (its *head*) and proposes unseen
neighbours of the head. With ``first`` improvement the head moves to the first neighbour told
better than it; with ``best`` improvement it moves to the best neighbour once all of them are
told. A climber is *stalled* when its head has no unseen neighbour left (a local optimum) or,
when a ``patience`` is set, after that many neighbours in a row failed to improve it. Then the
strategy resumes the suspended climber with the best head if that is not the stalled one (it
still has unseen neighbours), else starts a new climber from a fresh random batch.

With ``distinct``, archs equivalent to one already proposed (:meth:`Space.canonical`) count as
seen: neither sampled nor proposed as neighbours. Archs that break the study's hard constraints
(:meth:`Strategy.constrain`) are skipped the same way.

Asks may run ahead of tells: a climber proposes further unseen neighbours of its head while
results are pending, and a batch's remaining samples are proposed before any of them is told.
Subclasses choose which neighbour to propose (:meth:`ClimbingStrategy._choose`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from archspace.space import Arch, Space
from archspace.strategies.base import Strategy, StrategyError
from archspace.strategies.pieces import (
    Ledger,
    UniqueSampler,
    check_state,
    decode,
    encode,
    rng_from_state,
    rng_state,
    unseen,
)

__all__ = ["Climber", "ClimbingStrategy"]

_SAMPLE, _MOVE, _EXTRA = "sample", "move", "extra"


@dataclass
class Climber:
    """One hill climb: its head (best arch so far), pending batch samples and failure count."""

    head: Arch | None = None
    head_score: float | None = None
    to_sample: int = 0
    fails: int = 0
    pending_moves: int = 0
    best_move: tuple[Arch, float] | None = None

    def better(self, score: float | None) -> bool:
        """Whether ``score`` beats the head."""
        return score is not None and (self.head_score is None or score > self.head_score)

    def take(self, arch: Arch, score: float) -> None:
        """Make ``arch`` the head."""
        self.head, self.head_score, self.fails, self.best_move = arch, score, 0, None


def _score(c: Climber) -> float:
    return float("-inf") if c.head_score is None else c.head_score


class ClimbingStrategy(Strategy):
    """Hill climbing with restarts (see the module docstring); subclasses pick the neighbour."""

    avoids_infeasible = True

    def __init__(self, space: Space, seed: int, init: int, restart: int, improvement: str,
                 patience: int = 0, distinct: bool = False) -> None:
        super().__init__(space, seed)
        if improvement not in ("first", "best"):
            raise StrategyError(f"improvement must be first or best, not {improvement!r}")
        self.init, self.restart, self.improvement, self.patience = init, restart, improvement, patience
        self.ledger = Ledger(space, distinct, self.is_feasible)
        self.sampler = UniqueSampler(space, self.ledger.skip)
        self.climbers = [Climber(to_sample=init)]
        self.active = 0
        self.origin: dict[Arch, list[tuple[int, str]]] = {}

    # -- proposing ---------------------------------------------------------------------------
    def _choose(self, climber: Climber, candidates: list[Arch]) -> Arch:
        """The neighbour to propose next (default: a random one)."""
        return self.rng.choice(candidates)

    def _sample(self, cid: int) -> Arch:
        """The next arch of climber ``cid``'s starting batch (default: an unseen random one)."""
        return self.sampler.sample(self.rng)

    def _candidates(self, climber: Climber) -> list[Arch]:
        assert climber.head is not None
        return unseen(self.space.neighbours(climber.head), self.ledger.skip, self.ledger.key)

    def _propose(self, arch: Arch, cid: int | None, kind: str) -> Arch:
        self.ledger.asked(arch)
        if cid is not None:
            self.origin.setdefault(arch, []).append((cid, kind))
            if kind == _MOVE:
                self.climbers[cid].pending_moves += 1
        return arch

    def ask(self) -> Arch:
        for _ in range(4):  # a switch makes the next pass propose: at most two switches
            cid = self.active
            c = self.climbers[cid]
            if c.to_sample > 0 or c.head is None:
                c.to_sample = max(0, c.to_sample - 1)
                return self._propose(self._sample(cid), cid, _SAMPLE)
            cands = self._candidates(c)
            if self.improvement == "best" and not cands:
                if c.pending_moves:
                    return self._propose(self.sampler.sample(self.rng), None, _EXTRA)
                if c.best_move is not None and c.better(c.best_move[1]):
                    c.take(*c.best_move)
                    continue
            if not cands or (self.patience and c.fails >= self.patience):
                self._switch()
                continue
            return self._propose(self._choose(c, cands), cid, _MOVE)
        return self._propose(self.sampler.sample(self.rng), None, _EXTRA)

    def _alive(self) -> list[int]:
        """Climbers whose head has unseen neighbours (the first of any sharing a head)."""
        heads: set[Arch] = set()
        out = []
        for i, k in enumerate(self.climbers):
            if k.head is None or k.head in heads:
                continue
            heads.add(k.head)
            if self._candidates(k):
                out.append(i)
        return out

    def _switch(self) -> None:
        """Resume the suspended climber with the best head, or start a new one."""
        alive = self._alive()
        best = max(alive, key=lambda i: _score(self.climbers[i]), default=None)
        if best is not None and best != self.active:
            self.active = best
            self.climbers[best].fails = 0
        else:
            self.climbers.append(Climber(to_sample=self.restart))
            self.active = len(self.climbers) - 1

    # -- learning ----------------------------------------------------------------------------
    def tell(self, arch: Arch, score: float | None, objectives: Sequence[float] = ()) -> None:
        self.ledger.told(arch, score, objectives)
        queue = self.origin.get(arch)
        if not queue:
            return
        cid, kind = queue.pop(0)
        if not queue:
            del self.origin[arch]
        c = self.climbers[cid]
        if kind == _SAMPLE:
            if c.better(score):
                c.take(arch, score)  # type: ignore[arg-type]
            return
        c.pending_moves -= 1
        if self.improvement == "first" and c.better(score):
            c.take(arch, score)  # type: ignore[arg-type]
            return
        c.fails += 1
        if score is not None and (c.best_move is None or score > c.best_move[1]):
            c.best_move = (arch, score)

    # -- state -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        sp = self.space

        def arch(a: Arch | None) -> list[int] | None:
            return None if a is None else encode(sp, a)

        climbers = [[arch(c.head), c.head_score, c.to_sample, c.fails, c.pending_moves,
                     None if c.best_move is None else [arch(c.best_move[0]), c.best_move[1]]]
                    for c in self.climbers]
        origin = [[encode(sp, a), [list(e) for e in q]] for a, q in self.origin.items()]
        return {"rng": rng_state(self.rng), "ledger": self.ledger.state_dict(),
                "climbers": climbers, "active": self.active, "origin": origin}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_state(self.name, state, ("rng", "ledger", "climbers", "active", "origin"))
        sp = self.space

        def arch(a: Sequence[int] | None) -> Arch | None:
            return None if a is None else decode(sp, a)

        rng_from_state(self.rng, state["rng"])
        self.ledger.load_state_dict(state["ledger"])
        self.climbers = []
        for head, score, to_sample, fails, pending, best in state["climbers"]:
            move = None if best is None else (decode(sp, best[0]), float(best[1]))
            self.climbers.append(Climber(arch(head), score, to_sample, fails, pending, move))
        self.active = int(state["active"])
        self.origin = {decode(sp, a): [(int(c), str(k)) for c, k in q] for a, q in state["origin"]}
