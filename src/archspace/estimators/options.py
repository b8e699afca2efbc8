"""Estimator options: declared once per estimator class, checked and converted in one place.

Options arrive either as Python values (``get_estimator("train", epochs=3)``) or as strings from a
command line (``epochs=3``); :func:`resolve_options` converts strings to the declared type,
checks ranges and choices, and fills in defaults. Every failure raises
:class:`~archspace.estimators.base.EstimatorError` naming the option and what it allows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archspace.estimators.base import EstimatorError

__all__ = ["Option", "parse_option_pairs", "resolve_options"]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Option:
    """One estimator option.

    ``type`` is the type of a set value (``bool``, ``int``, ``float`` or ``str``); an option whose
    default is ``None``, or that is ``nullable``, may also be unset (``none`` on a command line).
    ``check`` returns True for an acceptable value and ``requirement`` says in words what that is.
    """

    name: str
    default: Any
    type: type
    help: str
    choices: tuple[str, ...] | None = None
    check: Callable[[Any], bool] | None = None
    requirement: str = ""
    nullable: bool = False

    @property
    def may_be_none(self) -> bool:
        """Whether the option may be unset."""
        return self.nullable or self.default is None

    def describe(self) -> str:
        """What the option allows, for error messages."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        kind = self.requirement or {bool: "true or false", int: "an integer",
                                    float: "a number"}.get(self.type, "a string")
        return kind + (" or none" if self.may_be_none else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON form for ``archspace estimators --json``."""
        return {"name": self.name, "default": self.default, "type": self.type.__name__,
                "help": self.help, "allowed": self.describe()}

    def convert(self, estimator: str, value: Any) -> Any:
        """``value`` (a Python value or a string) as this option's type, checked."""
        bad = EstimatorError(f"option {self.name}={value!r} of estimator {estimator!r} must be "
                             f"{self.describe()} (default {self.default!r})")
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "")
                             and self.type is not str):
            if self.may_be_none:
                return None
            raise bad
        try:
            out = self._cast(value)
        except (TypeError, ValueError):
            raise bad from None
        if self.choices is not None and out not in self.choices:
            raise bad
        if self.check is not None and not self.check(out):
            raise bad
        return out

    def _cast(self, value: Any) -> Any:
        if self.type is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(text)
        if self.type is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(str(value).strip()) if isinstance(value, str) else int(value)
        if self.type is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        return str(value)


def resolve_options(estimator: str, options: Sequence[Option],
                    given: Mapping[str, Any]) -> dict[str, Any]:
    """Every option of ``estimator``: the given ones converted and checked, the rest defaults."""
    known = {o.name: o for o in options}
    for key in given:
        if key not in known:
            raise EstimatorError(f"estimator {estimator!r} has no option {key!r}; allowed: "
                                 f"{', '.join(known) or '(none)'}")
    return {name: (opt.convert(estimator, given[name]) if name in given else opt.default)
            for name, opt in known.items()}


def parse_option_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """``["epochs=3", "dataset=digits"]`` -> ``{"epochs": "3", "dataset": "digits"}`` (the
    values stay strings; :func:`resolve_options` converts them)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        key = key.strip()
        if not eq or not key:
            raise EstimatorError(f"malformed estimator option {pair!r}; expected NAME=VALUE")
        if key in out:
            raise EstimatorError(f"estimator option {key!r} given twice")
        out[key] = value.strip()
    return out
