"""The search loop: ask -> constraint check -> evaluate -> record -> tell, until the budget.

Each asked architecture is profiled with the analytic cost model first. If it breaks a
constraint it is recorded as ``infeasible`` (cost and violated constraint kept) without ever
being evaluated; otherwise the executor evaluates it. A trial whose evaluation raises, runs out
of memory, returns a metric that is not a number, or yields a NaN/inf objective is recorded as
``failed`` with its reason, and the study goes on. Failed and infeasible trials are told to the
strategy with score ``None``. Every finished trial is written to the study file before the
strategy hears of it, and counts toward the budget.

**Resume.** :meth:`Study.resume` rebuilds the pieces from the stored configuration, drops
trials a killed process left ``running``, and replays the recorded trials into the fresh
strategy in their original interleaving: each trial stores how many archs had been asked when
it was told, so replay asks up to that count (checking each asked arch against the recorded
one), then tells the recorded result. Archs that were asked but never told (in flight when the
process died) are evaluated again first, under their own numbers. A deterministic strategy then
sits exactly where the interrupted run was, so with a deterministic estimator the finished study
equals an uninterrupted one, for any executor whose completion order is reproducible. If a
strategy diverges (asks for a different arch, e.g. it is not seeded), replay stops asking and
only tells it the remaining recorded results, then the study goes on; no recorded trial is lost
or re-evaluated, but later proposals may differ from an uninterrupted run
(:attr:`Study.diverged_at` says where). ``KeyboardInterrupt`` stops the loop cleanly: in-flight
evaluations are cancelled, the file keeps every finished trial and the study is marked
``interrupted``.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from archspace.errors import ArchspaceError
from archspace.limits import MAX_BUDGET, check_int, check_seed
from archspace.space import Arch
from archspace.spaces import Trust
from archspace.study.checkpoints import CheckpointKeeper
from archspace.study.components import Components, Factories, build_components
from archspace.study.constraints import memory_models, model_costs, parse_constraints, violated
from archspace.study.executor import Executor, InlineExecutor, Job, Outcome, describe_error
from archspace.study.latency import latency_ms, study_latency_table
from archspace.study.objectives import numeric_metrics
from archspace.study.preflight import check_before_evaluating, objectives_of
from archspace.study.prior_record import PriorRecorder
from archspace.study.schedulers import SCHEDULE_KEY
from archspace.study.search_record import SearchRecorder
from archspace.study.storage import StudyConfig, StudyStorage, TrialRecord

__all__ = ["Study", "StudyResult", "run_study"]

COST_KEYS = ("params", "macs", "peak_sram_bytes", "flash_bytes")
Callback = Callable[["Study", TrialRecord], None]


@dataclass(frozen=True)
class StudyResult:
    """Where a study stands after :meth:`Study.run`."""

    n_trials: int
    counts: Mapping[str, int]
    best: TrialRecord | None
    pareto: tuple[TrialRecord, ...]
    interrupted: bool = False
    exhausted: bool = False
    diverged_at: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class Study:
    """A study bound to its file; build one with :meth:`create` or :meth:`resume`."""

    def __init__(self, storage: StudyStorage, config: StudyConfig, parts: Components,
                 executor: Executor | None = None) -> None:
        self.storage = storage
        self.config = config
        self.space, self.estimator, self.strategy = parts.space, parts.estimator, parts.strategy
        self.constraints = parse_constraints(config.constraints)
        self.objectives = objectives_of(self.estimator, config)
        self.latency_table = study_latency_table(self.constraints, self.objectives)
        self.executor = executor or InlineExecutor()
        self.executor.bind(self.space, self.estimator)
        self.diverged_at: int | None = None
        self._next_number = 0
        self._pending: list[tuple[int, Arch]] = []  # asked before a crash, never told
        self._feasible_cache: dict[Arch, dict[str, float] | str] = {}  # see _cost
        keep = getattr(self.estimator, "keep", "none")  # a user's estimator may predate it
        self.checkpoints = CheckpointKeeper(storage.path, keep) if keep != "none" else None
        self._in_flight: frozenset[int] = frozenset()
        if self.constraints:
            self.strategy.constrain(self.feasible)
        self.prior_record = PriorRecorder(storage, self.strategy)
        self.search_record = SearchRecorder(storage, self.strategy)

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike[str], config: StudyConfig,
               factories: Factories | None = None, executor: Executor | None = None,
               meta: Mapping[str, Any] | None = None) -> Study:
        """A new study in ``path`` (refused if the file already holds one). Everything is
        validated before the file is written; ``meta`` is kept with it (see
        :meth:`StudyStorage.set_meta`)."""
        StudyStorage.check_new(path)
        parts = _build(config, factories, True, "the configuration")  # the caller's own
        check_int(config.budget, "budget", 1, MAX_BUDGET)
        check_seed(config.seed)
        check_before_evaluating(parts, config, executor or InlineExecutor())
        storage = StudyStorage.create(path, config, meta)
        return cls(storage, storage.load_config(), parts, executor)

    @classmethod
    def resume(cls, path: str | os.PathLike[str], factories: Factories | None = None,
               executor: Executor | None = None, budget: int | None = None,
               trust: Trust = False) -> Study:
        """Reopen ``path``, rebuild its pieces and replay its recorded trials (see module doc).
        ``budget`` changes the stored budget (it may not drop below the trials recorded).
        A user space (``module:Class``) the file names is imported only with ``trust=True``
        or ``trust="module:Class"`` (the same space named again); else
        :class:`~archspace.spaces.UntrustedSpaceError`, before anything is imported."""
        storage = StudyStorage.open(path, write=True)  # the one writer: takes the study lock
        try:
            config = storage.load_config()
            parts = _build(config, factories, trust, f"study {os.fspath(path)}")
            done = storage.n_recorded()
            if budget is not None:
                check_int(budget, "budget", 1, MAX_BUDGET)
                if budget < done:
                    raise ArchspaceError(f"--budget {budget} is below the {done} trials already "
                                         f"recorded; give at least {done}")
                storage.set_budget(budget)
                config = storage.load_config()
            found = any(t.status != "infeasible" for t in storage.recorded())
            check_before_evaluating(parts, config, executor or InlineExecutor(),
                                    probe_constraints=not found)
            storage.drop_running()
            if cls is Study and storage.meta(SCHEDULE_KEY) is not None:
                from archspace.study.scheduled import ScheduledStudy

                cls = ScheduledStudy  # a multi-fidelity study (the file records its scheduler)
            study = cls(storage, config, parts, executor)
            if study.checkpoints is not None:
                study.checkpoints.prune(storage)  # e.g. a killed trial's file
            study._replay(storage.recorded())
        except BaseException:
            storage.close()
            raise
        return study

    def _replay(self, recorded: Sequence[TrialRecord]) -> None:
        known = {t.number: t for t in recorded}
        asked: dict[int, Arch] = {}
        for t in recorded:
            target = t.asked if t.asked is not None else t.number + 1
            while self.diverged_at is None and self._next_number < target:
                number = self._next_number
                arch = self.strategy.ask()
                if number in known and arch != self.space.arch_from_json(known[number].arch_json):
                    self.diverged_at = number
                    warnings.warn(f"strategy {self.config.strategy!r} proposed a different arch "
                                  f"than recorded trial {number} on replay; telling it the "
                                  "recorded results and continuing", RuntimeWarning, stacklevel=3)
                    break
                asked[number] = arch
                self._next_number += 1
            self.strategy.tell(self.space.arch_from_json(t.arch_json), *self._told(t))
        if self.diverged_at is None:
            self._pending = [(n, a) for n, a in sorted(asked.items()) if n not in known]
        else:
            self._next_number = max(known, default=-1) + 1

    def _told(self, t: TrialRecord) -> tuple[float | None, tuple[float, ...]]:
        """What recorded trial ``t`` tells the strategy on replay: its score and objectives, or
        a failure when they are not finite numbers, one per objective (a row another tool
        wrote, or one edited by hand)."""
        objectives = t.objectives or ()
        if (t.score is None or not math.isfinite(t.score)
                or len(objectives) != len(self.objectives.items)
                or not all(math.isfinite(v) for v in objectives)):
            return None, ()
        return t.score, tuple(objectives)

    # -- the loop ----------------------------------------------------------------------------
    @property
    def budget(self) -> int:
        """Trials to record in all."""
        return self.config.budget

    def run(self, callback: Callback | None = None) -> StudyResult:
        """Run until the budget is recorded, the strategy runs out, or Ctrl-C."""
        self.storage.set_status("running")
        in_flight: dict[int, tuple[Arch, TrialRecord]] = {}
        interrupted = exhausted = False
        try:
            while True:
                done = self.storage.n_recorded()
                while (len(in_flight) < self.executor.capacity
                       and done + len(in_flight) < self.budget):
                    if self._pending:
                        number, arch = self._pending.pop(0)
                    elif exhausted:
                        break
                    else:
                        try:
                            arch = self.space.validate(self.strategy.ask())
                        except StopIteration:
                            exhausted = True
                            break
                        number = self._next_number
                        self._next_number += 1
                    rec = self._screen(arch, number)
                    if rec.status == "running":
                        self.storage.start_trial(rec.number, rec.arch, rec.arch_json)
                        in_flight[rec.number] = (arch, rec)
                        ckpt = None if self.checkpoints is None else \
                            self.checkpoints.path(rec.number)
                        self.executor.submit(Job(rec.number, arch, self.config.seed, ckpt))
                        self._in_flight = frozenset(in_flight)
                    else:
                        self._record(rec, arch, callback)
                        done += 1
                if not in_flight and ((exhausted and not self._pending) or done >= self.budget):
                    break
                self._collect(in_flight, callback)
        except KeyboardInterrupt:
            interrupted = True
        if interrupted:
            self.executor.shutdown(cancel=True)
            self.storage.drop_running()
        self.prior_record.save()
        self.storage.set_status("interrupted" if interrupted else "finished")
        return self.result(interrupted=interrupted, exhausted=exhausted)

    def _collect(self, in_flight: dict[int, tuple[Arch, TrialRecord]],
                 callback: Callback | None) -> None:
        """Wait for the executor and record every outcome it returns."""
        for outcome in self.executor.wait():
            arch, rec = in_flight.pop(outcome.job.number)
            self._in_flight = frozenset(in_flight)
            self._record(self._judge(outcome, rec), arch, callback)

    def _cost(self, arch: Arch) -> dict[str, float] | str:
        """``arch``'s cost under the estimator (or why the cost model failed), computed once:
        the strategy's feasibility checks and the screen of the trial share it. Remembered for
        the last 100,000 archs."""
        hit = self._feasible_cache.get(arch)
        if hit is None:
            try:
                profile = self.estimator.cost(self.space, arch)
                hit = {k: float(getattr(profile, k)) for k in COST_KEYS}
                for model in memory_models(self.constraints):  # peak_sram@tinyengine<=...
                    hit.update(model_costs(self.estimator.cost(self.space, arch, model), model))
                if self.latency_table is not None:  # latency@DEVICE<=...
                    hit["latency_ms"] = latency_ms(self.latency_table, self.estimator,
                                                   self.space, arch)
            except Exception as e:  # a space that cannot build this arch
                hit = f"cost model: {describe_error(e)}"
            if len(self._feasible_cache) >= 100_000:
                self._feasible_cache.clear()
            self._feasible_cache[arch] = hit
        return hit

    def feasible(self, arch: Arch) -> bool:
        """Whether ``arch`` passes the constraint screen (given to the strategy, which may then
        skip infeasible archs instead of spending trials on them)."""
        cost = self._cost(arch)
        return not isinstance(cost, str) and not violated(self.constraints, cost)

    def _screen(self, arch: Arch, number: int) -> TrialRecord:
        """Profile and constraint-check trial ``number``: a final ``failed``/``infeasible``
        record, or a ``running`` one (with its cost) to evaluate."""
        text, js = self.space.format_arch(arch), self.space.arch_to_json(arch)
        base = TrialRecord(number, text, js, "failed", None, None, None, None, None, 0.0,
                           time.time(), None, None)
        cost = self._cost(arch)
        if isinstance(cost, str):  # the trial fails
            return replace(base, error=cost)
        broken = violated(self.constraints, cost)
        if broken:
            why = "violates " + ", ".join(c.text for c in broken)
            return replace(base, status="infeasible", cost=dict(cost), error=why)
        return replace(base, status="running", cost=dict(cost))

    def _judge(self, outcome: Outcome, running: TrialRecord) -> TrialRecord:
        """Turn an executor outcome into a final record (complete or failed)."""
        rec = replace(running, status="failed", metrics=outcome.metrics, error=outcome.error,
                      duration=outcome.duration, started=outcome.started)
        if outcome.metrics is None:
            return rec
        metrics, why = numeric_metrics(outcome.metrics)
        rec = replace(rec, metrics=metrics)
        if why is not None:
            return replace(rec, error=why)
        try:
            score, objectives = self.objectives.evaluate(metrics, rec.cost or {})
        except KeyError as e:
            return replace(rec, error=str(e.args[0]))
        bad = [o.name for o, v in zip(self.objectives.items, objectives, strict=True)
               if not math.isfinite(v)]
        if bad or not math.isfinite(score):
            return replace(rec, error=f"non-finite objective {(bad or ['score'])[0]!r}: "
                                       f"{_fmt_metrics(metrics)}")
        return replace(rec, status="complete", score=score, objectives=objectives)

    def _record(self, rec: TrialRecord, arch: Arch, callback: Callback | None) -> None:
        stored = self.storage.finish_trial(replace(rec, asked=self._next_number))
        self.prior_record.save()
        if self.checkpoints is not None:
            self.checkpoints.prune(self.storage, self._in_flight)
        self.strategy.tell(arch, stored.score, stored.objectives or ())
        if callback is not None:
            callback(self, stored)

    # -- results -----------------------------------------------------------------------------
    def result(self, interrupted: bool = False, exhausted: bool = False) -> StudyResult:
        """The study's current standing."""
        trials = self.storage.trials()
        counts = {s: sum(t.status == s for t in trials) for s in ("complete", "failed", "infeasible")}
        return StudyResult(sum(counts.values()), counts, self.storage.best_trial(),
                           tuple(self.storage.pareto_trials()), interrupted, exhausted,
                           self.diverged_at)

    def close(self) -> None:
        """Release the executor and the file."""
        self.executor.shutdown()
        self.storage.close()


def _fmt_metrics(metrics: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v}" for k, v in list(metrics.items())[:6])


def _build(config: StudyConfig, factories: Factories | None, trust: Trust,
           source: str) -> Components:
    return build_components(factories or Factories(), config.space, config.space_params,
                            config.estimator, config.estimator_options, config.strategy,
                            config.strategy_options, config.seed, trust=trust, source=source)


def run_study(path: str | os.PathLike[str], config: StudyConfig, factories: Factories | None = None,
              executor: Executor | None = None, callback: Callback | None = None) -> StudyResult:
    """Create the study in ``path`` and run it to its budget."""
    study = Study.create(path, config, factories, executor)
    try:
        return study.run(callback)
    finally:
        study.close()
