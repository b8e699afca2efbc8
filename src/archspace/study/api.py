"""The Python API of studies: :func:`search`, :func:`resume` and :func:`load_study`.

What ``archspace search`` / ``resume`` do, from a notebook or a script, with the space, estimator
and strategy given by name (as on the command line) or as objects::

    import archspace
    study = archspace.search(space="nb201", estimator="nasbench201", strategy="guided",
                             budget=100, seed=0, study="nb201.db")
    study.best, study.trials, study.pareto, study.counts

Each returns a :class:`StudyHandle` on the study file. The handle keeps no file open between
calls: every read (``trials``, ``best``, ...) opens the file read-only, reads and closes it, so
it sees what another process (a running ``archspace search``) has written since, and works on a
study in a read-only folder. Only one process at a time writes a study: :func:`search` and
:func:`resume` hold its lock while they run, and a second writer gets
:class:`~archspace.study.storage.StudyInUseError` (a one-line
:class:`~archspace.errors.ArchspaceError` naming the holder) before anything runs.

**What a file can rebuild.** A study records its space, estimator and strategy as the command
line would name them: a catalog name (or a user space's ``module:Class``) with its parameters
or options. Objects are recorded the same way when that rebuilds them: a catalog space or a
user space (``space_target`` and ``params``), a catalog estimator (its name and ``config``).
The rest cannot be rebuilt from the file alone and is listed in the study's ``objects`` meta
entry: a restricted space (its decisions differ from its class's), an estimator of the user's
own class (recorded as ``module:Class``), a strategy class or instance (recorded as
``module:Class``). Resuming such a study, or reading its space or estimator, needs the same
object passed again (``space=``, ``estimator=``, ``strategy=``); without it a one-line
:class:`~archspace.errors.ArchspaceError` says what to pass. An object passed again is checked
against the record (class, parameters and decisions of a space; the name of an estimator or
strategy) before anything runs.

**Files are data.** A user space named in a study file (``module:Class``) is code: it is
imported only with ``trust=True`` or when the space object is passed; else a one-line error
says so. Estimators and strategies are rebuilt from a file only from the registries.

**Ctrl-C** (a notebook's interrupt button) stops a search cleanly: the file keeps every
finished trial and is marked ``interrupted``, and :class:`SearchInterrupted` (a
``KeyboardInterrupt``) is raised, carrying the handle (``.study``) and saying how to continue.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspace.errors import ArchspaceError
from archspace.estimators.base import Estimator
from archspace.limits import MAX_BUDGET, check_int, check_seed
from archspace.space import Space
from archspace.strategies.base import Strategy
from archspace.study.api_args import (
    class_factory,
    decisions_digest,
    estimator_arg,
    executor_arg,
    new_study_path,
    normal_params,
    space_arg,
    stored_threads,
    stored_timeout,
    strategy_arg,
    target_of,
    texts_arg,
)
from archspace.study.components import Factories
from archspace.study.executor import Executor
from archspace.study.objectives import Objectives
from archspace.study.runner import Study, StudyResult
from archspace.study.storage import StudyConfig, StudyStorage, TrialRecord
from archspace.study.threads import capped_threads

if TYPE_CHECKING:
    from archspace.export import ExportResult

__all__ = ["SearchInterrupted", "StudyHandle", "load_study", "resume", "search"]

#: What a search calls after each recorded trial (the trial as stored).
TrialCallback = Callable[[TrialRecord], None]
#: Meta keys a study made through this API keeps: the components given as objects that the file
#: cannot rebuild (component -> description), and the space's decisions (a digest).
OBJECTS_KEY = "objects"
DECISIONS_KEY = "space_decisions"
_COMPONENTS = ("space", "estimator", "strategy")


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a search; the file keeps every finished trial. ``study`` is the handle."""

    def __init__(self, study: StudyHandle) -> None:
        n, budget = study.n_trials, study.budget
        super().__init__(f"search interrupted after {n} of {budget} trials; the study is kept in "
                         f"{study.path}: continue it with archspace.resume({str(study.path)!r})")
        self.study = study


