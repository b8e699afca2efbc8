"""Counting and uniform sampling of constrained sequences ("chains") of decisions.

Several catalog spaces constrain consecutive decisions pairwise: Auto-DeepLab's path moves at
most one level per layer, AnyNetXD/E widths and depths never decrease. A chain is a list of
positions, each with its own allowed values (after any ``restrict``), and a predicate
``ok(prev, cur)`` on neighbours (``prev`` is ``None`` for the first position). Backward dynamic
programming gives the exact number of valid chains and lets us draw one uniformly among them,
which is the distribution rejection sampling would give, without the rejections. The table is
cached per (choices, predicate), so repeated sampling from one space costs O(positions x values).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["count_chains", "sample_chain"]

V = TypeVar("V")
Ok = Callable[[V | None, V], bool]


def _completions(choices: Sequence[Sequence[V]], ok: Ok[V]) -> tuple[tuple[int, ...], ...]:
    """``table[i][k]``: valid ways to finish the chain given position i takes ``choices[i][k]``."""
    return _table(tuple(tuple(c) for c in choices), ok)


@functools.lru_cache(maxsize=256)
def _table(choices: tuple[tuple[V, ...], ...], ok: Ok[V]) -> tuple[tuple[int, ...], ...]:
    n = len(choices)
    if n == 0:
        return ()
    table: list[tuple[int, ...]] = [()] * n
    table[-1] = (1,) * len(choices[-1])
    for i in range(n - 2, -1, -1):
        nxt = choices[i + 1]
        table[i] = tuple(sum(c for w, c in zip(nxt, table[i + 1], strict=True) if ok(v, w))
                         for v in choices[i])
    return tuple(table)


def count_chains(choices: Sequence[Sequence[V]], ok: Ok[V]) -> int:
    """Number of sequences ``v[i] in choices[i]`` with ``ok(v[i-1], v[i])`` everywhere."""
    if not choices:
        return 1
    table = _completions(choices, ok)
    return sum(c for v, c in zip(choices[0], table[0], strict=True) if ok(None, v))


def _pick(options: list[tuple[V, int]], rng: random.Random) -> V:
    r = rng.randrange(sum(c for _, c in options))
    for v, c in options:
        if r < c:
            return v
        r -= c
    raise AssertionError("unreachable")  # pragma: no cover


def sample_chain(choices: Sequence[Sequence[V]], ok: Ok[V], rng: random.Random) -> list[V] | None:
    """A valid chain drawn uniformly among all valid chains, or None if there is none."""
    table = _completions(choices, ok)
    out: list[V] = []
    prev: V | None = None
    for i, opts in enumerate(choices):
        weighted = [(v, c) for v, c in zip(opts, table[i], strict=True) if c and ok(prev, v)]
        if not weighted:
            return None
        prev = _pick(weighted, rng)
        out.append(prev)
    return out
