"""Estimators for the executor tests. They live in a module of their own (not a test module)
so worker processes, which get the driver's import path, can unpickle them by name."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from archspace import Arch, Space
from test_study_support import ToyEstimator


class KillerEstimator(ToyEstimator):
    """The toy estimator (options ``toy``), except that evaluating ``kill`` SIGKILLs the worker
    process: every time, or only the first time if ``marker`` (a file path) is given."""

    def __init__(self, kill: str = "", marker: str | None = None, **toy: Any) -> None:
        super().__init__(**toy)
        self.kill, self.marker = kill, marker

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        first = self.marker is None or not os.path.exists(self.marker)
        if space.format_arch(arch) == self.kill and first:
            if self.marker is not None:
                Path(self.marker).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().evaluate(space, arch, seed)


def _write_pid(path: str) -> None:
    """This process's id into ``path`` in one step (a reader never sees the file empty)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    Path(tmp).write_text(str(os.getpid()))
    os.replace(tmp, path)


class SlowEstimator(ToyEstimator):
    """Writes its process id to ``pid_file``, sleeps ``seconds``, then writes ``done_file``."""

    def __init__(self, pid_file: str, done_file: str, seconds: float = 60.0) -> None:
        super().__init__()
        self.pid_file, self.done_file, self.seconds = pid_file, done_file, seconds

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        _write_pid(self.pid_file)
        time.sleep(self.seconds)
        Path(self.done_file).touch()
        return super().evaluate(space, arch, seed)


class HangEstimator(ToyEstimator):
    """The toy estimator, except that evaluating ``hang`` writes the process id to
    ``pid_file`` and sleeps for ten minutes."""

    def __init__(self, hang: str = "", pid_file: str = "", **toy: Any) -> None:
        super().__init__(**toy)
        self.hang, self.pid_file = hang, pid_file

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        if space.format_arch(arch) == self.hang:
            _write_pid(self.pid_file)
            time.sleep(600)
        return super().evaluate(space, arch, seed)


class UnloadableEstimator(ToyEstimator):
    """Fine where it is built; a worker loading it exits (``how="exit"``) or fails to import
    something (``how="raise"``)."""

    def __init__(self, how: str = "exit") -> None:
        super().__init__()
        self.how = how

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state["how"] == "exit":
            os._exit(3)
        raise ImportError("No module named 'gone'")


class ThreadsEstimator(ToyEstimator):
    """Reports the torch threads the evaluating process uses (importing torch on first call)."""

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        import torch

        return {**super().evaluate(space, arch, seed), "threads": float(torch.get_num_threads())}


class PoolThreadsEstimator(ToyEstimator):
    """Reports what threadpoolctl says of the BLAS/OpenMP pools loaded in the evaluating process
    (the fewest and the most threads of any), its OMP_NUM_THREADS, and with ``torch`` (imported
    by the first trial) torch's threads."""

    def __init__(self, torch: bool = False) -> None:
        super().__init__()
        self.torch = torch

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        import numpy as np
        from threadpoolctl import threadpool_info

        out = super().evaluate(space, arch, seed)
        if self.torch:
            import torch

            out["torch"] = float(torch.get_num_threads())
        np.ones((64, 64)) @ np.ones((64, 64))  # the BLAS in use, loaded and started
        counts = [pool["num_threads"] for pool in threadpool_info()]
        return {**out, "fewest": float(min(counts)), "most": float(max(counts)),
                "omp_env": float(os.environ.get("OMP_NUM_THREADS", "0"))}


class SharedInputEstimator(ToyEstimator):
    """Needs a shared input only the driver has (its process id): a worker that didn't get it
    through :meth:`use_shared_inputs` fails the trial."""

    def __init__(self, **toy: Any) -> None:
        super().__init__(**toy)
        self.driver: int | None = None
        self.received: int | None = None

    def shared_inputs(self) -> dict[str, Any]:
        return {"driver": os.getpid()}

    def use_shared_inputs(self, inputs: dict[str, Any]) -> None:
        self.received = inputs["driver"]

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        if self.received is None:
            raise RuntimeError("no shared inputs")
        return {**super().evaluate(space, arch, seed), "driver": float(self.received),
                "worker": float(os.getpid())}
