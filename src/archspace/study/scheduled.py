"""The search loop under a multi-fidelity scheduler (successive halving, Hyperband, ASHA).

:class:`ScheduledStudy` is a :class:`~archspace.study.runner.Study` whose evaluations are placed
by a :class:`~archspace.study.schedulers.Scheduler`: each one is a rung, an arch evaluated at a
resource (``train``: epochs). The scheduler decides promotions; the strategy only proposes the
new archs of each bracket's bottom rung.

* **Trials.** Every rung is a recorded trial: its arch, metrics (the resource among them, e.g.
  ``epochs``; added under the estimator's :attr:`~archspace.estimators.base.Estimator.resource`
  name when the estimator leaves it out) and its ``schedule`` (``bracket``, ``rung``,
  ``resource``, the ``parent`` trial it was promoted from, and for a bottom-rung trial ``ask``,
  the strategy's ask it came from). The budget counts trials, as in any study: every rung
  evaluation is one (Hyperband with R = 27, eta = 3 takes 69 trials per pass of its four
  brackets; :func:`pass_trials` says how many for any setting). The best trial is the best
  score of any rung.
* **Continuation.** A promoted trial continues from its parent's checkpoint (``STUDY.ckpt/N.pt``)
  rather than restarting: the study writes a checkpoint for every rung and keeps those the
  scheduler may still promote, plus what ``-e keep`` keeps. An estimator with a ``horizon``
  option gets ``horizon = max_resource`` (and its resource option, ``epochs``, the max resource
  unless given), so that, for ``train``, training continued rung by rung is the run that
  training straight to the top rung is. A parent whose checkpoint is gone is trained again from
  scratch to the promoted resource (same result, more time).
* **What the strategy hears.** Each asked arch is told once, when its bottom-rung trial is
  recorded, with that trial's score: all tells of a bracket are at one fidelity, they come as
  soon as the bracket starts filling (a strategy learns while it fills), and the strategy
  contract (one tell per ask) holds even under ASHA, whose rungs are never final. What happens
  above the bottom rung is the scheduler's business.
* **Resume.** The scheduler keeps no state: its ledger is rebuilt from the recorded trials, so a
  resumed study re-runs no finished rung, and the strategy is replayed its bottom-rung tells in
  their original interleaving (the ``asked`` column holds the strategy's ask count at each
  record). With a deterministic strategy and estimator on an executor whose completion order is
  reproducible, a study stopped by its budget (or Ctrl-C) and resumed records the same trials as
  an uninterrupted one.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, cast

from archspace.errors import ArchspaceError
from archspace.estimators.base import Estimator
from archspace.space import Arch
from archspace.study.checkpoints import CheckpointKeeper
from archspace.study.components import Components, Factories
from archspace.study.executor import Executor, Job, Outcome
from archspace.study.runner import Callback, Study, StudyResult
from archspace.study.schedulers import SCHEDULE_KEY, Ledger, Scheduler, Slot, scheduler_from_json
from archspace.study.schedulers.brackets import hyperband_brackets
from archspace.study.storage import StudyConfig, StudyStorage, TrialRecord

__all__ = ["ScheduledStudy", "check_estimator", "pass_trials", "scheduled_options"]


def scheduled_options(estimator: str, options: Mapping[str, Any],
                      scheduler: Scheduler) -> dict[str, Any]:
    """The options of registry estimator ``estimator`` under ``scheduler``: ``horizon`` (when it
    has one) set to the max resource, and the option named like its resource (``epochs``) too,
    unless given. Raises :class:`ArchspaceError` when the estimator has no resource."""
    from archspace.estimators import ESTIMATORS, estimator_class

    out = dict(options)
    if estimator not in ESTIMATORS:
        return out
    cls = estimator_class(estimator)
    _check_resource(cls.name, cls.resource, scheduler)
    names = {o.name for o in cls.options}
    if "horizon" in names and out.get("horizon") in (None, "", "none"):
        out["horizon"] = scheduler.max_resource
    if cls.resource in names and cls.resource not in out:
        out[cls.resource] = scheduler.max_resource
    return out


def _check_resource(name: str, resource: str | None, scheduler: Scheduler) -> None:
    if resource is None:
        raise ArchspaceError(f"scheduler {scheduler.name} needs an estimator with a resource; "
                             f"estimator {name} has none (one fidelity); allowed: an estimator "
                             "with a resource, e.g. train (epochs)")


def check_estimator(estimator: Estimator, scheduler: Scheduler) -> None:
    """Raise :class:`ArchspaceError` unless ``estimator`` can run ``scheduler``'s rungs: it has a
    resource and, if it has a ``horizon`` option, one of at least the max resource."""
    _check_resource(estimator.name, estimator.resource, scheduler)
    config = getattr(estimator, "config", None)
    if isinstance(config, Mapping) and "horizon" in config:
        horizon = config["horizon"]
        if horizon is None or horizon < scheduler.max_resource:
            raise ArchspaceError(f"estimator {estimator.name} has horizon={horizon}; a scheduler "
                                 f"up to --max-resource {scheduler.max_resource} needs horizon >= "
                                 f"{scheduler.max_resource} (so a promoted rung continues its "
                                 f"schedule); allowed: horizon={scheduler.max_resource}")


def pass_trials(scheduler: Scheduler) -> int:
    """Trials one pass of ``scheduler`` records without failures: one bracket for ``sh``, all
    s_max + 1 brackets for ``hyperband``, the bottom rung of ``sh`` for ``asha`` (whose
    promotions then follow; ASHA has no passes)."""
    brackets = hyperband_brackets(scheduler.min_resource, scheduler.max_resource, scheduler.eta)
    if scheduler.name == "hyperband":
        return sum(sum(b.sizes) for b in brackets)
    return sum(brackets[0].sizes)


class ScheduledStudy(Study):
    """A study whose evaluations a multi-fidelity scheduler places (module doc). Build one with
    :meth:`create`; :meth:`Study.resume` returns one for a file that records a scheduler."""

    def __init__(self, storage: StudyStorage, config: StudyConfig, parts: Components,
                 executor: Executor | None = None) -> None:
        super().__init__(storage, config, parts, executor)
        self.scheduler = scheduler_from_json(storage.meta(SCHEDULE_KEY), f"study {storage.path}")
        check_estimator(self.estimator, self.scheduler)
        self.resource_name = str(self.estimator.resource)
        self.keeper = CheckpointKeeper(storage.path, self.estimator.keep)
        self.checkpoints = None  # the base loop's keeper: this one protects promotable trials
        self.ledger = Ledger()
        self._archs: dict[int, Arch] = {}
        self._asks = 0  # how many archs the strategy has been asked for
        self._ask_pending: list[tuple[int, Arch]] = []  # asked before a crash, never told
        self._exhausted = False

    @classmethod
    def create(cls, path: str | os.PathLike[str], config: StudyConfig,  # type: ignore[override]
               scheduler: Scheduler, factories: Factories | None = None,
               executor: Executor | None = None,
               meta: Mapping[str, Any] | None = None) -> ScheduledStudy:
        """A new scheduled study in ``path``; ``config``'s estimator options are completed by
        :func:`scheduled_options`, and an estimator that cannot run the rungs is refused
        before the file is written."""
        config = replace(config, estimator_options=scheduled_options(
            config.estimator, config.estimator_options, scheduler))
        base = factories or Factories()

        def estimator(name: str, **options: Any) -> Estimator:
            built = base.estimator(name, **options)
            check_estimator(built, scheduler)
            return built

        meta = {**(meta or {}), SCHEDULE_KEY: scheduler.to_json()}
        return cast(ScheduledStudy, super().create(path, config, replace(base, estimator=estimator),
                                                   executor, meta))

    # -- resume --------------------------------------------------------------------------------
    def _replay(self, recorded: Sequence[TrialRecord]) -> None:
        by_ask = {a: t for t in recorded if (a := _ask_of(t)) is not None}
        asked: dict[int, Arch] = {}
        for t in recorded:
            arch = self.space.arch_from_json(t.arch_json)
            self._archs[t.number] = arch
            slot = _slot_of(t)
            if slot is not None:
                self.ledger.add(t.number, slot)
                self.ledger.finish(t.number, t.score if t.status == "complete" else None)
            if slot is not None and slot.parent is not None:
                continue  # a promotion: the strategy never hears of it
            ask = _ask_of(t)
            target = t.asked if t.asked is not None else (ask + 1 if ask is not None else 0)
            while self.diverged_at is None and self._asks < target:
                arch_asked = self.strategy.ask()
                hit = by_ask.get(self._asks)
                if hit is not None and arch_asked != self.space.arch_from_json(hit.arch_json):
                    self.diverged_at = hit.number
                    warnings.warn(f"strategy {self.config.strategy!r} proposed a different arch "
                                  f"than recorded trial {hit.number} on replay; telling it the "
                                  "recorded results and continuing", RuntimeWarning, stacklevel=3)
                    break
                asked[self._asks] = arch_asked
                self._asks += 1
            self.strategy.tell(arch, *self._told(t))
        if self.diverged_at is None:
            self._ask_pending = [(i, a) for i, a in sorted(asked.items()) if i not in by_ask]
        else:
            self._asks = max(by_ask, default=-1) + 1
        self._next_number = max((t.number for t in recorded), default=-1) + 1

    # -- the loop ------------------------------------------------------------------------------
    def run(self, callback: Callback | None = None) -> StudyResult:
        """Run until the budget is recorded, nothing is left to evaluate, or Ctrl-C."""
        self.storage.set_status("running")
        in_flight: dict[int, tuple[Arch, TrialRecord]] = {}
        interrupted = False
        try:
            while True:
                done = self.storage.n_recorded()
                while (len(in_flight) < self.executor.capacity
                       and done + len(in_flight) < self.budget):
                    new = not self._exhausted or bool(self._ask_pending)
                    slot = self.scheduler.next(self.ledger, new_archs=new)
                    if slot is None:
                        break
                    placed = self._arch_for(slot)
                    if placed is None:
                        continue  # the strategy ran out: only promotions from now on
                    arch, ask = placed
                    rec = self._start(slot, arch, ask, in_flight)
                    if rec is not None:
                        self._record(rec, arch, callback)
                        done += 1
                if not in_flight:
                    break
                self._collect(in_flight, callback)
        except KeyboardInterrupt:
            interrupted = True
        if interrupted:
            self.executor.shutdown(cancel=True)
            self.storage.drop_running()
            for number, (arch, rec) in sorted(in_flight.items()):
                ask = (rec.schedule or {}).get("ask")
                if isinstance(ask, int):
                    self._ask_pending.append((ask, arch))
                self.ledger.drop(number)
            self._ask_pending.sort(key=lambda p: p[0])
            self._in_flight = frozenset()
        self.prior_record.save()
        self.storage.set_status("interrupted" if interrupted else "finished")
        return self.result(interrupted=interrupted, exhausted=self._exhausted)

    def _arch_for(self, slot: Slot) -> tuple[Arch, int | None] | None:
        """The arch ``slot`` evaluates and its ask number (None for a promotion); None when
        the strategy is exhausted."""
        if slot.parent is not None:
            return self._archs[slot.parent], None
        if self._ask_pending:
            ask, arch = self._ask_pending.pop(0)
            return arch, ask
        try:
            arch = self.space.validate(self.strategy.ask())
        except StopIteration:
            self._exhausted = True
            return None
        self._asks += 1
        return arch, self._asks - 1

    def _start(self, slot: Slot, arch: Arch, ask: int | None,
               in_flight: dict[int, tuple[Arch, TrialRecord]]) -> TrialRecord | None:
        """Screen and submit trial ``slot``; a record to write at once when it is infeasible
        or its cost fails, else None (it is in flight)."""
        number = self._next_number
        self._next_number += 1
        schedule: dict[str, Any] = {"bracket": slot.bracket, "rung": slot.rung,
                                    "resource": slot.resource, "parent": slot.parent}
        if ask is not None:
            schedule["ask"] = ask
        rec = replace(self._screen(arch, number), schedule=schedule)
        self.ledger.add(number, slot)
        self._archs[number] = arch
        if rec.status != "running":
            return rec
        self.storage.start_trial(rec.number, rec.arch, rec.arch_json)
        in_flight[number] = (arch, rec)
        self._in_flight = frozenset(in_flight)
        self.executor.submit(Job(number, arch, self.config.seed, self.keeper.path(number),
                                 float(slot.resource), self._warm_start(slot)))
        return None

    def _warm_start(self, slot: Slot) -> str | None:
        if slot.parent is None:
            return None
        path = self.keeper.path(slot.parent)
        return path if os.path.isfile(path) else None

    def _judge(self, outcome: Outcome, running: TrialRecord) -> TrialRecord:
        metrics = outcome.metrics
        resource = outcome.job.resource
        if metrics is not None and resource is not None and self.resource_name not in metrics:
            outcome = replace(outcome, metrics={**metrics, self.resource_name: resource})
        return super()._judge(outcome, running)

    def _record(self, rec: TrialRecord, arch: Arch, callback: Callback | None) -> None:
        stored = self.storage.finish_trial(replace(rec, asked=self._asks))
        self.prior_record.save()
        self.ledger.finish(stored.number, stored.score if stored.status == "complete" else None)
        self._prune()
        if (stored.schedule or {}).get("parent") is None:
            self.strategy.tell(arch, stored.score, stored.objectives or ())
        if callback is not None:
            callback(self, stored)

    def _prune(self) -> None:
        """Drop the checkpoints no promotion (and no ``keep`` policy) needs any more."""
        running = self._in_flight
        parents = {p for n in running if (p := self.ledger.entries[n].parent) is not None}
        protect = self.scheduler.promotable(self.ledger) | parents | set(running)
        self.keeper.prune(self.storage, frozenset(protect))


def _slot_of(t: TrialRecord) -> Slot | None:
    """Where a recorded trial sits (None for a row without a usable schedule)."""
    s = t.schedule or {}
    values = [s.get(k) for k in ("bracket", "rung", "resource")]
    parent = s.get("parent")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values) or not (
            parent is None or isinstance(parent, int)):
        return None
    bracket, rung, resource = (int(v) for v in values)  # type: ignore[arg-type]
    return Slot(bracket, rung, resource, parent)


def _ask_of(t: TrialRecord) -> int | None:
    ask = (t.schedule or {}).get("ask")
    return ask if isinstance(ask, int) and not isinstance(ask, bool) else None

