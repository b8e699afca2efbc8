"""Evaluating trials in a pool of local worker processes.

Each worker is a fresh interpreter ("spawn" start method: torch and ``fork`` don't mix) that
receives the pickled space and estimator once, when it starts, and then evaluates one
:class:`~archspace.study.executor.Job` (number, arch, seed) at a time over its own pipe. Owning
one pipe per worker, rather than using :mod:`concurrent.futures` (whose pool breaks as a whole
when any worker dies), ties a dead worker to the one job it held: that job is run again on a
fresh worker, up to ``max_retries`` times, while the other workers' jobs go on untouched.
With ``trial_timeout``, a worker still on its job that long after it got it is killed and the
job recorded as timed out (not retried); the next job gets a fresh worker.

Workers ignore SIGINT, so Ctrl-C reaches only the loop, which then cancels them with
:meth:`ProcessExecutor.shutdown`. A worker whose driver is gone (SIGKILLed, crashed) exits at
once instead of finishing its trial for nobody: on Linux the kernel kills it when the driver
dies (``PR_SET_PDEATHSIG``, set for workers the driver's main thread starts, since the signal
follows the starting thread), and everywhere a watcher thread exits it within
:data:`_PARENT_POLL` seconds of its parent process id changing.

As with any "spawn" pool, workers import the main module afresh: a script that runs a study
with this executor needs the ``if __name__ == "__main__":`` guard (the ``archspace`` command
has it). A worker starts as ``python -c``, which would search
the current directory first before taking the driver's ``sys.path``; it is started with
``PYTHONSAFEPATH=1``, so a file planted in the working directory (``multiprocessing.py``) is
never imported in its place.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_any
from multiprocessing.process import BaseProcess
from multiprocessing.util import Finalize

from archspace.errors import ArchspaceError
from archspace.estimators.base import Estimator
from archspace.space import Space
from archspace.study.executor import (
    Executor,
    Job,
    Outcome,
    Retries,
    describe_error,
    evaluate_job,
    timed_out,
    torch_threads,
)
from archspace.study.threads import limit_threads, limit_torch, thread_env

__all__ = ["ProcessExecutor"]

#: Seconds a stopped worker gets to exit on its own before it is killed.
_GRACE = 5.0
#: Seconds between a worker's checks that its driver is still alive.
_PARENT_POLL = 0.25
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _exit_with_parent(parent: int, kernel: bool) -> None:
    """End this worker when the driver process ``parent`` dies (see the module doc)."""
    if kernel and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # no prctl: the watcher alone
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="archspace-parent-watch", daemon=True).start()


def _worker_main(conn: Connection, payload: bytes, threads: int, parent: int = 0,
                 kernel_watch: bool = False) -> None:
    """A worker's life: load the space and estimator, then evaluate jobs until told to stop
    (``None``) or the loop's end of the pipe closes; exit if the driver ``parent`` dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent:
        _exit_with_parent(parent, kernel_watch)
    limit_threads(threads)
    setup_error = None
    try:
        space, estimator = pickle.loads(payload)
    except Exception as e:  # reported with every job instead of killing the worker
        setup_error = f"worker could not load the space and estimator: {describe_error(e)}"
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        if setup_error is not None:
            outcome = Outcome(job, None, setup_error, time.time(), 0.0)
        else:
            limit_torch(threads)  # a torch the last job imported
            outcome = evaluate_job(space, estimator, job)
        try:
            conn.send(outcome)
        except (EOFError, OSError):
            return


class _Worker:
    """One worker process, its end of the pipe, and the job it is running (if any)."""

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process, self.conn = process, conn
        self.job: Job | None = None
        self.given = 0.0  # when it got its job (time.monotonic)
        self.given_wall = 0.0  # the same, as time.time


def _exit_detail(exitcode: int | None) -> str:
    if exitcode is None:
        return "no exit status"
    if exitcode < 0:
        try:
            return f"exit signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"exit signal {-exitcode}"
    return f"exit code {exitcode}"


def _stop(workers: list[_Worker], kill: bool) -> None:
    """Stop ``workers``: busy ones (or all, with ``kill``) are killed, idle ones are asked to
    exit and killed if they don't."""
    for w in workers:
        if kill or w.job is not None:
            w.process.kill()
        else:
            try:
                w.conn.send(None)
            except OSError:
                w.process.kill()
    deadline = time.monotonic() + _GRACE
    for w in workers:
        w.process.join(max(0.0, deadline - time.monotonic()))
        if w.process.exitcode is None:
            w.process.kill()
            w.process.join()
        w.conn.close()
        w.process.close()
    workers.clear()


