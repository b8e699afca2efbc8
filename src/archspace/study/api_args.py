"""The components a study is given through the Python API: a name or an object each, and how
the study file records it (see :mod:`archspace.study.api`).

A catalog name (with its parameters or options) is recorded as given; an object is recorded the
same way when that rebuilds it, else as ``module:Class`` with the reason the file alone cannot
rebuild it. Also the executor settings a file keeps and reads back (checked: they are data).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archspace.errors import ArchspaceError
from archspace.estimators.base import Estimator
from archspace.space import Space
from archspace.strategies.base import Strategy
from archspace.study.components import Factories
from archspace.study.executor import Executor, check_trial_timeout
from archspace.study.storage import StudyStorage
from archspace.study.threads import check_threads


@dataclass(frozen=True)
class SpaceArg:
    space: Space
    name: str  # what StudyConfig.space records
    params: dict[str, Any]
    unrebuildable: str | None  # why the file cannot rebuild it, or None


@dataclass(frozen=True)
class EstimatorArg:
    estimator: Estimator
    name: str
    options: dict[str, Any]
    unrebuildable: str | None


@dataclass(frozen=True)
class StrategyArg:
    factory: Callable[..., Strategy]
    name: str
    options: dict[str, Any]
    unrebuildable: str | None
    again: type[Strategy] | None  # what a handle passes to resume (a class), else None
    seed: int | None  # an instance's own seed


def target_of(obj: object) -> str:
    cls = type(obj) if not isinstance(obj, type) else obj
    return f"{cls.__module__}:{cls.__qualname__}"


def json_ready(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    out = dict(value)
    try:
        json.dumps(out, allow_nan=True)
    except (TypeError, ValueError) as e:
        raise ArchspaceError(f"{what} must be JSON values (numbers, strings, lists) to be recorded "
                             f"in the study file: {e}") from None
    return out


def normal_params(value: Mapping[str, Any]) -> Any:
    """Parameters as the file gives them back (tuples become lists)."""
    return json.loads(json.dumps(dict(value), sort_keys=True, default=str))


def decisions_digest(space: Space) -> str:
    """A digest of ``space``'s decisions (names, choices, conditions): equal for two spaces that
    propose the same archs, different for a restricted copy."""
    rows = [[d.name, [str(c) for c in d.choices],
             None if d.when is None else [d.when[0], sorted(str(v) for v in d.when[1])]]
            for d in space.decisions]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def space_arg(space: str | Space, params: Mapping[str, Any] | None) -> SpaceArg:
    from archspace.spaces import get_space, space_target

    if isinstance(space, str):
        if isinstance(params, Mapping):
            params = json_ready(params, "space_params")
        elif params is not None:
            raise ArchspaceError(f"space_params must be a dict of parameters, got {params!r}")
        from archspace.study.components import _tuples

        obj = get_space(space, **_tuples(params or {}))
        return SpaceArg(obj, space_target(obj), json_ready(obj.params, "space parameters"), None)
    if not isinstance(space, Space):
        raise ArchspaceError(f"space must be a catalog name, module:Class or a Space object, got "
                             f"{type(space).__name__}")
    if params:
        raise ArchspaceError("space_params apply to a space given by name; this Space object has "
                             f"its parameters already ({space.label})")
    target = space_target(space)
    recorded = json_ready(space.params, f"the parameters of space {space.label}")
    try:
        plain = type(space)(**space.params)
        same = decisions_digest(plain) == decisions_digest(space)
    except Exception:  # a class that cannot be rebuilt from its params
        same = False
    why = None if same else (f"the {space.label} space object whose decisions {target} does not "
                             "rebuild from its parameters (e.g. a restricted space)")
    return SpaceArg(space, target, recorded, why)


def estimator_arg(estimator: str | Estimator, options: Mapping[str, Any] | None) -> EstimatorArg:
    from archspace.estimators import ESTIMATORS, get_estimator

    if isinstance(estimator, str):
        if options is not None and not isinstance(options, Mapping):
            raise ArchspaceError(f"estimator_options must be a dict of options, got {options!r}")
        opts = json_ready(options or {}, "estimator_options")
        return EstimatorArg(get_estimator(estimator, **opts), estimator, opts, None)
    if not isinstance(estimator, Estimator):
        raise ArchspaceError("estimator must be a registry name or an Estimator object, got "
                             f"{type(estimator).__name__}")
    if options:
        raise ArchspaceError("estimator_options apply to an estimator given by name; configure "
                             "the Estimator object itself")
    config = getattr(estimator, "config", None)
    recorded: dict[str, Any] = {}
    if isinstance(config, Mapping):
        with suppress(ArchspaceError):
            recorded = json_ready(config, "options")
    target = target_of(estimator)
    if ESTIMATORS.get(estimator.name) == target and isinstance(config, Mapping) and (
            recorded or not config):  # a catalog estimator whose options the file can hold
        return EstimatorArg(estimator, estimator.name, recorded, None)
    return EstimatorArg(estimator, target, recorded, f"an estimator object ({target})")


def strategy_arg(strategy: str | Strategy | type[Strategy], options: Mapping[str, Any] | None,
                  space: Space) -> StrategyArg:
    from archspace.strategies import STRATEGIES

    if options is not None and not isinstance(options, Mapping):
        raise ArchspaceError(f"strategy_options must be a dict of options, got {options!r}")
    if isinstance(strategy, type) and issubclass(strategy, Strategy):
        target = target_of(strategy)
        if STRATEGIES.get(strategy.name) == target:  # a catalog class: as good as its name
            strategy = strategy.name
        else:
            opts = json_ready(options or {}, "strategy_options")
            return StrategyArg(class_factory(strategy), target, opts,
                             f"the strategy class {target}", strategy, None)
    if isinstance(strategy, str):
        if strategy not in STRATEGIES:
            from archspace.strategies import strategy_class

            strategy_class(strategy)  # the registry's error, listing the strategies
        opts = json_ready(options or {}, "strategy_options")
        return StrategyArg(Factories().strategy, strategy, opts, None, None, None)
    if not isinstance(strategy, Strategy):
        raise ArchspaceError("strategy must be a registry name, a Strategy class or a Strategy "
                             f"object, got {type(strategy).__name__}")
    if options:
        raise ArchspaceError("strategy_options apply to a strategy given by name or class; this "
                             "Strategy object is configured already")
    if strategy.space is not space and decisions_digest(strategy.space) != decisions_digest(space):
        raise ArchspaceError(f"the strategy object searches {strategy.space.label}, not the "
                             f"study's space {space.label}; build it on the same space")
    instance = strategy
    return StrategyArg(lambda name, sp, seed=0, **o: instance, target_of(strategy), {},
                     f"a strategy object ({target_of(strategy)})", None, instance.seed)


def class_factory(cls: type[Strategy]) -> Callable[..., Strategy]:
    from archspace.strategies.options import resolve_options

    def build(name: str, space: Space, seed: int = 0, **options: Any) -> Strategy:
        return cls(space, seed, **resolve_options(cls.name, tuple(getattr(cls, "options", ())),
                                                   options))  # type: ignore[call-arg]
    return build


def texts_arg(value: str | Sequence[str] | None, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise ArchspaceError(f"{what} must be a string or a list of strings, got {value!r}")
    return tuple(value)


def executor_arg(executor: str | Executor, workers: int | None, trial_timeout: float | None,
              threads: int | None) -> tuple[Executor, dict[str, Any]]:
    """The executor to run on and the settings to keep in the file (``archspace resume``
    reuses them)."""
    if isinstance(executor, Executor):
        for value, what in ((workers, "workers"), (trial_timeout, "trial_timeout"),
                            (threads, "threads")):
            if value is not None:
                raise ArchspaceError(f"{what} applies to an executor given by name; give it to "
                                     "make_executor for an Executor object")
        kinds = {"InlineExecutor": "inline", "ProcessExecutor": "process", "RayExecutor": "ray"}
        kind = kinds.get(type(executor).__name__)
        return executor, ({"executor": kind} if kind else {})
    if not isinstance(executor, str):
        raise ArchspaceError(f"executor must be 'inline', 'process', 'ray' or an Executor object, "
                             f"got {type(executor).__name__}")
    from archspace.study.executor import make_executor, trial_threads

    threads = trial_threads(threads)
    settings: dict[str, Any] = {"executor": executor, "workers": workers, "threads": threads}
    if trial_timeout is not None:
        settings["trial_timeout"] = trial_timeout
    ex = make_executor(executor, workers=workers, trial_timeout=trial_timeout, threads=threads)
    return ex, settings


def stored_executor(path: Path) -> dict[str, Any]:
    with StudyStorage.open(path) as storage:
        stored = storage.meta("executor") or {}
    return stored if isinstance(stored, dict) else {}


def stored_timeout(path: Path) -> float | None:
    """The trial time limit the study file keeps (checked: it is data from a file)."""
    return check_trial_timeout(stored_executor(path).get("trial_timeout"),
                               f"the trial_timeout stored in {path}")


def stored_threads(path: Path, allow: bool) -> int | None:
    """The thread count the study file keeps (checked; above this machine's cores only with
    ``allow``)."""
    threads = check_threads(stored_executor(path).get("threads"), f"the threads stored in {path}")
    cores = os.cpu_count() or 1
    if threads is not None and threads > cores and not allow:
        raise ArchspaceError(f"study {path} stores {threads} threads per trial, and this machine "
                             f"has {cores} cores; allowed: threads=N, or "
                             "allow_stored_executor=True to use the stored count")
    return threads


def new_study_path(study: str | os.PathLike[str] | None) -> Path:
    if study is None:
        return Path(tempfile.mkdtemp(prefix="archspace-")) / "study.db"
    if not isinstance(study, str | os.PathLike):
        raise ArchspaceError(f"study must be a file path (or None: a temporary file), got {study!r}")
    return Path(study)


