"""The executor options shared by ``search`` and ``resume``.

``search`` keeps the chosen settings in the study file; ``resume`` reuses them unless told
otherwise (a study started on a Ray cluster resumes there, or anywhere else with
``--executor``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from archspace.cli._common import Bounded, BoundedFloat
from archspace.errors import ArchspaceError
from archspace.limits import MAX_RETRIES, MAX_SECONDS, MAX_WORKERS
from archspace.study import Study, StudyStorage
from archspace.study.executor import EXECUTORS, Executor, check_trial_timeout, make_executor

__all__ = [
    "executor_from", "executor_options", "executor_settings", "open_with_executor", "stored_settings",
]

F = TypeVar("F", bound=Callable[..., Any])
SETTINGS = ("executor", "workers", "address", "cpus_per_trial", "gpus_per_trial", "max_retries",
            "trial_timeout")
DEFAULTS: dict[str, Any] = {"executor": "inline", "workers": None, "address": None,
                            "cpus_per_trial": None, "gpus_per_trial": 0.0, "max_retries": 1,
                            "trial_timeout": None}


def _timeout(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    try:
        seconds = check_trial_timeout(value, "--trial-timeout")
        if seconds is not None and seconds > MAX_SECONDS:
            raise ArchspaceError(f"--trial-timeout must be at most {MAX_SECONDS} seconds")
        return seconds
    except ArchspaceError as e:
        raise click.BadParameter(str(e).removeprefix("--trial-timeout "), ctx, param) from None


def executor_options(f: F) -> F:
    """Add --executor, --workers, --address, --cpus-per-trial, --gpus-per-trial, --max-retries,
    --trial-timeout (all default to None so ``resume`` can tell 'not given' from a stored setting)."""
    options = [
        click.option("--executor", type=click.Choice(EXECUTORS), default=None,
                     help="Where trials are evaluated: in this process (inline, the default), a "
                          "local process pool, or a Ray cluster."),
        click.option("--workers", type=Bounded(1, MAX_WORKERS), default=None,
                     help="Trials evaluated at once (process: default the CPU count; ray: "
                          "default the cluster's CPUs / --cpus-per-trial)."),
        click.option("--address", default=None, metavar="auto|HOST:PORT",
                     help="Ray cluster to join (default: start Ray in this process)."),
        click.option("--cpus-per-trial", type=BoundedFloat(0, MAX_WORKERS, low_open=True), default=None,
                     help="CPUs each trial reserves: torch threads in the worker (default 1; "
                          "inline: torch's default). Training results depend on it."),
        click.option("--gpus-per-trial", type=BoundedFloat(0, MAX_WORKERS), default=None,
                     help="GPUs each trial reserves (ray). [default: 0]"),
        click.option("--max-retries", type=Bounded(0, MAX_RETRIES), default=None,
                     help="Re-runs of a trial whose worker died before it is recorded failed. "
                          "[default: 1]"),
        click.option("--trial-timeout", type=float, default=None, metavar="SECONDS",
                     callback=_timeout,
                     help="Stop a trial still running after SECONDS and record it failed "
                          "(inline: each trial then runs in a child process). [default: none]"),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def executor_settings(given: dict[str, Any], stored: dict[str, Any] | None = None) -> dict[str, Any]:
    """The executor settings to use: each option ``given`` (None: not given), else the one
    ``stored`` in the study, else the default."""
    stored = stored or {}
    return {k: given[k] if given.get(k) is not None else stored.get(k, DEFAULTS[k])
            for k in SETTINGS}


def executor_from(settings: dict[str, Any]) -> Executor:
    """The executor for ``settings`` (see :func:`executor_settings`)."""
    return make_executor(settings["executor"], workers=settings["workers"],
                         address=settings["address"], cpus_per_trial=settings["cpus_per_trial"],
                         gpus_per_trial=settings["gpus_per_trial"],
                         max_retries=settings["max_retries"],
                         trial_timeout=settings["trial_timeout"])


def stored_settings(path: str) -> dict[str, Any]:
    """The executor settings a study file keeps (empty if none)."""
    with StudyStorage.open(path) as storage:
        return dict(storage.meta("executor") or {})


def open_with_executor(open_study: Callable[[Executor], Study], settings: dict[str, Any]) -> Study:
    """Build the executor, then the study on it (``open_study``); the executor is released if
    the study cannot be opened. Keeping ``settings`` in the file is the caller's part:
    ``Study.create(meta=...)`` with the study, ``set_meta`` on resume."""
    executor = executor_from(settings)
    try:
        return open_study(executor)
    except BaseException:
        executor.shutdown(cancel=True)
        raise

