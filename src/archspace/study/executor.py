"""Executors: how the study loop gets an architecture evaluated.

The loop hands an executor :class:`Job` objects with :meth:`Executor.submit` and collects
finished ones with :meth:`Executor.wait`; it never calls the estimator itself. An executor with
``capacity`` n lets the loop keep n evaluations in flight (asking the strategy for n archs before
telling any result, as the Strategy contract allows). :class:`InlineExecutor` evaluates in the
calling process, one at a time; :class:`~archspace.study.process_executor.ProcessExecutor` in a
pool of local worker processes, :class:`~archspace.study.ray_executor.RayExecutor` as Ray tasks
(:func:`make_executor` builds any of them by name). The strategy stays with the loop, workers
only run :func:`evaluate_job`, and only the loop writes the study file.

Executors turn an evaluation error into an :class:`Outcome` with a one-line reason, so a
failing trial never stops the study; ``KeyboardInterrupt`` (and ``SystemExit``) pass through.
A worker that dies mid-trial (killed, segfault, out-of-memory killer) is an infrastructure
failure, not an evaluation error: the job is run again, up to ``max_retries`` times, before
its outcome says the worker died.

Every executor caps the numeric libraries (BLAS/OpenMP under numpy and scipy, torch) of a
trial to the ``threads`` it was given, one unless told otherwise (:mod:`archspace.study.threads`):
the libraries' default, a thread per core in every worker, wastes most of a shared machine's
time on threads that wait for each other. CPU training depends on the thread count (reduction
order), so the same count gives the same trials on every executor.

``trial_timeout`` (seconds) bounds each evaluation on every executor: a trial still running
after it is stopped (its worker killed) and recorded failed, "timed out after N s", and the
study goes on; it is not retried. A hung evaluation cannot be stopped inside the calling
process, so the inline executor with a timeout evaluates each job in one child process (a
:class:`~archspace.study.process_executor.ProcessExecutor` with one worker): the estimator must
then be picklable, as for the process pool.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass

from archspace.errors import ArchspaceError
from archspace.estimators.base import Estimator
from archspace.space import Arch, Space
from archspace.study.threads import capped_threads, check_threads, limit_torch

__all__ = [
    "EXECUTORS", "Executor", "InlineExecutor", "Job", "Outcome", "check_trial_timeout",
    "describe_error", "evaluate_job", "make_executor", "timed_out", "trial_threads",
]

#: The executor kinds :func:`make_executor` builds.
EXECUTORS = ("inline", "process", "ray")


@dataclass(frozen=True)
class Job:
    """One evaluation to run: trial ``number`` of ``arch``, with the study's ``seed``; the
    trained state goes to the ``checkpoint`` file when the study keeps checkpoints. A
    multi-fidelity scheduler sets ``resource`` (units of the estimator's resource) and, for a
    promoted trial, ``warm_start``: the checkpoint of the rung below to continue from."""

    number: int
    arch: Arch
    seed: int
    checkpoint: str | None = None
    resource: float | None = None
    warm_start: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What an evaluation produced: ``metrics``, or ``error`` (a one-line reason)."""

    job: Job
    metrics: dict[str, float] | None
    error: str | None
    started: float
    duration: float


#: How torch words allocation failures (CUDA/MPS "out of memory", the CPU allocator's message).
_OOM_MESSAGES = ("out of memory", "can't allocate memory")


def describe_error(e: BaseException) -> str:
    """One line saying why an evaluation failed; out-of-memory errors are named as such."""
    text = " ".join(str(e).split()) or type(e).__name__
    if isinstance(e, MemoryError) or (isinstance(e, RuntimeError)
                                      and any(m in text.lower() for m in _OOM_MESSAGES)):
        _free_accelerator_memory()
        return f"out of memory: {type(e).__name__}: {text}"[:500]
    return f"{type(e).__name__}: {text}"[:500]


def _free_accelerator_memory() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def evaluate_job(space: Space, estimator: Estimator, job: Job) -> Outcome:
    """Run one job in this process, catching any evaluation error."""
    started, t0 = time.time(), time.perf_counter()
    try:
        if job.checkpoint is None and job.resource is None and job.warm_start is None:
            metrics = dict(estimator.evaluate(space, job.arch, seed=job.seed))
        else:
            metrics = dict(estimator.evaluate_at(space, job.arch, seed=job.seed,
                                                 resource=job.resource, warm_start=job.warm_start,
                                                 checkpoint=job.checkpoint))
    except Exception as e:  # every evaluation error becomes a failed trial
        return Outcome(job, None, describe_error(e), started, time.perf_counter() - t0)
    return Outcome(job, metrics, None, started, time.perf_counter() - t0)


class Executor(ABC):
    """Runs evaluations for the study loop (see the module docstring)."""

    #: How many jobs may be in flight at once.
    capacity: int = 1
    #: The threads a trial's numeric libraries run on (None: left as they are).
    threads: int | None = None
    #: Whether jobs run on this machine (the study then checks here, before the first, that the
    #: machine has what the estimator needs, e.g. its device). False for a joined Ray cluster.
    runs_here: bool = True

    def bind(self, space: Space, estimator: Estimator) -> None:
        """Called once by the study before any :meth:`submit`."""
        self.space = space
        self.estimator = estimator

    @abstractmethod
    def submit(self, job: Job) -> None:
        """Start (or queue) ``job``."""

    @abstractmethod
    def wait(self) -> list[Outcome]:
        """Block until at least one submitted job finishes; return every finished one."""

    def shutdown(self, cancel: bool = False) -> None:  # noqa: B027 - optional hook
        """Release workers (default: nothing to release). The loop calls it with nothing in
        flight; ``cancel=True`` (Ctrl-C) abandons in-flight jobs, stopping them promptly."""


class InlineExecutor(Executor):
    """Evaluates each job in the calling process when the loop waits for it, its numeric
    libraries on ``threads`` threads (None: as they are), from the first job until
    :meth:`shutdown`, which puts back the process's own settings."""

    capacity = 1

    def __init__(self, threads: int | None = 1) -> None:
        self._queue: deque[Job] = deque()
        self.threads = check_threads(threads)
        self._cap: contextlib.ExitStack | None = None

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def wait(self) -> list[Outcome]:
        job = self._queue.popleft()
        if self.threads is not None:
            if self._cap is None:
                self._cap = contextlib.ExitStack()
                self._cap.enter_context(capped_threads(self.threads))
            limit_torch(self.threads)  # a torch the last trial imported
        return [evaluate_job(self.space, self.estimator, job)]

    def shutdown(self, cancel: bool = False) -> None:
        self._queue.clear()
        if self._cap is not None:
            self._cap.close()
            self._cap = None


def make_executor(kind: str, *, workers: int | None = None, address: str | None = None,
                  cpus_per_trial: float | None = None, gpus_per_trial: float = 0,
                  max_retries: int = 1, trial_timeout: float | None = None,
                  threads: int | None = None, connect_timeout: float | None = 30.0) -> Executor:
    """The executor named ``kind`` (one of :data:`EXECUTORS`).

    ``workers``: trials evaluated at once (process: default the CPU count; ray: default the
    cluster's CPUs // ``cpus_per_trial``). ``address``: the Ray cluster to join ("auto" or
    HOST:PORT; default: start Ray in this process). ``cpus_per_trial``: CPUs each trial
    reserves (default 1). ``threads``: the threads of a trial's numeric libraries (BLAS,
    OpenMP, torch; default ``cpus_per_trial`` rounded down, else 1). ``gpus_per_trial``: GPUs
    each Ray task reserves. ``max_retries``: re-runs of a trial whose worker died.
    ``trial_timeout``: seconds a trial may run before it is stopped and recorded failed
    (default: no limit; inline: each trial then runs in a child process).
    ``connect_timeout``: seconds joining a Ray cluster may take before it is given up (None:
    no limit). Settings a kind has no use for are ignored (a resumed study may switch kinds and
    keep the others' settings).
    """
    if kind not in EXECUTORS:
        raise ArchspaceError(f"unknown executor {kind!r}; allowed: {', '.join(EXECUTORS)}")
    if workers is not None and (not _is_int(workers) or workers < 1):
        raise ArchspaceError(f"workers must be a whole number >= 1 (or unset), got {workers!r}")
    if cpus_per_trial is not None and (not _is_number(cpus_per_trial) or not cpus_per_trial > 0):
        raise ArchspaceError(f"cpus_per_trial must be a number > 0, got {cpus_per_trial!r}")
    if not _is_number(gpus_per_trial) or not gpus_per_trial >= 0:
        raise ArchspaceError(f"gpus_per_trial must be a number >= 0, got {gpus_per_trial!r}")
    if not _is_int(max_retries) or max_retries < 0:
        raise ArchspaceError(f"max_retries must be a whole number >= 0, got {max_retries!r}")
    if address is not None and (not isinstance(address, str) or not address.strip()):
        raise ArchspaceError(f"address must be 'auto' or HOST:PORT of a Ray head, got {address!r}")
    check_trial_timeout(trial_timeout)
    check_trial_timeout(connect_timeout, "connect_timeout")
    n_threads = trial_threads(threads, cpus_per_trial)
    if kind == "inline" and trial_timeout is None:
        return InlineExecutor(n_threads)
    if kind in ("inline", "process"):
        from archspace.study.process_executor import ProcessExecutor

        if kind == "inline":  # one child process, so a hung trial can be stopped
            workers = 1
        return ProcessExecutor(workers=workers, cpus_per_trial=cpus_per_trial or 1.0,
                               max_retries=max_retries, trial_timeout=trial_timeout,
                               threads=n_threads)
    from archspace.study.ray_executor import RayExecutor

    return RayExecutor(workers=workers, address=address, cpus_per_trial=cpus_per_trial or 1.0,
                       gpus_per_trial=gpus_per_trial, max_retries=max_retries,
                       trial_timeout=trial_timeout, threads=n_threads,
                       connect_timeout=connect_timeout)


def trial_threads(threads: int | None, cpus_per_trial: float | None = None) -> int:
    """The threads a trial runs on: ``threads`` if given, else the whole CPUs it reserves
    (``cpus_per_trial``), else 1."""
    checked = check_threads(threads)
    if checked is not None:
        return checked
    return 1 if cpus_per_trial is None else torch_threads(cpus_per_trial)


def check_trial_timeout(seconds: object, name: str = "trial_timeout") -> float | None:
    """``seconds`` if it is a usable trial time limit (a positive finite number, or None)."""
    if seconds is None:
        return None
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) \
            or not math.isfinite(seconds) or not seconds > 0:
        raise ArchspaceError(f"{name} must be a positive finite number of seconds (or unset), "
                             f"got {seconds!r}")
    return float(seconds)