# -- the two entry points that run ------------------------------------------------------------
def search(*, space: str | Space, estimator: str | Estimator,
           strategy: str | Strategy | type[Strategy] = "guided", budget: int,
           seed: int | None = None, study: str | os.PathLike[str] | None = None,
           space_params: Mapping[str, Any] | None = None,
           estimator_options: Mapping[str, Any] | None = None,
           strategy_options: Mapping[str, Any] | None = None,
           constraints: str | Sequence[str] = (), objectives: str | Sequence[str] = (),
           reward: str | None = None, executor: str | Executor = "inline",
           workers: int | None = None, trial_timeout: float | None = None,
           threads: int | None = None, progress: bool = False,
           callback: TrialCallback | None = None,
           scheduler: str | None = None, min_resource: int = 1, max_resource: int | None = None,
           eta: int = 3) -> StudyHandle:
    """Search ``space`` with ``strategy``, scored by ``estimator``, until ``budget`` trials are
    recorded in the study file ``study``; returns its :class:`StudyHandle`.

    ``space``: a catalog name or ``module:Class`` (with ``space_params``), or a
    :class:`~archspace.space.Space`. ``estimator``: a registry name (with
    ``estimator_options``) or an :class:`~archspace.estimators.base.Estimator`. ``strategy``: a
    registry name or a :class:`~archspace.strategies.base.Strategy` subclass (either with
    ``strategy_options``), or a Strategy object built on the same space (its seed is the
    study's unless ``seed`` says otherwise: then both must agree). ``seed`` (default 0) seeds
    the strategy and is handed to every evaluation. ``study``: the file to create (it must not
    hold a study); None writes a new ``study.db`` in a fresh temporary folder
    (``handle.path``; it is kept, not deleted). ``constraints``, ``objectives`` and ``reward``
    are the command line's ``-c``, ``-o`` and ``--reward`` (a string or a list of them).
    ``executor``: ``"inline"`` (this process), ``"process"`` (``workers`` local processes) or
    ``"ray"``, or an Executor (it is shut down when the search ends). ``trial_timeout``:
    seconds a trial may run before it is stopped and recorded failed (with ``"inline"``, each
    trial then runs in a child process, so the estimator must be picklable and a script needs
    the ``if __name__ == "__main__":`` guard); it is kept in the file for
    :func:`resume`. ``threads`` (default 1): the threads of each trial's numeric libraries
    (BLAS under numpy and scipy, OpenMP, torch), and of the search itself while it runs
    (this process's settings are put back after it); kept in the file. ``progress``: a rich
    progress bar on stderr. ``callback(trial)`` is called with each trial as recorded.
    ``scheduler``: ``"sh"``, ``"hyperband"`` or ``"asha"`` (see
    :mod:`archspace.study.scheduled`) with rungs from ``min_resource`` to ``max_resource``
    (whole units of the estimator's resource, e.g. epochs) and ``eta``; every rung is one trial
    of the budget.

    Everything is checked before the file is created; bad input raises
    :class:`~archspace.errors.ArchspaceError`. Ctrl-C raises :class:`SearchInterrupted`.
    """
    budget = check_int(budget, "budget", 1, MAX_BUDGET)
    if seed is not None:
        seed = check_seed(seed)
    if reward is not None and not isinstance(reward, str):
        raise ArchspaceError(f"reward must be a string such as 'macs:300M:-0.07', got {reward!r}")
    schedule = None
    if scheduler is None and max_resource is not None:
        raise ArchspaceError("max_resource applies only with scheduler='sh', 'hyperband' or "
                             "'asha'")
    if scheduler is not None:
        from archspace.study.scheduled import check_estimator, scheduled_options
        from archspace.study.schedulers import scheduler_from_options

        schedule = scheduler_from_options(scheduler, min_resource, max_resource, eta)
        if schedule is not None and isinstance(estimator, str):
            estimator_options = scheduled_options(estimator, estimator_options or {}, schedule)
    sp = space_arg(space, space_params)
    est = estimator_arg(estimator, estimator_options)
    if schedule is not None:
        check_estimator(est.estimator, schedule)
    strat = strategy_arg(strategy, strategy_options, sp.space)
    if seed is None:
        seed = 0 if strat.seed is None else strat.seed
    if strat.seed is not None and strat.seed != seed:
        raise ArchspaceError(f"the strategy object was seeded with {strat.seed}, but seed={seed}; "
                             "give the same seed (or leave seed out)")
    config = StudyConfig(
        space=sp.name, space_params=sp.params, estimator=est.name, estimator_options=est.options,
        strategy=strat.name, strategy_options=strat.options, seed=seed, budget=budget,
        constraints=texts_arg(constraints, "constraints"), objectives=texts_arg(objectives, "objectives"),
        reward=reward)
    path = new_study_path(study)
    objects = {what: why for what, why in zip(_COMPONENTS, (sp.unrebuildable, est.unrebuildable,
                                                            strat.unrebuildable), strict=True) if why}
    factories = Factories(space=lambda name, **p: sp.space,
                          estimator=lambda name, **o: est.estimator, strategy=strat.factory)
    ex, settings = executor_arg(executor, workers, trial_timeout, threads)
    meta = {"executor": settings, OBJECTS_KEY: objects, DECISIONS_KEY: decisions_digest(sp.space)}
    try:
        if schedule is None:
            runner = Study.create(path, config, factories, ex, meta=meta)
        else:
            from archspace.study.scheduled import ScheduledStudy

            runner = ScheduledStudy.create(path, config, schedule, factories, ex, meta=meta)
    except BaseException:
        ex.shutdown(cancel=True)
        if study is None:  # the temporary folder made for it
            shutil.rmtree(path.parent, ignore_errors=True)
        raise
    handle = StudyHandle(path, space=sp.space, estimator=est.estimator, strategy=strat.again)
    return _run(runner, handle, progress, callback)


