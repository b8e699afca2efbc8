"""Evaluating trials as Ray tasks, on this machine or on a Ray cluster.

Ray (Moritz et al., "Ray: A Distributed Framework for Emerging AI Applications", OSDI 2018)
schedules each :class:`~archspace.study.executor.Job` as a task reserving ``cpus_per_trial``
CPUs and ``gpus_per_trial`` GPUs. The space, the estimator and its large shared inputs (the
benchmark table, the dataset: :meth:`~archspace.estimators.base.Estimator.shared_inputs`) go
into Ray's object store once; a worker process loads them on its first task and keeps them for
the tasks after it, so no node needs its own copy of the data. Ray's own
task retries are off: a task whose worker died is resubmitted here, up to ``max_retries``
times, so the failed trial can say why it failed. With ``trial_timeout``, a task not finished
that long after it was submitted (which includes any wait for a free Ray worker) is cancelled,
its worker killed, and the trial recorded as timed out.

A driver that dies (SIGKILL, crash) takes its tasks with it: Ray ends the job of a dead driver
and kills the workers running its tasks. With Ray started in this process the whole local
cluster goes too (seen: raylet and task workers gone within 8 s of ``kill -9`` of the driver).

Joining a cluster that does not answer (a wrong address, a head that is gone, a port that is no
Ray head) would wait forever inside ``ray.init``: it is given up after ``connect_timeout``
seconds with a one-line error, and an address that refuses connections fails at once.

Ray is an optional extra (``pip install "archspace[ray]"``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import sys
import threading
import time
import uuid
import warnings
from typing import Any

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
from archspace.study.threads import limit_threads

__all__ = ["RayExecutor"]

#: The space and estimator a worker process has loaded, under their study's token.
_LOADED: dict[str, tuple[Space, Estimator]] = {}


def _evaluate_task(token: str, payload: list[Any], paths: list[str], job: Job,
                   threads: int) -> Outcome:
    """The Ray task: load the space, the estimator and its shared inputs (once per worker and
    study, from the object store), evaluate."""
    import ray

    for path in paths:  # the driver's own code directories, so its modules unpickle here
        if path not in sys.path:
            sys.path.append(path)
    pieces = _LOADED.get(token)
    if pieces is None:
        try:
            space, estimator, shared = ray.get(payload[0])
            estimator.use_shared_inputs(shared)
            pieces = (space, estimator)
        except ray.exceptions.RayError:
            raise
        except Exception as e:
            return Outcome(job, None, "worker could not load the space and estimator: "
                           f"{describe_error(e)}", time.time(), 0.0)
        _LOADED.clear()
        _LOADED[token] = pieces
    limit_threads(threads)
    return evaluate_job(pieces[0], pieces[1], job)


def import_ray() -> Any:
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ArchspaceError('the ray executor needs Ray, which is not installed; '
                             'pip install "archspace[ray]"') from None
    return ray


def _code_paths() -> list[str]:
    """This interpreter's import paths outside its installation (the user's own code)."""
    installed = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    paths: list[str] = []
    for entry in sys.path:
        path = os.path.realpath(entry or os.getcwd())
        if (os.path.isdir(path) and path not in paths
                and not any(path == p or path.startswith(p + os.sep) for p in installed)):
            paths.append(path)
    return paths


def _reason(e: Exception) -> str:
    """Why a Ray task failed, in a few words."""
    from ray import exceptions as rx

    crashes = (rx.WorkerCrashedError, rx.OutOfMemoryError, rx.NodeDiedError,
               rx.LocalRayletDiedError, rx.OwnerDiedError)
    if isinstance(e, crashes):
        return f"worker died ({type(e).__name__})"
    cause = e.cause if isinstance(e, rx.RayTaskError) and e.cause is not None else e
    text = " ".join(str(cause).split()).split(". ")[0][:200]
    return f"ray task failed ({type(cause).__name__}: {text})"


_ALLOWED_HEADS = ("allowed: auto or HOST:PORT of a running head (ray start --head), or "
                  "--ray-timeout SECONDS for a slow one")


def _join(ray: Any, address: str, timeout: float | None) -> None:
    """``ray.init(address=address)``, given up after ``timeout`` seconds (see the module doc)."""
    started = time.monotonic()
    _check_reachable(address, timeout)
    if timeout is None:
        ray.init(address=address)
        return
    left = max(0.1, timeout - (time.monotonic() - started))
    state: dict[str, Any] = {"abandoned": False}

    def connect() -> None:
        try:
            ray.init(address=address)
        except BaseException as e:  # handed to the waiting thread
            state["error"] = e
            return
        if state["abandoned"]:  # joined after the wait was given up: leave again
            with contextlib.suppress(Exception):
                ray.shutdown()

    quiet = _DropMessage("SIGTERM handler is not set")  # ray.init warns off the main thread
    worker_log = logging.getLogger("ray._private.worker")
    worker_log.addFilter(quiet)
    try:
        thread = threading.Thread(target=connect, name="archspace-ray-join", daemon=True)
        thread.start()
        thread.join(left)
    finally:
        worker_log.removeFilter(quiet)
    if thread.is_alive():
        state["abandoned"] = True
        raise ArchspaceError(f"could not join the Ray cluster at {address}: no answer within "
                             f"{timeout:g} s; {_ALLOWED_HEADS}")
    if "error" in state:
        raise state["error"]


def _check_reachable(address: str, timeout: float | None) -> None:
    """Fail at once when HOST:PORT refuses connections (Ray would retry it for minutes)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host:
        return  # "auto" and the like: Ray finds the head itself
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as e:
        why = "no answer" if isinstance(e, TimeoutError) else (e.strerror or type(e).__name__)
        raise ArchspaceError(f"could not join the Ray cluster at {address}: {why.lower()}; "
                             f"{_ALLOWED_HEADS}") from None


