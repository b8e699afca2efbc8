"""The executor options shared by ``search`` and ``resume``.

``search`` keeps the chosen settings in the study file; ``resume`` reuses them unless told
otherwise (a study started on a Ray cluster resumes there, or anywhere else with
``--executor``). Settings read from a file are data, not the user's word: a stored Ray address,
and a stored worker or thread count above this machine's cores, are used only when confirmed
(``--allow-stored-executor``, or the same option given again); see :func:`check_stored`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from archspace.cli._common import Bounded, BoundedFloat
from archspace.errors import ArchspaceError
from archspace.limits import MAX_RETRIES, MAX_SECONDS, MAX_WORKERS
from archspace.study import Study, StudyStorage
from archspace.study.executor import (
    EXECUTORS,
    Executor,
    check_trial_timeout,
    make_executor,
    trial_threads,
)
from archspace.study.threads import check_threads

__all__ = [
    "check_stored", "executor_from", "executor_options", "executor_settings", "open_with_executor",
    "stored_settings", "trial_threads_of",
]

F = TypeVar("F", bound=Callable[..., Any])
SETTINGS = ("executor", "workers", "address", "cpus_per_trial", "gpus_per_trial", "max_retries",
            "trial_timeout", "threads")
DEFAULTS: dict[str, Any] = {"executor": "inline", "workers": None, "address": None,
                            "cpus_per_trial": None, "gpus_per_trial": 0.0, "max_retries": 1,
                            "trial_timeout": None, "threads": None}


def _timeout(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    name = f"--{param.name}".replace("_", "-")
    try:
        seconds = check_trial_timeout(value, name)
        if seconds is not None and seconds > MAX_SECONDS:
            raise ArchspaceError(f"{name} must be at most {MAX_SECONDS} seconds")
        return seconds
    except ArchspaceError as e:
        raise click.BadParameter(str(e).removeprefix(f"{name} "), ctx, param) from None


def executor_options(f: F) -> F:
    """Add --executor, --workers, --address, --cpus-per-trial, --threads, --gpus-per-trial,
    --max-retries, --trial-timeout (all default to None so ``resume`` can tell 'not given' from a
    stored setting) and --ray-timeout (not stored)."""
    options = [
        click.option("--executor", type=click.Choice(EXECUTORS), default=None,
                     help="Where trials are evaluated: in this process (inline, the default), a "
                          "local process pool, or a Ray cluster."),
        click.option("--workers", type=Bounded(1, MAX_WORKERS), default=None,
                     help="Trials evaluated at once (process: default the CPU count; ray: "
                          "default the cluster's CPUs / --cpus-per-trial)."),
        click.option("--address", default=None, metavar="auto|HOST:PORT",
                     help="Ray cluster to join (default: start Ray in this process)."),
        click.option("--cpus-per-trial", type=BoundedFloat(0, MAX_WORKERS, low_open=True),
                     default=None, help="CPUs each trial reserves (ray). [default: 1]"),
        click.option("--threads", type=Bounded(1, MAX_WORKERS), default=None, metavar="N",
                     help="Threads of each trial's numeric libraries (BLAS, OpenMP, torch), "
                          "inline too. Training results depend on it. [default: "
                          "--cpus-per-trial rounded down, else 1]"),
        click.option("--gpus-per-trial", type=BoundedFloat(0, MAX_WORKERS), default=None,
                     help="GPUs each trial reserves (ray). [default: 0]"),
        click.option("--max-retries", type=Bounded(0, MAX_RETRIES), default=None,
                     help="Re-runs of a trial whose worker died before it is recorded failed. "
                          "[default: 1]"),
        click.option("--trial-timeout", type=float, default=None, metavar="SECONDS",
                     callback=_timeout,
                     help="Stop a trial still running after SECONDS and record it failed "
                          "(inline: each trial then runs in a child process). [default: none]"),
        click.option("--ray-timeout", type=float, default=30.0, metavar="SECONDS",
                     callback=_timeout, show_default=True,
                     help="Give up joining a Ray cluster (--address) that does not answer "
                          "within SECONDS."),
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


def executor_from(settings: dict[str, Any], connect_timeout: float | None = 30.0) -> Executor:
    """The executor for ``settings`` (see :func:`executor_settings`)."""
    return make_executor(settings["executor"], workers=settings["workers"],
                         address=settings["address"], cpus_per_trial=settings["cpus_per_trial"],
                         gpus_per_trial=settings["gpus_per_trial"],
                         max_retries=settings["max_retries"],
                         trial_timeout=settings["trial_timeout"], threads=settings["threads"],
                         connect_timeout=connect_timeout)


def trial_threads_of(settings: dict[str, Any]) -> int:
    """The threads each trial (and the study loop itself) runs on under ``settings``."""
    return trial_threads(settings["threads"], settings["cpus_per_trial"])


def check_stored(path: str, given: dict[str, Any], stored: dict[str, Any], allow: bool) -> None:
    """Refuse the settings ``stored`` in study ``path`` that a file must not decide alone: a Ray
    address (the study would send its work to, and take results from, that cluster) and a
    worker or thread count above this machine's cores, unless ``allow`` or the same option is
    ``given`` again."""
    if given.get("threads") is None:
        check_threads(stored.get("threads"), f"the threads stored in {path}")
    if allow:
        return
    kind = given.get("executor") or stored.get("executor")
    cores = os.cpu_count() or 1
    asks = []
    address = stored.get("address")
    if kind == "ray" and given.get("address") is None and address is not None:
        asks.append(f"Ray address {address!r} (--address)")
    workers = stored.get("workers")
    if (kind in ("process", "ray") and given.get("workers") is None
            and isinstance(workers, int) and not isinstance(workers, bool) and workers > cores):
        asks.append(f"{workers} workers (--workers), this machine has {cores} cores")
    threads = stored.get("threads")
    if (given.get("threads") is None and isinstance(threads, int)
            and not isinstance(threads, bool) and threads > cores):
        asks.append(f"{threads} threads per trial (--threads), this machine has {cores} cores")
    if asks:
        raise ArchspaceError(f"study {path} stores executor settings a file must not decide "
                             f"alone: {'; '.join(asks)}; allowed: --allow-stored-executor to use "
                             "them, or give those options again (or others)")


def stored_settings(path: str) -> dict[str, Any]:
    """The executor settings a study file keeps (empty if none)."""
    with StudyStorage.open(path) as storage:
        stored = storage.meta("executor") or {}
    if not isinstance(stored, dict):
        raise ArchspaceError(f"study {path} keeps executor settings that are not a JSON object "
                             f"(a {type(stored).__name__}): the file was changed outside "
                             "archspace; its trials can still be read (archspace report)")
    return dict(stored)


def open_with_executor(open_study: Callable[[Executor], Study], settings: dict[str, Any],
                       connect_timeout: float | None = 30.0) -> Study:
    """Build the executor, then the study on it (``open_study``); the executor is released if
    the study cannot be opened. Keeping ``settings`` in the file is the caller's part:
    ``Study.create(meta=...)`` with the study, ``set_meta`` on resume."""
    executor = executor_from(settings, connect_timeout)
    try:
        return open_study(executor)
    except BaseException:
        executor.shutdown(cancel=True)
        raise

