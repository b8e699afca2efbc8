"""The ask/tell interface every search strategy implements.

The study loop owns evaluation; a strategy only proposes architectures and learns from results:

* :meth:`Strategy.ask` is called whenever the study wants a new candidate. It may be called
  several times before any result arrives (parallel, asynchronous evaluation), so a strategy
  must not assume one ask is followed by its tell.
* :meth:`Strategy.tell` is called exactly once for every asked architecture, possibly out of
  order, with the result: ``score`` (the scalar to maximise, ``None`` when the trial failed or
  was infeasible) and ``objectives`` (all maximised; used by multi-objective strategies).
* Given the same seed and the same sequence of ask/tell calls a strategy proposes the same
  architectures: a study resumes by replaying its recorded history into a fresh strategy.
* :meth:`state_dict` / :meth:`load_state_dict` save and restore the strategy's state as
  JSON-serialisable data (a faster alternative to replay for long studies).
* :meth:`constrain` hands over the study's hard constraints as a predicate (the analytic cost
  model: free to call). Strategies that can (:attr:`Strategy.avoids_infeasible`, every catalog
  strategy) then propose only archs it accepts; others keep proposing and learn from the
  ``None`` score the study tells for an infeasible arch.

Modelled on Optuna's sampler contract (optuna/samplers/_base.py) and pyglove's DNAGenerator.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from archspace.errors import ArchspaceError
from archspace.space import Arch, Space

__all__ = ["Strategy", "StrategyError"]


class StrategyError(ArchspaceError):
    """Unknown strategy, a bad strategy option, or a state that does not fit the strategy."""


class Strategy(ABC):
    """Base class of search strategies (see the module docstring for the contract)."""

    name: ClassVar[str] = "strategy"
    summary: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    #: True when the strategy uses ``objectives`` rather than the scalar score.
    multi_objective: ClassVar[bool] = False
    #: True when the strategy proposes only archs the :meth:`constrain` predicate accepts
    #: (as far as a bounded number of draws finds one).
    avoids_infeasible: ClassVar[bool] = False

    def __init__(self, space: Space, seed: int = 0) -> None:
        self.space = space
        self.seed = seed
        self.rng = random.Random(seed)
        self.feasible: Callable[[Arch], bool] | None = None

    def constrain(self, feasible: Callable[[Arch], bool] | None) -> None:
        """Whether an arch meets the study's hard constraints (None: no constraints). Set it
        before the first ask or :meth:`load_state_dict`; it must be deterministic, so a replay
        proposes the same archs."""
        self.feasible = feasible

    def is_feasible(self, arch: Arch) -> bool:
        """What the :meth:`constrain` predicate says of ``arch`` (True without one)."""
        return self.feasible is None or self.feasible(arch)

    @abstractmethod
    def ask(self) -> Arch:
        """The next architecture to evaluate."""

    @abstractmethod
    def tell(self, arch: Arch, score: float | None, objectives: Sequence[float] = ()) -> None:
        """The result of evaluating ``arch`` (``score`` None: failed or infeasible)."""

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (default: the random generator's state)."""
        version, internal, gauss = self.rng.getstate()
        return {"rng": [version, list(internal), gauss]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))