class _DropMessage(logging.Filter):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


class RayExecutor(Executor):
    """Runs up to ``workers`` jobs at once as Ray tasks (default: the cluster's CPUs //
    ``cpus_per_trial``), each on ``threads`` threads (default: ``cpus_per_trial`` rounded
    down). Joins the cluster at ``address`` ("auto" or HOST:PORT; also ``RAY_ADDRESS``) within
    ``connect_timeout`` seconds, else starts Ray in this process; uses the Ray session already
    running in this process if there is one, and shuts Ray down at the end only if it started
    it."""

    def __init__(self, workers: int | None = None, address: str | None = None,
                 cpus_per_trial: float = 1, gpus_per_trial: float = 0,
                 max_retries: int = 1, trial_timeout: float | None = None,
                 threads: int | None = None, connect_timeout: float | None = 30.0) -> None:
        ray = import_ray()
        self.trial_timeout = trial_timeout
        self._submitted: dict[Any, tuple[float, float]] = {}  # ref -> (monotonic, time.time)
        self._ray = ray
        self._owns_ray = False
        self._retries = Retries(max_retries)
        self._refs: dict[Any, Job] = {}
        self._payload: Any = None
        self._token = ""
        self._paths: list[str] = []
        self.threads: int = threads or torch_threads(cpus_per_trial)
        self.connect_timeout = connect_timeout
        address = address or os.environ.get("RAY_ADDRESS") or None
        if not ray.is_initialized():
            self._start(address, workers, cpus_per_trial)
        self.runs_here = self._owns_ray and address is None
        resources = ray.cluster_resources()
        self._check_fits(resources, cpus_per_trial, gpus_per_trial)
        self.capacity = workers or max(1, int(resources.get("CPU", 0) // cpus_per_trial))
        self._task = ray.remote(_evaluate_task).options(
            num_cpus=cpus_per_trial, num_gpus=gpus_per_trial, max_retries=0,
            retry_exceptions=False)

    def _start(self, address: str | None, workers: int | None, cpus_per_trial: float) -> None:
        try:
            if address is not None:
                _join(self._ray, address, self.connect_timeout)
            else:
                cpus = math.ceil(workers * cpus_per_trial) if workers else os.cpu_count() or 1
                self._ray.init(num_cpus=cpus, include_dashboard=False)
        except Exception as e:
            if address is None:
                raise ArchspaceError(f"could not start Ray in this process: {describe_error(e)}; "
                                     "allowed: another executor, or --address of a running "
                                     "Ray head") from None
            if isinstance(e, ArchspaceError):
                raise
            raise ArchspaceError(f"could not join the Ray cluster at {address}: "
                                 f"{describe_error(e)}; allowed: auto or HOST:PORT of a running "
                                 "head (ray start --head); a head with token authentication also "
                                 "needs RAY_AUTH_MODE=token here") from None
        self._owns_ray = True

    def _check_fits(self, resources: dict[str, float], cpus: float, gpus: float) -> None:
        """A trial the cluster can never fit would wait forever: refuse it on a cluster this
        executor started, warn on a joined one (it may scale up)."""
        short = [f"{need:g} {name} per trial, cluster has {resources.get(name, 0):g}"
                 for name, need in (("CPU", cpus), ("GPU", gpus))
                 if need > resources.get(name, 0)]
        if not short:
            return
        if self._owns_ray:
            self.shutdown()
            raise ArchspaceError(f"Ray cannot fit a trial: {'; '.join(short)}; allowed: "
                                 "cpus_per_trial/gpus_per_trial within the cluster's resources")
        warnings.warn(f"Ray cannot fit a trial yet ({'; '.join(short)}); trials will wait for "
                      "the cluster to grow", RuntimeWarning, stacklevel=3)

    def bind(self, space: Space, estimator: Estimator) -> None:
        super().bind(space, estimator)
        try:
            self._payload = self._ray.put((space, estimator, estimator.shared_inputs()))
        except Exception as e:
            raise ArchspaceError(
                f"estimator {estimator.name!r} on space {space.label} can't be sent to Ray "
                f"workers ({describe_error(e)}); allowed: a picklable estimator, or the inline "
                "executor") from None
        self._token = uuid.uuid4().hex
        self._paths = _code_paths()

    def submit(self, job: Job) -> None:
        # The payload goes inside a list so Ray hands the task the reference, not the value:
        # the worker fetches it only when it has not loaded this study's pieces yet.
        ref = self._task.remote(self._token, [self._payload], self._paths, job, self.threads)
        self._refs[ref] = job
        self._submitted[ref] = (time.monotonic(), time.time())
        self._retries.started(job)

    def wait(self) -> list[Outcome]:
        ray = self._ray
        while True:
            if not self._refs:
                raise RuntimeError("wait() called with no job in flight")
            refs = list(self._refs)
            ray.wait(refs, num_returns=1, timeout=self._until_deadline())
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            done = self._time_out([r for r in refs if r not in ready])
            for ref in ready:
                job = self._refs.pop(ref)
                self._submitted.pop(ref, None)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayError as e:
                    final = self._retries.failed(job, _reason(e))
                    if final is None:
                        self.submit(job)
                    else:
                        done.append(final)
                else:
                    self._retries.finished(job)
                    done.append(outcome)
            if done:
                return done

    def _cancel(self, refs: list[Any]) -> None:
        """Force-cancel the tasks of ``refs`` that have not finished.

        A task whose result is ready is left alone. Ray (seen with 2.60) stores a finished
        task's result, which wakes the driver's ``ray.wait`` (the point where Python raises
        the ``KeyboardInterrupt`` of a Ctrl-C), and only then, on its own thread, checks that
        the task is still pending; a ``ray.cancel`` in between fails the task, and the check
        then kills the driver (``Check failed: it != submissible_tasks_.end() Tried to
        complete task that was not pending``, exit status 1, no Python traceback; the kin of
        the race fixed in ray-project/ray PR 54798). A Ray this executor started in its own
        process is not cancelled task by task at all: ``ray.shutdown()`` stops the local
        cluster, its workers with it."""
        ray = self._ray
        with contextlib.suppress(Exception):
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            finished = set(ready)
            refs = [r for r in refs if r not in finished]
        for ref in refs:
            with contextlib.suppress(Exception):  # finished meanwhile or gone
                ray.cancel(ref, force=True)

    def _until_deadline(self) -> float | None:
        """Seconds until the first task in flight runs out of time (None: no limit)."""
        if self.trial_timeout is None or not self._submitted:
            return None
        first = min(t for t, _ in self._submitted.values()) + self.trial_timeout
        return max(0.0, first - time.monotonic())

    def _time_out(self, pending: list[Any]) -> list[Outcome]:
        """Cancel the ``pending`` tasks that ran out of time; their timed-out outcomes."""
        if self.trial_timeout is None:
            return []
        now, done = time.monotonic(), []
        for ref in pending:
            given, wall = self._submitted[ref]
            if now - given < self.trial_timeout:
                continue
            with contextlib.suppress(Exception):  # finished meanwhile or gone: stopped either way
                self._ray.cancel(ref, force=True)
            job = self._refs.pop(ref)
            del self._submitted[ref]
            self._retries.finished(job)
            done.append(timed_out(job, self.trial_timeout, wall))
        return done

    def shutdown(self, cancel: bool = False) -> None:
        ray = self._ray
        if self._refs and ray.is_initialized() and not (self._owns_ray and self.runs_here):
            self._cancel(list(self._refs))
        self._refs.clear()
        self._submitted.clear()
        self._retries.clear()
        self._payload = None
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False
