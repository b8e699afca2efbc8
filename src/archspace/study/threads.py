"""Capping the threads of numeric libraries to what a trial was given.

numpy and scipy run their linear algebra on a BLAS (OpenBLAS, MKL) that starts one thread per
core, and torch runs its operators on an OpenMP pool of the same size. On a shared machine, or
with several trials at once, those threads only fight each other: a 300-trial ``guided`` study
on the NAS-Bench-201 table spends more than ten times the CPU time on two BLAS threads that it
needs on one, for the same trials (docs/benchmarks.md, "Thread caps").

Three ways in, because a library reads its thread count at different times: the environment
variables (:data:`THREAD_VARS`), read by a library when it is loaded, so they must be set before
a process imports numpy or torch (worker processes get them at start); threadpoolctl, which
resets the pools of libraries already loaded; and torch's own setting, for a torch already
imported. torch is never imported here to cap it: a process that has not imported it does not
use it, and the environment variables cover it if a trial imports it later. (Read from the
environment, a count above the machine's cores is cut to the cores: a torch that a trial
imports runs that one trial on at most the cores, the trials after it on the count.)
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from archspace.errors import ArchspaceError

__all__ = ["THREAD_VARS", "capped_threads", "check_threads", "limit_threads", "thread_env"]

#: The environment variables that set the thread pools of OpenMP and the BLAS libraries.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def check_threads(value: object, name: str = "threads") -> int | None:
    """``value`` if it is a usable thread count (a whole number >= 1, or None)."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ArchspaceError(f"{name} must be a whole number >= 1 (or unset), got {value!r}")
    return value


def thread_env(threads: int) -> dict[str, str]:
    """The environment that starts a process's numeric libraries on ``threads`` threads."""
    return dict.fromkeys(THREAD_VARS, str(threads))


def limit_threads(threads: int) -> None:
    """Run this process's numeric libraries on ``threads`` threads from now on (worker
    processes: they run trials only)."""
    os.environ.update(thread_env(threads))
    _limit_pools(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        limit_torch(threads)
        if torch.get_num_interop_threads() != threads:
            # torch allows it only before its first parallel work; a pool already running
            # keeps its size (torch's default: the cores)
            with contextlib.suppress(RuntimeError):
                torch.set_num_interop_threads(threads)


def limit_torch(threads: int) -> None:
    """torch's intra-op threads, if torch is imported (cheap: for every trial)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def capped_threads(threads: int | None) -> Iterator[None]:
    """Run the numeric libraries of this process on ``threads`` threads inside the block, and
    put back what was there after it (the environment, the pools, torch's count; a torch first
    imported inside the block keeps ``threads``) - for a study run from the command line or from
    Python. ``None``: leave the threads alone."""
    if threads is None:
        yield
        return
    saved_env = {var: os.environ.get(var) for var in THREAD_VARS}
    torch = sys.modules.get("torch")
    saved_torch = torch.get_num_threads() if torch is not None else None
    os.environ.update(thread_env(threads))
    limiter = _limit_pools(threads)
    limit_torch(threads)
    try:
        yield
    finally:
        for var, value in saved_env.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        limiter.restore_original_limits()
        if saved_torch is not None and torch is not None:
            torch.set_num_threads(saved_torch)


def _limit_pools(threads: int) -> Any:
    """Resize the pools of the BLAS and OpenMP libraries loaded in this process; returns what
    restores them."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)
