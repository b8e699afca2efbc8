"""Which path a supernet trains at each step: uniform, connected, or fair.

``uniform``
    every decision uniformly (``space.sample``), as SPOS does (Guo et al., "Single Path
    One-Shot Neural Architecture Search with Uniform Sampling", ECCV 2020).
``connected``
    uniform, redrawn while the path has a node whose value does not depend on the input (a
    cell node all of whose inputs are ``none`` edges, or an op fed only by such a node): such a
    node passes no signal, so the weights after it get no useful gradient. SETN's uniform
    sampler over the NAS-Bench-201 cell redraws such cells (Dong & Yang, "One-Shot Neural
    Architecture Search via Self-Evaluated Template Network", ICCV 2019).
``fair``
    strict fairness (Chu et al., "FairNAS: Rethinking Evaluation Fairness of Weight Sharing
    Neural Architecture Search", ICCV 2021): the steps go in groups of as many paths as the
    largest decision has choices; in each group every decision runs through a random
    permutation of its choices, so every op of every edge is trained exactly once per group
    (one path per step here; FairNAS sums the group's gradients into one update). A path of the
    group that breaks a constraint of the space is replaced by a uniform draw.

Every path is a function of the seed and the step, so a resumed run draws the same paths.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from archspace.errors import ArchError
from archspace.ir.graph import Graph
from archspace.space import Arch, Space
from archspace.space.base import Value

if TYPE_CHECKING:
    from archspace.supernet.core import Supernet

__all__ = ["SAMPLERS", "dead_nodes", "is_connected", "path_sampler"]

SAMPLERS = ("uniform", "connected", "fair")
#: Redraws ``connected`` tries before giving up (a space where almost no arch is connected).
MAX_REDRAWS = 1000


def dead_nodes(graph: Graph) -> list[str]:
    """Names of the nodes that keep the network's input from mattering.

    A node is *constant* when it is a ``zero`` op or every input of it is constant (its value
    does not depend on the network's input). Dead: a constant node that is not a ``zero`` op
    (an op or sum fed only by constants), and a ``zero`` op whose value is used by anything but
    a sum or concatenation that is not constant (a cell node that is a lone ``none`` edge).
    A ``none`` edge into a node that has a live input too is not dead: it is a term of a sum.
    """
    nodes = list(graph.nodes)
    const: dict[int, bool] = {}
    users: dict[int, list[int]] = {}
    for n in nodes:
        for i in n.inputs:
            users.setdefault(i, []).append(n.id)
        const[n.id] = n.op == "zero" or (n.op != "input" and bool(n.inputs)
                                          and all(const[i] for i in n.inputs))
    by_id = {n.id: n for n in nodes}
    dead = []
    for n in nodes:
        if not const[n.id]:
            continue
        if n.op != "zero":
            dead.append(n.name)
            continue
        for u in users.get(n.id, ()):
            user = by_id[u]
            if user.op not in ("add", "concat") or const[u]:
                dead.append(n.name)
                break
    return dead


def is_connected(sn: Supernet, arch: Arch) -> bool:
    """Whether every node of ``arch`` (in ``sn``'s space) depends on the input: no
    :func:`dead_nodes` in its graph."""
    return not dead_nodes(sn._plan_of(arch).graph)


def _fair(space: Space, seed: int, step: int) -> Arch:
    width = max(len(d.choices) for d in space.decisions)
    group, k = divmod(step, width)
    rng = random.Random(f"fair:{seed}:{group}")
    values: list[Value | None] = [None] * len(space.decisions)
    for i, d in enumerate(space.decisions):
        order = list(d.choices)
        rng.shuffle(order)
        # a decision of fewer choices repeats its permutation (its first choices once more)
        values[i] = order[k % len(order)] if space._active(i, values) else None
    if space._violation(values) is None:
        return Arch(space.names, tuple(values))
    return space.sample(random.Random(f"fair:{seed}:{step}:fallback"))


def path_sampler(sn: Supernet, kind: str, seed: int) -> Callable[[int, int], list[Arch]]:
    """``draw(step, count)``: the ``count`` random paths of ``step`` in a run with ``seed``, by
    ``kind`` (:data:`SAMPLERS`). ``uniform`` draws what SPOS training always drew."""
    space = sn.space
    if kind not in SAMPLERS:
        raise ArchError(f"unknown sampler {kind!r}; allowed: {', '.join(SAMPLERS)}")
    if kind == "fair":
        return lambda step, count: [_fair(space, seed, step * count + k) for k in range(count)]

    def one(rng: random.Random) -> Arch:
        arch = space.sample(rng)
        if kind == "uniform":
            return arch
        for _ in range(MAX_REDRAWS):
            if is_connected(sn, arch):
                return arch
            arch = space.sample(rng)
        raise ArchError(f"sampler=connected found no connected arch of {space.label} in "
                        f"{MAX_REDRAWS} draws; allowed: sampler=uniform")

    def draw(step: int, count: int) -> list[Arch]:
        rng = random.Random(f"spos:{seed}:{step}")  # as train._step_rng
        return [one(rng) for _ in range(count)]

    return draw
