"""Everything a study report shows, read from the study file alone.

The file is only read: no strategy is built and no trial replayed, so a report can be made of a
study that is still running (SQLite's WAL lets a reader in beside the writer), was interrupted,
or has no complete trial yet. The space and estimator are rebuilt from the stored configuration,
for drawing the best architecture and for the estimator's report-only final metrics (and a
tabular benchmark's oracle).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archspace.errors import ArchspaceError
from archspace.estimators.base import Estimator
from archspace.space import Space
from archspace.spaces import Trust
from archspace.study.components import Factories, build_evaluation
from archspace.study.constraints import Constraint, parse_constraints
from archspace.study.objectives import Objective, Objectives
from archspace.study.runner import StudyResult
from archspace.study.storage import StudyConfig, StudyStorage, TrialRecord
from archspace.study.summary import oracle, summarize

__all__ = ["Incumbent", "ReportData", "StoredStudy", "TrainedNetwork", "gather", "stored_result",
           "trained_network"]

FINISHED = ("complete", "failed", "infeasible")


@dataclass(frozen=True)
class StoredStudy:
    """An open study file with its space and estimator rebuilt (no strategy): enough for
    :func:`archspace.study.summary.summarize`."""

    storage: StudyStorage
    config: StudyConfig
    space: Space
    estimator: Estimator
    objectives: Objectives


@dataclass(frozen=True)
class Incumbent:
    """The best complete trial after ``told`` recorded trials, and its final metrics."""

    told: int
    trial: TrialRecord
    final_metrics: Mapping[str, float]


@dataclass(frozen=True)
class ReportData:
    """What the report page and plots are drawn from (the file is closed by then)."""

    path: Path
    config: StudyConfig
    space: Space
    estimator: Estimator
    objectives: Objectives
    constraints: tuple[Constraint, ...]
    summary: dict[str, Any]  # :func:`archspace.study.summary.summarize`'s keys
    trials: tuple[TrialRecord, ...]  # every trial, in ask order (running ones included)
    recorded: tuple[TrialRecord, ...]  # finished trials, in tell order
    best: TrialRecord | None
    pareto: tuple[TrialRecord, ...]  # complete non-dominated trials (all objectives)
    incumbents: tuple[Incumbent, ...]  # each time the best changed, in tell order
    top: tuple[TrialRecord, ...]  # the best complete trials by score, best first
    oracle: Mapping[str, float]
    scheduler: Mapping[str, Any] | None = None  # a multi-fidelity study's (its file's meta)

    @property
    def complete(self) -> list[TrialRecord]:
        """Complete trials with a score, in ask order."""
        return [t for t in self.trials if t.status == "complete" and t.score is not None]

    @property
    def running(self) -> int:
        """Trials being evaluated (or left so by a killed process)."""
        return sum(t.status == "running" for t in self.trials)

    @property
    def lead(self) -> Objective:
        """The first objective: what the score is, up to a reward and a sign."""
        return self.objectives.items[0]

    def display_score(self, score: float) -> float:
        """A score in the first objective's own units (a minimised cost is stored negated)."""
        return score if self.lead.maximise or self.objectives.reward else -score

    @property
    def score_label(self) -> str:
        """What :meth:`display_score` values are, e.g. ``accuracy (cifar10_valid_12ep)`` or
        ``macs, minimised``."""
        reward = self.objectives.reward
        if reward is not None:
            return f"reward {self.lead.name} × ({reward.metric}/target)^w"
        name = self.lead.name if self.lead.name == self.lead.key else (
            f"{self.lead.name} ({self.lead.key})")
        return name if self.lead.maximise else f"{name}, minimised"

    @property
    def final_metric(self) -> str | None:
        """The final metric to follow the search with: the one on the searched dataset (e.g.
        ``cifar10_test_200ep`` for ``cifar10_valid_12ep``) if the oracle has it, else the first."""
        if not self.oracle:
            return None
        dataset = self.estimator.metric.split("_")[0]
        return next((k for k in self.oracle if k.split("_")[0] == dataset), next(iter(self.oracle)))


@dataclass(frozen=True)
class TrainedNetwork:
    """The network a study's estimator evaluates for its archs: the space fitted to the data
    (e.g. a classifier of the dataset's classes), its input resolution, and a short description
    for a caption (``note`` says when it could only be the space as configured)."""

    space: Space
    resolution: int
    description: str
    note: str = ""


