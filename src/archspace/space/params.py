"""Space parameters, checked once before a space builds anything.

Every space's constructor starts with :meth:`~archspace.space.Space._record_params`, which calls
:func:`check_params`: each given value must have its default's type (a ``float`` parameter also
takes an integer; a tuple parameter a list) and be finite, and each number (each item, for a
tuple) must lie within its :class:`Limit`. A space declares limits in its ``param_limits``;
a numeric parameter without one may not cross zero from its default (a positive default asks
for positive values, a zero default for non-negative ones). Limits keep structural counts
(blocks, cells, layers) small enough that building, sizing and sampling the space stay fast.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from archspace.errors import ParamError
from archspace.limits import MAX_RESOLUTION

__all__ = ["CHANNELS", "CLASSES", "KERNELS", "RESOLUTION", "WIDTH", "Limit", "check_params",
           "count_up_to", "limits"]


@dataclass(frozen=True)
class Limit:
    """Allowed values of a numeric parameter (of each item, for a tuple): ``low`` to ``high``
    (``low`` excluded when ``open_low``), odd only when ``odd``; ``why`` says what the
    bound protects, for the error message."""

    low: float
    high: float
    open_low: bool = False
    odd: bool = False
    why: str = ""

    def allows(self, value: float) -> bool:
        """Whether ``value`` (finite) is allowed."""
        above = value > self.low if self.open_low else value >= self.low
        return above and value <= self.high and (not self.odd or value % 2 == 1)

    def describe(self, integer: bool) -> str:
        """In words, e.g. ``an odd integer in 1..31`` or ``a number in (0, 100]``."""
        if integer:
            kind = "an odd integer" if self.odd else "an integer"
            if not math.isfinite(self.low):
                return f"{kind} <= {self.high:g}"
            low = math.floor(self.low) + 1 if self.open_low else math.ceil(self.low)
            return f"{kind} in {low}..{self.high:g}" if math.isfinite(self.high) else \
                f"{kind} >= {low}"
        if not math.isfinite(self.high):
            return f"a finite number {'>' if self.open_low else '>='} {self.low:g}"
        return f"a number in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}]"


_TOO_BIG = "larger values make the space too big to build and size"

#: Shared limits of the catalog spaces' common parameters.
RESOLUTION = Limit(1, MAX_RESOLUTION)  # each space checks its own smallest resolution
CLASSES = Limit(1, 100_000)
CHANNELS = Limit(1, 65_536)
WIDTH = Limit(0, 100, open_low=True, why="a multiplier of every channel count")
KERNELS = Limit(1, 31, odd=True, why="odd kernels keep the centre pixel")


def count_up_to(high: int) -> Limit:
    """A structural count (blocks, cells, layers, stages) of at least 1 and at most ``high``."""
    return Limit(1, high, why=_TOO_BIG)


def limits(inherited: Mapping[str, Limit], **more: Limit) -> Mapping[str, Limit]:
    """A space's ``param_limits``: its parent's with ``more`` added (read-only)."""
    return MappingProxyType({**inherited, **more})


def check_params(space: str, given: Mapping[str, Any], defaults: Mapping[str, Any],
                 limits: Mapping[str, Limit]) -> None:
    """Raise :class:`~archspace.errors.ParamError` for the first value in ``given`` that does
    not fit its default's type or its limit (see the module doc)."""
    for key, value in given.items():
        default = defaults.get(key)
        if default is not None:
            _check(space, key, value, default, limits.get(key))


def _check(space: str, key: str, value: Any, default: Any, limit: Limit | None) -> None:
    def bad(allowed: str) -> ParamError:
        return ParamError(f"parameter {key}={_show(value)} of space {space!r} must be {allowed}"
                          f" (default {default!r})")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
    elif isinstance(default, int | float):
        _check_number(value, default, limit, bad)
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise bad("a string")
    elif isinstance(default, tuple | list) and default:
        if not isinstance(value, tuple | list) or not value:
            raise bad("a non-empty list")
        if not isinstance(default[0], bool) and isinstance(default[0], int | float):
            for item in value:
                _check_number(item, default[0], limit, bad, "a list, each item ")


def _check_number(value: Any, default: int | float, limit: Limit | None,
                  bad: Callable[[str], ParamError], prefix: str = "") -> None:
    integer = isinstance(default, int)
    limit = limit or _implied(default)
    allowed = prefix + (limit.describe(integer) if limit else
                        "an integer" if integer else "a finite number")
    if limit and limit.why:
        allowed += f"; {limit.why}"
    if integer:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise bad(allowed)
        value = int(value)
    else:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise bad(allowed)
        try:
            value = float(value)
        except OverflowError:
            raise bad(allowed) from None
        if not math.isfinite(value):
            raise bad(allowed)
    if limit and not limit.allows(value):
        raise bad(allowed)


def _implied(default: int | float) -> Limit | None:
    """The sign a parameter without a declared limit keeps: its default's."""
    if not math.isfinite(default):
        return None
    if default > 0:
        return Limit(0, math.inf, open_low=True)
    if default == 0:
        return Limit(0, math.inf)
    return None


def _show(value: Any) -> str:
    """``repr`` of ``value``, shortened (an integer of thousands of digits stays one line)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"(an integer of {value.bit_length()} bits)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
