"""Strategy options: the shared :class:`~archspace.options.Option` with
:class:`~archspace.strategies.base.StrategyError` as the error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from archspace.options import Option
from archspace.options import resolve_options as _resolve
from archspace.strategies.base import StrategyError

__all__ = ["Option", "resolve_options"]


def resolve_options(strategy: str, options: Sequence[Option],
                    given: Mapping[str, Any]) -> dict[str, Any]:
    """Every option of ``strategy``: the given ones converted and checked, the rest defaults."""
    return _resolve("strategy", strategy, options, given, StrategyError)