def resume(study: str | os.PathLike[str], *, budget: int | None = None,
           space: Space | None = None, estimator: Estimator | None = None,
           strategy: Strategy | type[Strategy] | None = None, executor: str | Executor = "inline",
           workers: int | None = None, trial_timeout: float | None = None,
           threads: int | None = None, progress: bool = False,
           callback: TrialCallback | None = None, trust: bool = False,
           allow_stored_executor: bool = False) -> StudyHandle:
    """Continue the study in file ``study`` until its budget (or the new ``budget``, at least
    the trials recorded) is recorded; returns its :class:`StudyHandle`.

    The space, estimator and strategy are rebuilt from the file, or are the objects passed
    (needed when the study was made with objects the file cannot rebuild; see the module doc):
    pass a *new* Strategy object (or the class), since the recorded trials are replayed into
    it. A user space the file names is imported only with ``trust=True``. The study runs
    ``inline`` unless ``executor`` says otherwise (the executor stored in the file, which
    ``archspace resume`` reuses, is not used), under the ``trial_timeout`` given, else the one
    the file keeps, on the ``threads`` given, else the count the file keeps; a stored count
    above this machine's cores is data from a file, used only with
    ``allow_stored_executor=True``. Other arguments as for :func:`search`.
    """
    handle = StudyHandle(study, space=space, estimator=estimator,
                         strategy=strategy if isinstance(strategy, type) else None, trust=trust)
    StudyStorage.check_writer(handle.path)  # another writer, a read-only file: refused now
    if budget is not None:
        budget = check_int(budget, "budget", 1, MAX_BUDGET)
    sp = handle.space
    est = handle.estimator
    strat = handle._strategy_factory(strategy, sp)
    if not isinstance(executor, Executor):
        if trial_timeout is None:
            trial_timeout = stored_timeout(handle.path)
        if threads is None:
            threads = stored_threads(handle.path, allow_stored_executor)
    ex, settings = executor_arg(executor, workers, trial_timeout, threads)
    factories = Factories(space=lambda name, **p: sp, estimator=lambda name, **o: est,
                          strategy=strat)
    try:
        runner = Study.resume(handle.path, factories, ex, budget)
    except BaseException:
        ex.shutdown(cancel=True)
        raise
    try:
        runner.storage.set_meta("executor", settings)
    except BaseException:
        runner.close()
        raise
    return _run(runner, handle, progress, callback)


