"""Resource constraints over arrays of costs (the parsing is :mod:`archspace.study.constraints`)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from archspace.study.constraints import Constraint, parse_constraints

__all__ = ["Constraints", "as_constraints", "satisfied"]

Constraints = Sequence[str | Constraint]

_OPS: dict[str, Callable[[npt.NDArray[np.int64], float], npt.NDArray[np.bool_]]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}


def as_constraints(items: Constraints) -> tuple[Constraint, ...]:
    """Parsed constraints from strings (``"peak_sram<=320kB"``) or :class:`Constraint` objects."""
    out: list[Constraint] = []
    for c in items:
        out.extend(parse_constraints([c]) if isinstance(c, str) else [c])
    return tuple(out)


def satisfied(constraints: Sequence[Constraint],
              costs: Mapping[str, npt.NDArray[np.int64]]) -> npt.NDArray[np.bool_]:
    """Boolean mask of the rows of ``costs`` (arrays keyed like a Profile's fields) that
    satisfy every constraint (elementwise :meth:`Constraint.holds`)."""
    n = len(next(iter(costs.values())))
    ok = np.ones(n, dtype=bool)
    for c in constraints:
        ok &= _OPS[c.op](costs[c.key], c.limit)
    return ok
