"""Strategy options: declared once per strategy class, converted and checked in one place.

Options arrive as Python values (``get_strategy("evolution", space, population=20)``) or as
strings from a command line (``-s population=20``); :func:`resolve_options` converts strings to
the declared type, checks ranges and choices and fills in defaults. Every failure raises
:class:`~archspace.strategies.base.StrategyError` naming the option and what it allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archspace.strategies.base import StrategyError

__all__ = ["Option", "resolve_options"]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Option:
    """One strategy option: its type (``bool``, ``int``, ``float`` or ``str``), default and help;
    numbers may have a lower (``minimum``) and upper (``maximum``) bound, strings ``choices``."""

    name: str
    default: Any
    type: type
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None

    def describe(self) -> str:
        """What the option allows, for error messages and listings."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.type is bool:
            return "true or false"
        kind = "an integer" if self.type is int else "a number" if self.type is float else "a string"
        if self.minimum is not None and self.maximum is not None:
            return f"{kind} in [{self.minimum:g}, {self.maximum:g}]"
        if self.minimum is not None:
            return f"{kind} >= {self.minimum:g}"
        return kind

    def to_dict(self) -> dict[str, Any]:
        """JSON form for ``archspace strategies --json``."""
        return {"name": self.name, "default": self.default, "type": self.type.__name__,
                "help": self.help, "allowed": self.describe()}

    def convert(self, strategy: str, value: Any) -> Any:
        """``value`` (a Python value or a string) as this option's type, checked."""
        try:
            out = self._cast(value)
        except (TypeError, ValueError):
            out = None
        ok = out is not None and (self.choices is None or out in self.choices)
        if ok and self.type in (int, float):
            ok = ((self.minimum is None or out >= self.minimum)
                  and (self.maximum is None or out <= self.maximum))
        if not ok:
            raise StrategyError(f"option {self.name}={value!r} of strategy {strategy!r} must be "
                                f"{self.describe()} (default {self.default!r})")
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


def resolve_options(strategy: str, options: Sequence[Option],
                    given: Mapping[str, Any]) -> dict[str, Any]:
    """Every option of ``strategy``: the given ones converted and checked, the rest defaults."""
    known = {o.name: o for o in options}
    for key in given:
        if key not in known:
            raise StrategyError(f"strategy {strategy!r} has no option {key!r}; allowed: "
                                f"{', '.join(known) or '(none)'}")
    return {name: (opt.convert(strategy, given[name]) if name in given else opt.default)
            for name, opt in known.items()}