def load_study(study: str | os.PathLike[str], *, space: Space | None = None,
               estimator: Estimator | None = None, trust: bool = False) -> StudyHandle:
    """A :class:`StudyHandle` on the study in file ``study`` (running, interrupted or finished),
    to read and report; nothing is run. Its trials can always be read; its ``space`` and
    ``estimator`` (for ``summary``, ``report``, ``export``) are rebuilt from the file when first
    needed, or are the objects passed (checked against the file now). A user space the file
    names is imported only with ``trust=True``."""
    return StudyHandle(study, space=space, estimator=estimator, trust=trust)


def _run(runner: Study, handle: StudyHandle, progress: bool, callback: TrialCallback | None) -> StudyHandle:
    """Run ``runner`` to its budget and close it, the search on the executor's threads; the
    handle gets the result."""
    with capped_threads(runner.executor.threads):
        return _run_capped(runner, handle, progress, callback)


def _run_capped(runner: Study, handle: StudyHandle, progress: bool,
                callback: TrialCallback | None) -> StudyHandle:
    try:
        if runner.objectives.multi and not runner.strategy.multi_objective:
            import warnings

            warnings.warn(f"strategy {runner.config.strategy!r} is single-objective; it searches on "
                          f"{runner.objectives.items[0].name!r} (the Pareto front is still "
                          "recorded)", RuntimeWarning, stacklevel=3)
        with _progress(runner, progress) as advance:
            def on_trial(study: Study, trial: TrialRecord) -> None:
                if advance is not None:
                    advance(study, trial)
                if callback is not None:
                    callback(trial)

            result = runner.run(on_trial)
    except BaseException:  # a callback's error: stop, keep what is recorded, mark it
        with suppress(Exception):
            runner.executor.shutdown(cancel=True)
        with suppress(Exception):
            runner.storage.drop_running()
            runner.storage.set_status("interrupted")
        with suppress(Exception):
            runner.close()
        raise
    runner.close()
    handle.result = result
    if result.interrupted:
        raise SearchInterrupted(handle)
    return handle