def timed_out(job: Job, seconds: float, started: float) -> Outcome:
    """The failed outcome of ``job``, stopped after ``seconds`` (it began at ``started``)."""
    return Outcome(job, None, f"timed out after {seconds:g} s", started, time.time() - started)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


# -- shared by the worker-based executors ----------------------------------------------------------
def torch_threads(cpus_per_trial: float) -> int:
    """The threads a worker reserving ``cpus_per_trial`` CPUs uses (at least 1)."""
    return max(1, int(cpus_per_trial))


class Retries:
    """Counts each job's attempts, for executors whose workers can die under a job."""

    def __init__(self, max_retries: int) -> None:
        self.max_retries = max_retries
        self._attempts: dict[int, tuple[int, float]] = {}  # number -> (attempts, first start)

    def started(self, job: Job) -> None:
        """An attempt at ``job`` has begun."""
        n, first = self._attempts.get(job.number, (0, time.time()))
        self._attempts[job.number] = (n + 1, first)

    def uncount(self, job: Job) -> None:
        """Take back the latest attempt at ``job`` (it never reached a worker)."""
        n, first = self._attempts.get(job.number, (1, time.time()))
        if n <= 1:
            self._attempts.pop(job.number, None)
        else:
            self._attempts[job.number] = (n - 1, first)

    def finished(self, job: Job) -> None:
        """``job`` has an outcome; forget it."""
        self._attempts.pop(job.number, None)

    def failed(self, job: Job, reason: str) -> Outcome | None:
        """The latest attempt at ``job`` failed for ``reason`` (e.g. "worker died (exit signal
        SIGKILL)"): None if it may run again, else its failed outcome."""
        n, first = self._attempts.get(job.number, (1, time.time()))
        if n <= self.max_retries:
            return None
        self.finished(job)
        plural = "" if n == 1 else "s"
        return Outcome(job, None, f"{reason} after {n} attempt{plural}"[:500], first,
                       time.time() - first)

    def clear(self) -> None:
        self._attempts.clear()
