"""Building a study's space, estimator and strategy from its stored configuration.

The catalog and the two registries are the default sources; :class:`Factories` lets tests and
library users plug in their own (a resumed study must be rebuilt with the same factories).

A stored configuration is data: with the default space factory, a user space it names
(``module:Class``) is imported only with the caller's consent, the ``trust`` argument (see
:func:`archspace.spaces.check_trusted`). Custom factories are the caller's own code and decide
for themselves what they build.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archspace.estimators.base import Estimator
from archspace.space import Space
from archspace.spaces import Trust, check_trusted
from archspace.strategies.base import Strategy

__all__ = ["Components", "Factories", "build_components", "build_evaluation"]


def _default_space(name: str, **params: Any) -> Space:
    from archspace.spaces import get_space

    return get_space(name, **params)


def _default_estimator(name: str, **options: Any) -> Estimator:
    from archspace.estimators import get_estimator

    return get_estimator(name, **options)


def _default_strategy(name: str, space: Space, seed: int = 0, **options: Any) -> Strategy:
    from archspace.strategies import get_strategy

    return get_strategy(name, space, seed=seed, **options)


@dataclass(frozen=True)
class Factories:
    """Callables with the registries' signatures: ``space(name, **params)``,
    ``estimator(name, **options)``, ``strategy(name, space, seed=, **options)``."""

    space: Callable[..., Space] = field(default=_default_space)
    estimator: Callable[..., Estimator] = field(default=_default_estimator)
    strategy: Callable[..., Strategy] = field(default=_default_strategy)


@dataclass(frozen=True)
class Components:
    """The live objects a study runs with."""

    space: Space
    estimator: Estimator
    strategy: Strategy


def _tuples(params: Mapping[str, Any]) -> dict[str, Any]:
    """JSON turns tuples into lists; space parameters are tuples (hashable)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def build_evaluation(factories: Factories, space: str, space_params: Mapping[str, Any],
                     estimator: str, estimator_options: Mapping[str, Any], *, trust: Trust = False,
                     source: str = "the study") -> tuple[Space, Estimator]:
    """The space and estimator of a stored configuration (no strategy: what reading or
    exporting a study needs). A configuration read from a file (``source``, e.g.
    ``"study s.db"``) is rebuilt with ``trust=False`` unless the user consented; a user space is
    then refused before it is imported."""
    if factories.space is _default_space or isinstance(trust, str):
        check_trusted(space, trust, source)
    return (factories.space(space, **_tuples(space_params)),
            factories.estimator(estimator, **dict(estimator_options)))


def build_components(factories: Factories, space: str, space_params: Mapping[str, Any],
                     estimator: str, estimator_options: Mapping[str, Any], strategy: str,
                     strategy_options: Mapping[str, Any], seed: int, *, trust: Trust = False,
                     source: str = "the study") -> Components:
    """Instantiate and cross-check the three pieces (raises ArchspaceError on bad input;
    ``trust`` and ``source`` as for :func:`build_evaluation`)."""
    sp, est = build_evaluation(factories, space, space_params, estimator, estimator_options,
                               trust=trust, source=source)
    est.check_space(sp)
    strat = factories.strategy(strategy, sp, seed=seed, **dict(strategy_options))
    names = getattr(strat, "prior_names", ())
    if names:  # a zero-cost prior scores the estimator's data (estimators/prior.py)
        from archspace.estimators.prior import ProxyPrior

        prior = ProxyPrior.for_estimator(names, sp, est, getattr(strat, "prior_dataset", None))
        prior.check()
        strat.use_prior(prior)  # type: ignore[attr-defined]
    if getattr(strat, "needs_estimator", False):  # a differentiable search trains on its data
        strat.use_estimator(est)  # type: ignore[attr-defined]
    return Components(sp, est, strat)
