"""Plugin options: declared once per estimator or strategy class, checked in one place.

Options arrive either as Python values (``get_estimator("train", epochs=3)``) or as strings from a
command line (``epochs=3``); :func:`resolve_options` converts strings to the declared type,
checks bounds, choices and predicates, and fills in defaults. Every failure raises the caller's
error class (an :class:`~archspace.errors.ArchspaceError`) naming the option and what it allows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archspace.errors import ArchspaceError
from archspace.limits import MAX_OPTION_INT

__all__ = ["Option", "resolve_options"]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_KINDS = {bool: "true or false", int: "an integer", float: "a number"}


@dataclass(frozen=True)
class Option:
    """One option.

    ``type`` is the type of a set value (``bool``, ``int``, ``float`` or ``str``); an option whose
    default is ``None``, or that is ``nullable``, may also be unset (``none`` on a command line).
    Numbers may have ``minimum``/``maximum`` bounds, strings ``choices``; ``check`` returns True
    for an acceptable value and ``requirement`` says in words what that is. A float must be
    finite; an integer without a ``maximum`` is capped at
    :data:`~archspace.limits.MAX_OPTION_INT` (and at ``-MAX_OPTION_INT`` without a
    ``minimum``), so that no value overflows a C integer downstream.
    """

    name: str
    default: Any
    type: type
    help: str
    choices: tuple[str, ...] | None = None
    check: Callable[[Any], bool] | None = None
    requirement: str = ""
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """The lowest and highest value allowed (None: no bound), the integer caps included."""
        if self.type is int:
            return (-MAX_OPTION_INT if self.minimum is None else self.minimum,
                    MAX_OPTION_INT if self.maximum is None else self.maximum)
        return self.minimum, self.maximum

    @property
    def may_be_none(self) -> bool:
        """Whether the option may be unset."""
        return self.nullable or self.default is None

    def describe(self) -> str:
        """What the option allows, for error messages and listings."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        kind = self.requirement or _KINDS.get(self.type, "a string")
        low, high = self.bounds
        if self.requirement:  # it says the lower bound in words; add a maximum
            if high is not None:
                kind += f" (at most {_number(high)})"
        elif self.type is int and low is not None and high is not None:
            kind += f" in {_number(low)}..{_number(high)}"
        elif low is not None and high is not None:
            kind += f" in [{_number(low)}, {_number(high)}]"
        elif low is not None:
            kind += f" >= {_number(low)}"
        elif high is not None:
            kind += f" <= {_number(high)}"
        return kind + (" or none" if self.may_be_none else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON form for ``archspace estimators --json`` / ``archspace strategies --json``."""
        return {"name": self.name, "default": self.default, "type": self.type.__name__,
                "help": self.help, "allowed": self.describe()}

    def convert(self, owner: str, value: Any, kind: str = "plugin",
                error: Callable[[str], ArchspaceError] = ArchspaceError) -> Any:
        """``value`` (a Python value or a string) as this option's type, checked."""
        bad = error(f"option {self.name}={_show(value)} of {kind} {owner!r} must be "
                    f"{self.describe()} (default {self.default!r})")
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "")
                             and self.type is not str):
            if self.may_be_none:
                return None
            raise bad
        try:
            out = self._cast(value)
        except (TypeError, ValueError, OverflowError):
            raise bad from None
        if self.choices is not None and out not in self.choices:
            raise bad
        if self.type in (int, float):
            low, high = self.bounds
            if ((self.type is float and not math.isfinite(out))
                    or (low is not None and out < low) or (high is not None and out > high)):
                raise bad
        if self.check is not None and not self.check(out):
            raise bad
        return out

    def _cast(self, value: Any) -> Any:
        if self.type is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            raise ValueError(text)
        if isinstance(value, bool):
            raise ValueError(value)
        if self.type is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value.strip()) if isinstance(value, str) else int(value)
        if self.type is float:
            return float(value)
        return str(value)


def resolve_options(kind: str, owner: str, options: Sequence[Option], given: Mapping[str, Any],
                    error: type[ArchspaceError] = ArchspaceError) -> dict[str, Any]:
    """Every option of ``owner`` (an estimator or strategy): the given ones converted and
    checked, the rest defaults."""
    known = {o.name: o for o in options}
    for key in given:
        if key not in known:
            raise error(f"{kind} {owner!r} has no option {key!r}; allowed: "
                        f"{', '.join(known) or '(none)'}")
    return {name: (opt.convert(owner, given[name], kind, error) if name in given else opt.default)
            for name, opt in known.items()}


def _number(x: float) -> str:
    """A bound as written: ``1000000000``, ``0.5``, ``1e-08``."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else f"{x:g}"


def _show(value: Any) -> str:
    """``repr`` of a given value, short enough for one line."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"(an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits)"
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."
