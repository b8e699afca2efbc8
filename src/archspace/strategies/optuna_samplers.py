"""Optuna's TPE and NSGA-II samplers behind the ask/tell contract.

Each strategy keeps an in-memory Optuna study and uses Optuna's own ask/tell API
(https://optuna.readthedocs.io/en/stable/tutorial/20_recipes/009_ask_and_tell.html). A proposal
is built define-by-run: decisions are suggested in the space's order as categorical parameters,
and a conditional decision only when it is active given the earlier ones, so Optuna sees exactly
the active decisions of each arch. An arch that breaks a constraint of the space, or the study's
hard constraints (:meth:`Strategy.constrain`), is told to Optuna as failed and asked again. When
Optuna proposes an arch that already has a result, that result is told to the new trial at once
and Optuna is asked again; after a few such repeats Optuna is given a random unseen (and
feasible) arch (an enqueued trial), so queries are not spent on repeats or infeasible archs.
Failed results (score None) are told as failed trials.

Resuming: these strategies' ``state_dict`` is their ask/tell history, and ``load_state_dict``
replays it into the fresh strategy (Optuna's samplers keep state in the study, which is rebuilt
only by replaying).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import TrialState

from archspace.errors import ArchError
from archspace.limits import MAX_BUDGET, MAX_CANDIDATES
from archspace.space import Arch, Space
from archspace.strategies.base import Strategy, StrategyError
from archspace.strategies.options import Option
from archspace.strategies.pieces import Ledger, UniqueSampler, active_index, decode, encode

__all__ = ["NSGA2", "TPE", "OptunaStrategy"]

_TRIES = 3


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence Optuna's per-trial INFO logs and experimental-feature warnings, then restore."""
    logger = logging.getLogger("optuna")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        logger.setLevel(level)


class OptunaStrategy(Strategy):
    """An Optuna sampler driven through ask/tell on an in-memory study."""

    avoids_infeasible = True

    def __init__(self, space: Space, seed: int = 0) -> None:
        super().__init__(space, seed)
        self.ledger = Ledger(space, feasible=self.is_feasible)
        self.sampler = UniqueSampler(space, self.ledger.skip)
        self.events: list[list[Any]] = []
        self.known: dict[Arch, tuple[float | None, tuple[float, ...]]] = {}
        self.trials: dict[Arch, list[int]] = {}
        self.n_values = 1
        self._dists = [CategoricalDistribution(d.choices) for d in space.decisions]
        self.study = self._new_study(self.n_values)

    # -- subclass hooks ----------------------------------------------------------------------
    def _make_sampler(self) -> optuna.samplers.BaseSampler:
        raise NotImplementedError

    def _values(self, score: float, objectives: Sequence[float]) -> list[float]:
        """What Optuna is told for a scored result (maximised)."""
        return [score]

    # -- Optuna plumbing ---------------------------------------------------------------------
    def _new_study(self, n_values: int) -> optuna.Study:
        with _quiet():
            return optuna.create_study(sampler=self._make_sampler(),
                                       directions=["maximize"] * n_values)

    def _suggest(self, trial: optuna.Trial) -> tuple[Any, ...]:
        indices: list[int] = []
        values: list[Any] = []
        for i, d in enumerate(self.space.decisions):
            if not active_index(self.space, i, indices):
                indices.append(-1)
                values.append(None)
                continue
            v = trial.suggest_categorical(d.name, d.choices)
            indices.append(d.choices.index(v))
            values.append(v)
        return tuple(values)

    def _tell(self, number: int, result: tuple[float | None, tuple[float, ...]]) -> None:
        score, objectives = result
        with _quiet():
            if score is None:
                self.study.tell(number, state=TrialState.FAIL)
            else:
                self.study.tell(number, self._values(score, objectives))

    def _params(self, arch: Arch) -> dict[str, Any]:
        return {n: v for n, v in arch.items() if v is not None}

    # -- ask / tell --------------------------------------------------------------------------
    def ask(self) -> Arch:
        self.events.append(["ask"])
        for _ in range(_TRIES):
            with _quiet():
                trial = self.study.ask()
                values = self._suggest(trial)
            try:
                arch = self.space.validate(Arch(self.space.names, values))
            except ArchError:
                self._tell(trial.number, (None, ()))
                continue
            if arch in self.known:
                self._tell(trial.number, self.known[arch])
                continue
            if not self.is_feasible(arch):
                self.known[arch] = (None, ())
                self._tell(trial.number, (None, ()))
                continue
            return self._asked(arch, trial.number)
        # Optuna keeps proposing known (or invalid) archs: hand it a random unseen one instead
        arch = self.sampler.sample(self.rng)
        with _quiet():
            self.study.enqueue_trial(self._params(arch))
            trial = self.study.ask()
            self._suggest(trial)
        return self._asked(arch, trial.number)

    def _asked(self, arch: Arch, number: int) -> Arch:
        self.trials.setdefault(arch, []).append(number)
        self.ledger.asked(arch)
        return arch

    def tell(self, arch: Arch, score: float | None, objectives: Sequence[float] = ()) -> None:
        objectives = tuple(float(v) for v in objectives)
        self.events.append(["tell", encode(self.space, arch), score, list(objectives)])
        self.ledger.told(arch, score, objectives)
        result = (None if score is None else float(score), objectives)
        self._check_values(result)
        self.known[arch] = result
        numbers = self.trials.get(arch)
        if numbers:
            self._tell(numbers.pop(0), result)
        elif score is not None:  # an outside observation: add it as a finished trial
            names = self.space.names
            dists: dict[str, BaseDistribution] = {
                n: d for n, d in zip(names, self._dists, strict=True) if arch[n] is not None}
            with _quiet():
                self.study.add_trial(optuna.trial.create_trial(
                    params=self._params(arch), distributions=dists,
                    values=self._values(score, objectives)))

    def _check_values(self, result: tuple[float | None, tuple[float, ...]]) -> None:
        """Hook for strategies whose number of values comes from the results."""

    # -- state: replay -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"events": [list(e) for e in self.events]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.events:
            raise StrategyError(f"strategy {self.name!r} restores state by replay: load it into a "
                                "freshly created strategy (same space, seed and options)")
        events = state.get("events") if isinstance(state, dict) else None
        if not isinstance(events, list):
            raise StrategyError(f"state for strategy {self.name!r} lacks events; pass what "
                                "state_dict() of the same strategy returned")
        for e in events:
            if e[0] == "ask":
                self.ask()
            else:
                self.tell(decode(self.space, e[1]), e[2], e[3])