def trained_network(data: ReportData) -> TrainedNetwork:
    """What :class:`~archspace.estimators.train.TrainEstimator` trains (its adapted space, as
    export builds it), else the study's space. If the estimator's dataset cannot be loaded here,
    the configured space with a note saying so (a report never needs the data)."""
    from archspace.estimators.train import TrainEstimator

    space, est = data.space, data.estimator
    if not isinstance(est, TrainEstimator):
        return TrainedNetwork(space, space.default_resolution, space.label)
    dataset = str(est.config["dataset"])
    try:
        fitted, r = est.adapted(space)
    except ArchspaceError as e:
        return TrainedNetwork(space, space.default_resolution, space.label,
                              f"as configured: the dataset could not be loaded here ({e})")
    classes = getattr(fitted, "num_classes", None)
    scale = getattr(fitted, "scale", None)
    what = f"x{scale} super-resolution, " if isinstance(scale, int) else \
        f"{classes} classes, " if isinstance(classes, int) else ""
    verb = "trained" if type(est).evaluate is TrainEstimator.evaluate else "scored"  # zero-cost
    return TrainedNetwork(fitted, r, f"{space.label} as {verb} on {dataset} ({what}{r}x{r} input)")


def stored_result(storage: StudyStorage, trials: Sequence[TrialRecord] | None = None) -> StudyResult:
    """A study's standing from its file alone (as :meth:`Study.result` gives a live one)."""
    trials = storage.trials() if trials is None else trials
    counts = {s: sum(t.status == s for t in trials) for s in FINISHED}
    return StudyResult(sum(counts.values()), counts, storage.best_trial(),
                       tuple(storage.pareto_trials()),
                       interrupted=storage.load_config().status == "interrupted")


def _incumbents(space: Space, estimator: Estimator, recorded: Sequence[TrialRecord]) -> list[Incumbent]:
    out: list[Incumbent] = []
    for told, t in enumerate(recorded, start=1):
        if t.status != "complete" or t.score is None:
            continue
        if out and out[-1].trial.score is not None and t.score <= out[-1].trial.score:
            continue
        final = estimator.final_metrics(space, space.arch_from_json(t.arch_json))
        out.append(Incumbent(told, t, dict(final)))
    return out


def _scheduler_meta(storage: StudyStorage) -> Mapping[str, Any] | None:
    from archspace.study.schedulers import SCHEDULE_KEY

    value = storage.meta(SCHEDULE_KEY)
    return value if isinstance(value, dict) else None


def gather(path: str | os.PathLike[str], top: int = 20,
           factories: Factories | None = None, trust: Trust = False) -> ReportData:
    """Read the study in ``path`` for a report with the ``top`` best trials. Raises
    :class:`~archspace.study.storage.StorageError` for a missing file or one that is not a
    study, and :class:`~archspace.errors.ArchspaceError` if its space or estimator cannot be
    rebuilt (``factories`` as given to :meth:`Study.create`, default the registries). A user
    space (``module:Class``) the file names is imported only with ``trust`` (``True``, or the
    same space named again): else :class:`~archspace.spaces.UntrustedSpaceError`."""
    factories = factories or Factories()
    storage = StudyStorage.open(Path(path))
    try:
        config = storage.load_config()
        space, estimator = build_evaluation(factories, config.space, config.space_params,
                                            config.estimator, config.estimator_options,
                                            trust=trust, source=f"study {os.fspath(path)}")
        objectives = Objectives.build(estimator.metric, config.objectives, config.reward)
        constraints = parse_constraints(config.constraints)
        trials = storage.trials()
        result = stored_result(storage, trials)
        recorded = storage.recorded()
        ranked = sorted((t for t in trials if t.status == "complete" and t.score is not None),
                        key=lambda t: (-(t.score or 0.0), t.number))
        summary = summarize(StoredStudy(storage, config, space, estimator, objectives), result)
        return ReportData(
            path=storage.path, config=config, space=space, estimator=estimator,
            objectives=objectives, constraints=constraints, summary=summary,
            trials=tuple(trials), recorded=tuple(recorded), best=result.best,
            pareto=result.pareto, incumbents=tuple(_incumbents(space, estimator, recorded)),
            top=tuple(ranked[:top]), oracle=oracle(estimator),
            scheduler=_scheduler_meta(storage))
    finally:
        storage.close()
