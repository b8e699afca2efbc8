"""The strategy registry: a table of every built-in search strategy, imported lazily by name.

Adding a strategy means adding one row to :data:`STRATEGIES`; nothing registers itself on
import, and importing this package imports neither torch, optuna nor any strategy module.
Every strategy implements the ask/tell contract of :class:`~archspace.strategies.base.Strategy`
and declares its options (:class:`~archspace.strategies.options.Option`).
"""

from __future__ import annotations

import importlib
from typing import Any

from archspace.space import Space
from archspace.strategies.base import Strategy, StrategyError
from archspace.strategies.options import Option, resolve_options

__all__ = ["DEFAULT_STRATEGY", "STRATEGIES", "Option", "Strategy", "StrategyError", "get_strategy",
           "list_strategies", "strategy_class"]

#: name -> "module:Class", in the order listings show them.
STRATEGIES: dict[str, str] = {
    "guided": "archspace.strategies.guided:GuidedSearch",
    "random": "archspace.strategies.random_search:RandomSearch",
    "evolution": "archspace.strategies.evolution:RegularizedEvolution",
    "local": "archspace.strategies.local_search:LocalSearch",
    "reinforce": "archspace.strategies.reinforce:Reinforce",
    "tpe": "archspace.strategies.optuna_samplers:TPE",
    "nsga2": "archspace.strategies.optuna_samplers:NSGA2",
    "darts": "archspace.strategies.differentiable:DARTS",
    "gdas": "archspace.strategies.differentiable:GDAS",
}

#: The strategy to use when none is named: the best one on NAS-Bench-201 (docs/benchmarks.md).
DEFAULT_STRATEGY = "guided"


def strategy_class(name: str) -> type[Strategy]:
    """The class implementing strategy ``name``."""
    if name not in STRATEGIES:
        raise StrategyError(f"unknown strategy {name!r}; available: {', '.join(STRATEGIES)}")
    module, cls = STRATEGIES[name].split(":")
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]


def _options(cls: type[Strategy]) -> tuple[Option, ...]:
    return tuple(getattr(cls, "options", ()))


def get_strategy(name: str, space: Space, seed: int = 0, **options: Any) -> Strategy:
    """Strategy ``name`` on ``space`` with ``seed`` and ``options`` (Python values or
    command-line strings; unknown or malformed options raise :class:`StrategyError` listing the
    allowed ones)."""
    cls = strategy_class(name)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise StrategyError(f"seed of strategy {name!r} must be an integer, not {seed!r}")
    return cls(space, seed, **resolve_options(name, _options(cls), options))  # type: ignore[call-arg]


def list_strategies() -> list[dict[str, Any]]:
    """Every strategy as JSON-ready data: name, summary, paper, whether it is multi-objective
    and whether it avoids infeasible archs, and its options (name, default, type, help, allowed
    values)."""
    out = []
    for name in STRATEGIES:
        cls = strategy_class(name)
        out.append({"name": name, "summary": cls.summary, "paper": cls.paper,
                    "multi_objective": cls.multi_objective,
                    "avoids_infeasible": cls.avoids_infeasible, "default": name == DEFAULT_STRATEGY,
                    "options": [o.to_dict() for o in _options(cls)]})
    return out