@contextmanager
def _progress(runner: Study, enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from archspace.cli.search import progress_bar

    with progress_bar(runner, True) as advance:
        yield advance


# -- the handle -------------------------------------------------------------------------------
class StudyHandle:
    """A study file, read on demand (see the module doc); made by :func:`search`,
    :func:`resume` and :func:`load_study`.

    ``trials``, ``best``, ``pareto``, ``counts``, ``status`` and ``config`` are read from the
    file at each access; ``space``, ``estimator`` and ``objectives`` are built once (from the
    objects given, else from the file). ``result`` is the :class:`StudyResult` of the run this
    handle made (None for :func:`load_study`). A handle can be used as a context manager;
    :meth:`close` drops the space and estimator it holds, and the handle refuses further use.
    """

    def __init__(self, path: str | os.PathLike[str], *, space: Space | None = None,
                 estimator: Estimator | None = None, strategy: type[Strategy] | None = None,
                 trust: bool = False) -> None:
        if not isinstance(path, str | os.PathLike):
            raise ArchspaceError(f"study must be a file path, got {path!r}")
        if space is not None and not isinstance(space, Space):
            raise ArchspaceError(f"space must be a Space object (or None: the file's), got "
                                 f"{type(space).__name__}")
        if estimator is not None and not isinstance(estimator, Estimator):
            raise ArchspaceError(f"estimator must be an Estimator object (or None: the file's), "
                                 f"got {type(estimator).__name__}")
        if not isinstance(trust, bool):
            raise ArchspaceError(f"trust must be True or False, got {trust!r}")
        self.path = Path(path)
        self.result: StudyResult | None = None
        self._trust = trust
        self._strategy_class = strategy
        self._closed = False
        with self._storage() as s:  # a missing file or not a study: StorageError now
            self._meta = {k: s.meta(k) for k in (OBJECTS_KEY, DECISIONS_KEY)}
            config = s.load_config()
        self._space = space
        self._estimator = estimator
        if space is not None:
            _check_space(self.path, config, self._meta.get(DECISIONS_KEY), space)
        if estimator is not None:
            _check_name(self.path, config.estimator, "estimator", estimator)
        self._objectives: Objectives | None = None

    # -- reading the file --------------------------------------------------------------------
    @contextmanager
    def _storage(self) -> Iterator[StudyStorage]:
        if self._closed:
            raise ArchspaceError(f"this handle on {self.path} is closed; reopen the study with "
                                 f"archspace.load_study({str(self.path)!r})")
        with StudyStorage.open(self.path) as storage:
            yield storage

    @property
    def config(self) -> StudyConfig:
        """The stored configuration (space, estimator, strategy, seed, budget, ...)."""
        with self._storage() as s:
            return s.load_config()

    @property
    def status(self) -> str:
        """``created``, ``running``, ``interrupted`` or ``finished``."""
        return self.config.status

    @property
    def budget(self) -> int:
        """Trials to record in all."""
        return self.config.budget

    @property
    def trials(self) -> list[TrialRecord]:
        """Every trial (frozen records), in the order they were asked."""
        with self._storage() as s:
            return s.trials()

    @property
    def n_trials(self) -> int:
        """Trials recorded (complete, failed or infeasible)."""
        with self._storage() as s:
            return s.n_recorded()

    @property
    def best(self) -> TrialRecord | None:
        """The complete trial with the highest score (earliest on ties), or None."""
        with self._storage() as s:
            return s.best_trial()

    @property
    def pareto(self) -> list[TrialRecord]:
        """Complete trials no other complete trial dominates on the objectives, in ask order
        (a single-objective study: the best trial and its ties)."""
        with self._storage() as s:
            return s.pareto_trials()

    @property
    def counts(self) -> dict[str, int]:
        """Recorded trials per status: ``complete``, ``failed``, ``infeasible``."""
        trials = self.trials
        return {s: sum(t.status == s for t in trials) for s in ("complete", "failed", "infeasible")}

    # -- the pieces ----------------------------------------------------------------------------
    @property
    def space(self) -> Space:
        """The study's space: the object given, else rebuilt from the file."""
        if self._space is None:
            self._space = _file_space(self.path, self.config, self._objects(), self._trust)
        return self._space

    @property
    def estimator(self) -> Estimator:
        """The study's estimator: the object given, else rebuilt from the file (registry)."""
        if self._estimator is None:
            self._estimator = _file_estimator(self.path, self.config, self._objects())
        return self._estimator

    @property
    def objectives(self) -> Objectives:
        """How the study scores a trial (the estimator's metric, ``-o`` objectives, reward)."""
        if self._objectives is None:
            cfg = self.config
            self._objectives = Objectives.build(self.estimator.metric, cfg.objectives, cfg.reward)
        return self._objectives

    def _objects(self) -> dict[str, str]:
        objects = self._meta.get(OBJECTS_KEY)
        return {str(k): str(v) for k, v in objects.items()} if isinstance(objects, dict) else {}

    def _strategy_factory(self, given: Strategy | type[Strategy] | None,
                          space: Space) -> Callable[..., Strategy]:
        """How :func:`resume` builds the strategy: from ``given`` (checked against the file),
        the class this handle was made with, or the registry."""
        config = self.config
        given = given if given is not None else self._strategy_class
        if given is None:
            from archspace.strategies import STRATEGIES

            if "strategy" in self._objects() or config.strategy not in STRATEGIES:
                why = self._objects().get("strategy", f"the strategy {config.strategy!r}")
                raise ArchspaceError(f"study {self.path} was made with {why}, which the file cannot "
                                     "rebuild; pass strategy= (a new object, or the class) to "
                                     "archspace.resume")
            return Factories().strategy
        if not (isinstance(given, Strategy) or (isinstance(given, type) and issubclass(given, Strategy))):
            raise ArchspaceError("strategy must be a Strategy object or class (or None: the "
                                 f"file's), got {type(given).__name__}")
        _check_name(self.path, config.strategy, "strategy", given)
        if isinstance(given, type):
            return class_factory(given)
        if given.space is not space and decisions_digest(given.space) != decisions_digest(space):
            raise ArchspaceError(f"the strategy object searches {given.space.label}, not the "
                                 f"study's space {space.label}; build it on the same space")
        if given.seed != config.seed:
            raise ArchspaceError(f"the strategy object was seeded with {given.seed}; study "
                                 f"{self.path} has seed {config.seed}: build it with that seed")
        instance = given
        return lambda name, sp, seed=0, **o: instance

    def _factories(self) -> Factories:
        space, estimator = self.space, self.estimator
        return Factories(space=lambda name, **p: space, estimator=lambda name, **o: estimator)

    # -- views -----------------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """The study as JSON-ready data: what ``archspace search --json`` prints (keys in
        :mod:`archspace.study.summary`)."""
        from archspace.study.summary import summarize

        space, estimator, objectives = self.space, self.estimator, self.objectives
        with self._storage() as s:
            config = s.load_config()
            trials = s.trials()
            counts = {k: sum(t.status == k for t in trials) for k in ("complete", "failed", "infeasible")}
            last = self.result
            result = StudyResult(sum(counts.values()), counts, s.best_trial(), tuple(s.pareto_trials()),
                                 config.status == "interrupted", bool(last and last.exhausted),
                                 last.diverged_at if last else None)
            return summarize(_View(s, config, space, estimator, objectives), result)

    def records(self) -> list[dict[str, Any]]:
        """One flat dict per trial (ask order): ``number``, ``status``, ``arch``, ``score``,
        each metric, each cost (``params``, ``macs``, ``peak_sram_bytes``, ``flash_bytes``),
        ``error``, ``duration``, ``started``, ``finished``, ``tell_order``. A metric named
        like one of these columns is prefixed ``metric:``. What :meth:`to_dataframe` holds."""
        rows = []
        for t in self.trials:
            row: dict[str, Any] = {"number": t.number, "status": t.status, "arch": t.arch,
                                   "score": t.score}
            cost = dict(t.cost or {})
            for k, v in (t.metrics or {}).items():
                key = f"metric:{k}" if k in (*_BASE_COLUMNS, *_COST_COLUMNS, *_TAIL_COLUMNS) else k
                row[key] = math.nan if v is None else v
            for k in _COST_COLUMNS:
                row[k] = cost.get(k)
            row.update(error=t.error, duration=t.duration, started=t.started, finished=t.finished,
                       tell_order=t.tell_order)
            rows.append(row)
        return rows

    def to_dataframe(self) -> Any:
        """:meth:`records` as a pandas DataFrame indexed by trial number (pandas is imported
        here, and only here: ``pip install pandas`` if it is missing)."""
        try:
            import pandas as pd
        except ImportError:
            raise ArchspaceError("StudyHandle.to_dataframe needs pandas, which is not installed; "
                                 "`pip install pandas`, or use StudyHandle.records() (plain "
                                 "dicts)") from None
        rows = self.records()
        columns = list(dict.fromkeys(k for row in rows for k in row)) or [
            *_BASE_COLUMNS, *_COST_COLUMNS, *_TAIL_COLUMNS]
        return pd.DataFrame(rows, columns=columns).set_index("number")

    def report(self, out_dir: str | os.PathLike[str], top: int = 20) -> Path:
        """Write the HTML report (``archspace report``) into ``out_dir``; returns the path of its
        ``index.html``."""
        from archspace.report import write_report

        return write_report(self.path, out_dir, top=top, factories=self._factories())

    def export(self, out_dir: str | os.PathLike[str], formats: Sequence[str] | str | None = None,
               *, trial: int | None = None, train: bool = True,
               calibration_images: int | None = None) -> ExportResult:
        """Export the best trial (or ``trial``) as ``archspace export`` does: ``arch.json``
        always, plus ``formats`` (``json``, ``pt``, ``onnx``, ``onnx-int8``; default json,pt);
        ``calibration_images`` as ``--calibration-images``."""
        from archspace.export import export_study
        from archspace.export_int8 import DEFAULT_CALIBRATION

        if isinstance(formats, str):
            formats = [formats]
        return export_study(self.path, out_dir, formats, trial=trial, train=train,
                            factories=self._factories(),
                            calibration_images=DEFAULT_CALIBRATION if calibration_images is None
                            else calibration_images)

    def resume(self, budget: int | None = None, **kwargs: Any) -> StudyHandle:
        """:func:`resume` this study with the space and estimator this handle holds (and the
        strategy class it was made with); ``kwargs`` as for :func:`resume`."""
        kwargs.setdefault("space", self.space)
        kwargs.setdefault("estimator", self.estimator)
        if self._strategy_class is not None:
            kwargs.setdefault("strategy", self._strategy_class)
        kwargs.setdefault("trust", self._trust)
        return resume(self.path, budget=budget, **kwargs)

    # -- lifetime --------------------------------------------------------------------------------
    def close(self) -> None:
        """Drop the space and estimator this handle holds; later use raises
        :class:`~archspace.errors.ArchspaceError` (the file itself is never held open)."""
        self._closed = True
        self._space = self._estimator = None
        self._objectives = None

    def __enter__(self) -> StudyHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._closed:
            return f"<StudyHandle {self.path} (closed)>"
        cfg = self.config
        return (f"<StudyHandle {self.path}: {cfg.strategy} on {cfg.space} scored by "
                f"{cfg.estimator}, {self.n_trials}/{cfg.budget} trials, {cfg.status}>")


@dataclass(frozen=True)
class _View:
    """What :func:`archspace.study.summary.summarize` reads of a study."""

    storage: StudyStorage
    config: StudyConfig
    space: Space
    estimator: Estimator
    objectives: Objectives


_BASE_COLUMNS = ("number", "status", "arch", "score")
_COST_COLUMNS = ("params", "macs", "peak_sram_bytes", "flash_bytes")
_TAIL_COLUMNS = ("error", "duration", "started", "finished", "tell_order")


# -- rebuilding from the file, and checking objects against it ---------------------------------
def _pass(what: str) -> str:
    return f"pass {what}= (the object the study was made with) to archspace.resume / load_study"


def _file_space(path: Path, config: StudyConfig, objects: Mapping[str, str], trust: bool) -> Space:
    from archspace.spaces import check_trusted, get_space
    from archspace.study.components import _tuples

    if "space" in objects:
        raise ArchspaceError(f"study {path} was made with {objects['space']}, which the file "
                             f"cannot rebuild; {_pass('space')}")
    check_trusted(config.space, trust, f"study {path}", hint=f"{_pass('space')}, or trust=True to import it")
    return get_space(config.space, **_tuples(config.space_params))


def _file_estimator(path: Path, config: StudyConfig, objects: Mapping[str, str]) -> Estimator:
    from archspace.estimators import ESTIMATORS, get_estimator

    if "estimator" in objects or config.estimator not in ESTIMATORS:
        why = objects.get("estimator", f"the estimator {config.estimator!r}")
        raise ArchspaceError(f"study {path} was made with {why}, which the file cannot rebuild; "
                             f"{_pass('estimator')}")
    return get_estimator(config.estimator, **dict(config.estimator_options))


def _check_space(path: Path, config: StudyConfig, digest: Any, space: Space) -> None:
    """Refuse a space object that is not the one the study searched (class, parameters and,
    when the file has their digest, decisions)."""
    from archspace.spaces import space_target
    from archspace.study.components import _tuples

    target = space_target(space)
    same_class = target == config.space or (
        ":" in config.space and config.space.rpartition(":")[2] == type(space).__qualname__)
    if same_class:
        try:
            recorded = type(space)(**_tuples(config.space_params))
        except Exception:
            same_class = False
    if same_class:
        expected = digest if isinstance(digest, str) else decisions_digest(recorded)
        same_params = normal_params(recorded.params) == normal_params(space.params)
        if same_params and decisions_digest(space) == expected:
            return
    params = ",".join(f"{k}={v}" for k, v in config.space_params.items())
    raise ArchspaceError(f"study {path} searched the space {config.space}({params}); the space "
                         f"given is {space.label} ({target}), with other parameters or decisions; "
                         "pass the space the study was made with")


def _check_name(path: Path, recorded: str, what: str, obj: object) -> None:
    names = {target_of(obj)}
    name = getattr(obj, "name", None)
    if isinstance(name, str):
        from archspace.estimators import ESTIMATORS
        from archspace.strategies import STRATEGIES

        registry = ESTIMATORS if what == "estimator" else STRATEGIES
        if registry.get(name) == target_of(obj):
            names.add(name)
    if recorded not in names:
        raise ArchspaceError(f"study {path} was made with the {what} {recorded!r}; the {what} given "
                             f"is {sorted(names)[0]!r}: pass the one the study was made with")

