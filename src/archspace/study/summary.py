"""A study's outcome as JSON-ready data: what ``archspace search --json`` prints.

Keys: ``study`` (file), ``space``, ``estimator``, ``metric``, ``strategy``, ``seed``,
``budget``, ``objectives`` (names, ``+`` maximised / ``-`` minimised), ``reward``,
``constraints``, ``status``, ``trials`` (recorded), ``counts`` (per status), ``interrupted``,
``diverged_at``, ``best`` (the best complete trial or null: ``number``, ``arch``, ``score``,
``metrics``, ``cost``, ``objectives``, ``final_metrics``), ``pareto`` (complete non-dominated
trials, multi-objective studies only, else an empty list), ``oracle`` (the best value of each
final metric over the whole benchmark, for tabular estimators; else empty) and ``prior`` (the
zero-cost prior's account, :mod:`archspace.study.prior_record`: its proxy evaluations and CPU
seconds, which are not trials; null without a prior) and ``searches`` (a differentiable
strategy's searches, :mod:`archspace.study.search_record`, one per restart: the derived cell,
the collapse verdict, the NAS-Bench-201 row on nb201, steps and CPU seconds; the per-edge
weights stay in the file; null for other strategies).

:func:`summarize` reads a live :class:`Study` or any object with the same few attributes
(:class:`StudyView`), such as the read-only view ``archspace report`` builds from a file.
"""

from __future__ import annotations

from typing import Any, Protocol

from archspace.estimators.base import Estimator
from archspace.space import Space
from archspace.study.objectives import Objectives
from archspace.study.prior_record import META_KEY as PRIOR_KEY
from archspace.study.runner import StudyResult
from archspace.study.search_record import META_KEY as SEARCH_KEY
from archspace.study.storage import StudyConfig, StudyStorage, TrialRecord

__all__ = ["StudyView", "oracle", "searches", "summarize", "trial_summary"]


class StudyView(Protocol):
    """What a summary reads of a study: a :class:`~archspace.study.runner.Study` has it all."""

    @property
    def storage(self) -> StudyStorage: ...
    @property
    def config(self) -> StudyConfig: ...
    @property
    def space(self) -> Space: ...
    @property
    def estimator(self) -> Estimator: ...
    @property
    def objectives(self) -> Objectives: ...


def oracle(estimator: Estimator) -> dict[str, float]:
    """Best achievable final metrics (a tabular benchmark's best cells); empty when unknown.

    An estimator may define ``oracle()``; the NAS-Bench-201 table is read directly otherwise.
    """
    fn = getattr(estimator, "oracle", None)
    if callable(fn):
        return {str(k): float(v) for k, v in dict(fn()).items()}
    if estimator.name == "nasbench201":
        from archspace.estimators.tabular import FINAL_COLUMNS
        from archspace.tabular import load_nb201

        table = load_nb201()
        return {c: float(table.metric(c).max()) for c in FINAL_COLUMNS}
    return {}


def trial_summary(study: StudyView, trial: TrialRecord, final: bool = False) -> dict[str, Any]:
    """One trial as JSON-ready data (with the estimator's final metrics when ``final``)."""
    out: dict[str, Any] = {
        "number": trial.number, "arch": trial.arch, "status": trial.status, "score": trial.score,
        "metrics": dict(trial.metrics or {}), "cost": dict(trial.cost or {}),
        "objectives": list(trial.objectives or ())}
    if final:
        arch = study.space.arch_from_json(trial.arch_json)
        out["final_metrics"] = dict(study.estimator.final_metrics(study.space, arch))
    return out


def searches(storage: StudyStorage) -> list[dict[str, Any]] | None:
    """A differentiable strategy's recorded searches without their per-edge weights and arch
    JSON (None when the study has none)."""
    records = storage.meta(SEARCH_KEY)
    if not isinstance(records, list):
        return None
    return [{k: v for k, v in r.items() if k not in ("weights", "arch_json")}
            for r in records if isinstance(r, dict)]


def summarize(study: StudyView, result: StudyResult) -> dict[str, Any]:
    """The study and its result as JSON-ready data (keys in the module docstring)."""
    cfg = study.config
    best = result.best
    return {
        "study": str(study.storage.path), "space": study.space.label,
        "estimator": cfg.estimator, "metric": study.estimator.metric, "strategy": cfg.strategy,
        "seed": cfg.seed, "budget": cfg.budget,
        "objectives": [("+" if o.maximise else "-") + o.name for o in study.objectives.items],
        "reward": cfg.reward, "constraints": list(cfg.constraints),
        "status": study.storage.load_config().status, "trials": result.n_trials,
        "counts": dict(result.counts), "interrupted": result.interrupted,
        "diverged_at": result.diverged_at,
        "best": None if best is None else trial_summary(study, best, final=True),
        "pareto": ([trial_summary(study, t) for t in result.pareto]
                   if study.objectives.multi else []),
        "oracle": oracle(study.estimator),
        "prior": study.storage.meta(PRIOR_KEY),
        "searches": searches(study.storage),
    }
