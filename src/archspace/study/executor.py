"""Executors: how the study loop gets an architecture evaluated.

The loop hands an executor :class:`Job` objects with :meth:`Executor.submit` and collects
finished ones with :meth:`Executor.wait`; it never calls the estimator itself. An executor with
``capacity`` n lets the loop keep n evaluations in flight (asking the strategy for n archs before
telling any result, as the Strategy contract allows). :class:`InlineExecutor` evaluates in the
calling process, one at a time; process-pool or Ray executors implement the same two methods.

Executors turn an evaluation error into an :class:`Outcome` with a one-line reason, so a
failing trial never stops the study; ``KeyboardInterrupt`` (and ``SystemExit``) pass through.
"""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass

from archspace.estimators.base import Estimator
from archspace.space import Arch, Space

__all__ = ["Executor", "InlineExecutor", "Job", "Outcome", "describe_error", "evaluate_job"]


@dataclass(frozen=True)
class Job:
    """One evaluation to run: trial ``number`` of ``arch``, with the study's ``seed``."""

    number: int
    arch: Arch
    seed: int


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
        metrics = dict(estimator.evaluate(space, job.arch, seed=job.seed))
    except Exception as e:  # every evaluation error becomes a failed trial
        return Outcome(job, None, describe_error(e), started, time.perf_counter() - t0)
    return Outcome(job, metrics, None, started, time.perf_counter() - t0)


class Executor(ABC):
    """Runs evaluations for the study loop (see the module docstring)."""

    #: How many jobs may be in flight at once.
    capacity: int = 1

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

    def shutdown(self) -> None:  # noqa: B027 - optional hook
        """Release workers (default: nothing to release)."""


class InlineExecutor(Executor):
    """Evaluates each job in the calling process when the loop waits for it."""

    capacity = 1

    def __init__(self) -> None:
        self._queue: deque[Job] = deque()

    def submit(self, job: Job) -> None:
        self._queue.append(job)

    def wait(self) -> list[Outcome]:
        job = self._queue.popleft()
        return [evaluate_job(self.space, self.estimator, job)]