class TPE(OptunaStrategy):
    """Optuna's Tree-structured Parzen Estimator on the score."""

    name = "tpe"
    summary = "Tree-structured Parzen Estimator (Optuna's TPESampler) on the score."
    paper = "Bergstra et al. 2011, Algorithms for Hyper-Parameter Optimization (NeurIPS)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("startup", 10, int, "random trials before TPE models the results", minimum=1,
               maximum=MAX_BUDGET),
        Option("multivariate", True, bool, "model the decisions jointly (multivariate TPE)"),
        Option("candidates", 24, int, "candidates TPE draws to pick each proposal", minimum=1,
               maximum=MAX_CANDIDATES),
    )

    def __init__(self, space: Space, seed: int = 0, startup: int = 10, multivariate: bool = True,
                 candidates: int = 24) -> None:
        self.startup, self.multivariate, self.candidates = startup, multivariate, candidates
        super().__init__(space, seed)

    def _make_sampler(self) -> optuna.samplers.BaseSampler:
        return optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=self.startup,
                                          multivariate=self.multivariate,
                                          group=self.multivariate,
                                          n_ei_candidates=self.candidates)


class NSGA2(OptunaStrategy):
    """Optuna's NSGA-II on the objectives (the score alone when there are none)."""

    name = "nsga2"
    summary = "NSGA-II (Optuna's NSGAIISampler) on all objectives: a Pareto front."
    paper = "Deb et al. 2002, A Fast and Elitist Multiobjective Genetic Algorithm: NSGA-II (TEVC)"
    multi_objective = True
    options: ClassVar[tuple[Option, ...]] = (
        Option("population", 20, int, "population size of a generation", minimum=2, maximum=MAX_BUDGET),
        Option("crossover_prob", 0.9, float, "probability of crossover for a child",
               minimum=0.0, maximum=1.0),
    )

    def __init__(self, space: Space, seed: int = 0, population: int = 20,
                 crossover_prob: float = 0.9) -> None:
        self.population, self.crossover_prob = population, crossover_prob
        super().__init__(space, seed)

    def _make_sampler(self) -> optuna.samplers.BaseSampler:
        return optuna.samplers.NSGAIISampler(seed=self.seed, population_size=self.population,
                                             crossover_prob=self.crossover_prob)

    def _values(self, score: float, objectives: Sequence[float]) -> list[float]:
        return list(objectives) if objectives else [score]

    def _check_values(self, result: tuple[float | None, tuple[float, ...]]) -> None:
        """The study is set up for one objective; the first result with several rebuilds it
        (possible while no trial has finished, when NSGA-II still samples at random: the asked
        trials are re-asked with their params fixed). Later results must keep that number."""
        n = len(result[1]) or 1
        if result[0] is None or n == self.n_values:
            return
        done = self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if done:
            raise StrategyError(f"strategy 'nsga2' got {n} objectives after results with "
                                f"{self.n_values}; every result must have the same number")
        self._rebuild(n)

    def _rebuild(self, n_values: int) -> None:
        old = sorted(self.study.get_trials(deepcopy=False), key=lambda t: t.number)
        self.n_values = n_values
        self.study = self._new_study(n_values)
        with _quiet():
            for t in old:
                self.study.enqueue_trial(t.params)
                trial = self.study.ask()
                self._suggest(trial)
                if t.state == TrialState.FAIL:
                    self.study.tell(trial.number, state=TrialState.FAIL)
