"""An architecture: an immutable, hashable assignment of every decision of a space."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from archspace.space.decision import Value

__all__ = ["Arch"]


class Arch:
    """Values for every decision of a space, in the space's decision order.

    Inactive (conditional) decisions hold ``None``. Two archs are equal when they assign the
    same values to the same decisions. Use the space to build, validate, print or parse one.
    """

    __slots__ = ("_hash", "names", "values")

    names: tuple[str, ...]
    values: tuple[Value | None, ...]
    _hash: int

    def __init__(self, names: tuple[str, ...], values: tuple[Value | None, ...]) -> None:
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "_hash", hash(values))

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError("Arch is immutable")

    def __getitem__(self, name: str) -> Value | None:
        try:
            return self.values[self.names.index(name)]
        except ValueError:
            raise KeyError(name) from None

    def get(self, name: str, default: Value | None = None) -> Value | None:
        """Value of a decision, or ``default`` if the space has no such decision."""
        try:
            return self[name]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def items(self) -> Iterator[tuple[str, Value | None]]:
        """Pairs (decision, value), inactive decisions included."""
        return zip(self.names, self.values, strict=True)

    def to_dict(self) -> dict[str, Value]:
        """The active decisions as a plain dict (the JSON form)."""
        return {n: v for n, v in self.items() if v is not None}

    def to_json(self) -> str:
        """One-line JSON of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    def replace(self, **changes: Any) -> Arch:
        """A copy with some values changed (not validated; use ``space.validate``)."""
        vals = list(self.values)
        for name, value in changes.items():
            vals[self.names.index(name)] = value
        return Arch(self.names, tuple(vals))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Arch):
            return NotImplemented
        return self._hash == other._hash and self.values == other.values and self.names == other.names

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={v!r}" for n, v in self.items() if v is not None)
        return f"Arch({inner})"

    def __reduce__(self) -> tuple[type[Arch], tuple[tuple[str, ...], tuple[Value | None, ...]]]:
        return (Arch, (self.names, self.values))