class ProcessExecutor(Executor):
    """Runs up to ``workers`` (default: the CPU count) jobs at once in worker processes, each
    on ``threads`` threads (default: ``cpus_per_trial`` rounded down); a job whose worker dies
    is re-run up to ``max_retries`` times; one still running after ``trial_timeout`` seconds is
    stopped."""

    def __init__(self, workers: int | None = None, cpus_per_trial: float = 1,
                 max_retries: int = 1, trial_timeout: float | None = None,
                 threads: int | None = None) -> None:
        self.capacity = workers or os.cpu_count() or 1
        self.threads: int = threads or torch_threads(cpus_per_trial)
        self.trial_timeout = trial_timeout
        self._ctx = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        self._queue: deque[Job] = deque()
        self._done: list[Outcome] = []
        self._retries = Retries(max_retries)
        self._payload = b""
        # Stop the workers before multiprocessing joins its children at interpreter exit.
        self._finalizer = Finalize(self, _stop, args=(self._workers, True), exitpriority=10)

    def bind(self, space: Space, estimator: Estimator) -> None:
        super().bind(space, estimator)
        try:
            self._payload = pickle.dumps((space, estimator))
        except Exception as e:
            raise ArchspaceError(
                f"estimator {estimator.name!r} on space {space.label} can't be sent to worker "
                f"processes ({describe_error(e)}); allowed: a picklable estimator, or the inline "
                "executor without a trial timeout") from None

    def submit(self, job: Job) -> None:
        self._queue.append(job)
        self._dispatch()

    def wait(self) -> list[Outcome]:
        while not self._done:
            busy = [w for w in self._workers if w.job is not None]
            if not busy:
                raise RuntimeError("wait() called with no job in flight")
            ready = set(wait_any([w.conn for w in busy] + [w.process.sentinel for w in busy],
                                 self._until_deadline(busy)))
            for w in busy:
                if w.conn in ready or w.process.sentinel in ready:
                    self._collect(w)
                elif self._overdue(w):
                    self._time_out(w)
            self._dispatch()
        done, self._done = self._done, []
        return done

    def shutdown(self, cancel: bool = False) -> None:
        _stop(self._workers, kill=cancel)
        self._queue.clear()
        self._done.clear()
        self._retries.clear()

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (for monitoring and tests)."""
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    # -- internals ---------------------------------------------------------------------------
    def _until_deadline(self, busy: list[_Worker]) -> float | None:
        """Seconds until the first busy worker's job runs out of time (None: no limit)."""
        if self.trial_timeout is None:
            return None
        first = min(w.given for w in busy) + self.trial_timeout
        return max(0.0, first - time.monotonic())

    def _overdue(self, w: _Worker) -> bool:
        return (self.trial_timeout is not None
                and time.monotonic() - w.given >= self.trial_timeout)

    def _time_out(self, w: _Worker) -> None:
        """Stop ``w``, whose job ran out of time, and record that job as timed out."""
        job = w.job
        assert job is not None and self.trial_timeout is not None
        self._discard(w)
        self._retries.finished(job)
        self._done.append(timed_out(job, self.trial_timeout, w.given_wall))

    def _dispatch(self) -> None:
        """Hand queued jobs to idle workers, starting workers up to ``capacity``."""
        while self._queue:
            worker = next((w for w in self._workers if w.job is None), None)
            fresh = worker is None
            if worker is None:
                if len(self._workers) >= self.capacity:
                    return
                worker = self._start_worker()
            job = self._queue.popleft()
            worker.job = job
            worker.given, worker.given_wall = time.monotonic(), time.time()
            self._retries.started(job)
            try:
                worker.conn.send(job)
            except OSError:
                if fresh:  # a worker that dies before its first job: count it, or this never ends
                    self._collect(worker)
                else:  # an idle worker died: not the job's fault
                    worker.job = None
                    self._retries.uncount(job)
                    self._discard(worker)
                    self._queue.appendleft(job)

    def _start_worker(self) -> _Worker:
        conn, child = self._ctx.Pipe()
        main_thread = threading.current_thread() is threading.main_thread()
        process = self._ctx.Process(target=_worker_main, name="archspace-worker",
                                    args=(child, self._payload, self.threads, os.getpid(),
                                          main_thread))
        # PYTHONSAFEPATH: see the module doc; the thread variables, so that numpy and torch
        # start on the worker's threads when it imports them (before _worker_main runs)
        env = {"PYTHONSAFEPATH": "1", **thread_env(self.threads)}
        was = {var: os.environ.get(var) for var in env}
        os.environ.update(env)
        try:
            process.start()
        finally:
            for var, value in was.items():
                if value is None:
                    del os.environ[var]
                else:
                    os.environ[var] = value
        child.close()
        worker = _Worker(process, conn)
        self._workers.append(worker)
        return worker

    def _collect(self, w: _Worker) -> None:
        """Take ``w``'s outcome, or handle its death."""
        job = w.job
        assert job is not None
        try:
            if w.conn.poll():
                outcome = w.conn.recv()
                w.job = None
                self._retries.finished(job)
                self._done.append(outcome)
                return
        except Exception:  # EOF or a torn message: the worker died
            pass
        w.process.join(_GRACE)
        if w.process.exitcode is None:  # the pipe broke but the process lives on: end it
            w.process.kill()
            w.process.join()
        reason = f"worker died ({_exit_detail(w.process.exitcode)})"
        self._discard(w)
        final = self._retries.failed(job, reason)
        if final is None:
            self._queue.appendleft(job)
        else:
            self._done.append(final)

    def _discard(self, w: _Worker) -> None:
        self._workers.remove(w)
        if w.process.exitcode is None:
            w.process.kill()
        w.process.join()
        w.conn.close()
        w.process.close()
