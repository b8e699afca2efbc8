"""Local search with random restarts.

White, Nolen, Ravi & Savani, "Local Search is State of the Art for Neural Architecture Search
Benchmarks", ICML AutoML workshop 2020 (and "Exploring the Loss Landscape in Neural Architecture
Search", UAI 2021): start from the best of ``init`` random archs, evaluate neighbours (archs one
decision away, :meth:`Space.neighbours`) and move to a better one; at a local optimum restart
from the best of ``restart`` new random archs. ``first`` improvement evaluates neighbours in
random order and moves at the first better one; ``best`` evaluates the whole neighbourhood and
moves to its best. ``distinct`` skips archs equivalent to one already proposed
(:meth:`Space.canonical`); it is off by default, as in the paper.
"""

from __future__ import annotations

from typing import ClassVar

from archspace.limits import MAX_BUDGET
from archspace.space import Space
from archspace.strategies.climbing import ClimbingStrategy
from archspace.strategies.options import Option

__all__ = ["LocalSearch"]


class LocalSearch(ClimbingStrategy):
    """Hill climbing over one-decision neighbours with random restarts (White et al. 2020)."""

    name = "local"
    summary = "Local search over one-decision neighbours, random restarts at local optima."
    paper = "White et al. 2020, Local Search is State of the Art for NAS Benchmarks (ICML AutoML WS)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("init", 10, int, "random archs to start from (the best one is the first head)",
               minimum=1, maximum=MAX_BUDGET),
        Option("restart", 10, int, "random archs drawn at each restart", minimum=1, maximum=MAX_BUDGET),
        Option("improvement", "first", str, "move at the first better neighbour, or after "
               "evaluating all of them to the best", choices=("first", "best")),
        Option("distinct", False, bool, "propose one arch per class of functionally equivalent "
               "archs (spaces that define them, e.g. nb201)"),
    )

    def __init__(self, space: Space, seed: int = 0, init: int = 10, restart: int = 10,
                 improvement: str = "first", distinct: bool = False) -> None:
        super().__init__(space, seed, init, restart, improvement, distinct=distinct)
