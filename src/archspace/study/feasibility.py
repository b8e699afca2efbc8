"""Whether a study's hard constraints can be met at all, found out before any evaluation.

A study whose constraints no architecture meets would otherwise spend its whole budget on
``infeasible`` trials. Before the first trial, :func:`check_feasible` draws a seeded sample of
the space (:data:`PROBE_SAMPLES` archs, fewer if the cost model is slow: at most
:data:`PROBE_SECONDS` of CPU time after the first :data:`PROBE_MIN` archs) and prices each with
the estimator's cost model, the one the study screens with. If none meets every constraint,
the study is refused with one line naming each constraint, the smallest (or largest) value
seen, and how many sampled archs met it alone. A space whose feasible archs are rarer than
about one in a thousand random draws is refused too: loosen the constraints or restrict the
space (``Space.restrict``) to the region where they hold.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence

from archspace.errors import ArchspaceError
from archspace.space.arch import Arch
from archspace.space.base import Space
from archspace.study.constraints import Constraint, violated

__all__ = ["PROBE_MIN", "PROBE_SAMPLES", "PROBE_SECONDS", "InfeasibleConstraints",
           "check_feasible"]

PROBE_SAMPLES = 1000
PROBE_MIN = 100
PROBE_SECONDS = 5.0

_UNITS = {"macs": "MACs", "params": "parameters", "peak_sram": "B", "flash": "B",
          "latency": "ms"}


class InfeasibleConstraints(ArchspaceError):
    """No sampled architecture meets the study's constraints."""


def check_feasible(space: Space, cost_of: Callable[[Arch], Mapping[str, float]],
                   constraints: Sequence[Constraint], seed: int = 0) -> int:
    """Return how many archs were priced before one met every constraint; raise
    :class:`InfeasibleConstraints` if none of the sample does. Archs the cost model cannot
    price are skipped (the study records them as failed)."""
    if not constraints:
        return 0
    rng = random.Random(f"archspace-feasibility-{seed}")
    extreme: dict[Constraint, float] = {}
    met = dict.fromkeys(constraints, 0)
    priced = n = 0
    start = time.process_time()
    while n < PROBE_SAMPLES:
        n += 1
        arch = space.sample(rng)
        try:
            cost = cost_of(arch)
        except Exception:  # a space that cannot build this arch: the study records it failed
            continue
        priced += 1
        broken = violated(constraints, cost)
        if not broken:
            return n
        for c in constraints:
            v = float(cost[c.key])
            low = c.op.startswith("<")
            old = extreme.get(c)
            extreme[c] = v if old is None else (min(old, v) if low else max(old, v))
            met[c] += c not in broken
        if n >= PROBE_MIN and time.process_time() - start > PROBE_SECONDS:
            break
    raise InfeasibleConstraints(_message(space, constraints, extreme, met, n, priced))


def _message(space: Space, constraints: Sequence[Constraint], extreme: Mapping[Constraint, float],
             met: Mapping[Constraint, int], n: int, priced: int) -> str:
    if not priced:
        return (f"no arch of {n} sampled from space {space.label} could be priced by the cost "
                "model, so constraints cannot be checked; allowed: a space whose archs build")
    parts = []
    for c in constraints:
        word = "smallest" if c.op.startswith("<") else "largest"
        value = f"{extreme[c]:.3g}" if c.metric == "latency" else f"{extreme[c]:,.0f}"
        parts.append(f"{c.text} ({word} seen {value} {_UNITS.get(c.metric, '')}, met by "
                     f"{met[c]:,})")
    alone = all(met[c] for c in constraints)
    why = "each is met by some, none by all; " if alone and len(constraints) > 1 else ""
    return (f"no arch meets the constraints: none of {priced:,} archs sampled from space "
            f"{space.label} meets {'; '.join(parts)}; {why}loosen the constraints or restrict "
            "the space")
