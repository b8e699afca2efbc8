"""A decision: one named categorical choice among named options, possibly conditional."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from archspace.errors import SpaceError

__all__ = ["Decision", "Value"]

Value = str | int | float | bool
_FORBIDDEN = set(",= \t\n")


@dataclass(frozen=True)
class Decision:
    """A categorical decision.

    ``when`` makes the decision conditional: it is active only when the decision named
    ``when[0]`` (which must come earlier in the space) takes one of the values ``when[1]``.
    An inactive decision takes the value ``None`` in an :class:`~archspace.space.Arch`.
    """

    name: str
    choices: tuple[Value, ...]
    when: tuple[str, frozenset[Value]] | None = None
    doc: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.choices:
            raise SpaceError(f"decision {self.name!r} has no choices")
        if len(set(self.choices)) != len(self.choices):
            raise SpaceError(f"decision {self.name!r} has repeated choices {self.choices}")
        if _FORBIDDEN & set(self.name):
            raise SpaceError(f"decision name {self.name!r} may not contain ',', '=' or spaces")

    @staticmethod
    def of(name: str, choices: Iterable[Value], when: tuple[str, Iterable[Value]] | None = None,
           doc: str = "") -> Decision:
        """Build a decision from any iterables."""
        cond = None if when is None else (when[0], frozenset(when[1]))
        return Decision(name, tuple(choices), cond, doc)

    def index(self, value: Value) -> int:
        """Position of ``value`` among the choices (ValueError if absent)."""
        return self.choices.index(value)

    def with_choices(self, choices: Iterable[Value]) -> Decision:
        """The same decision with fewer choices, order kept."""
        keep = set(choices)
        return Decision(self.name, tuple(c for c in self.choices if c in keep), self.when, self.doc)

    def describe(self) -> str:
        """The allowed values, for error messages."""
        return ", ".join(str(c) for c in self.choices)
