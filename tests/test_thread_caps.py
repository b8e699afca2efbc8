"""Thread caps: a trial's numeric libraries (BLAS under numpy, OpenMP, torch) run on the threads
it was given, one unless told otherwise, on every executor; the process that ran a study gets
its own settings back."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from threadpoolctl import threadpool_info

from _executor_helpers import PoolThreadsEstimator
from archspace import ArchspaceError
from archspace.study import Factories, StudyStorage, run_study
from archspace.study.executor import Executor, InlineExecutor, make_executor
from archspace.study.threads import THREAD_VARS, capped_threads
from test_study_support import FACTORIES, config

ARCHS = ["w0=1,w1=1,w2=1,w3=1", "w0=2,w1=2,w2=2,w3=2"]


def trial_metrics(tmp_path: Path, executor: Executor, torch: bool = False) -> list[dict[str, Any]]:
    factories = Factories(space=FACTORIES.space,
                          estimator=lambda n, **o: PoolThreadsEstimator(torch=torch),
                          strategy=FACTORIES.strategy)
    path = tmp_path / f"threads-{time.monotonic_ns()}.db"
    run_study(path, config(budget=2, strategy="fixed", strategy_options={"archs": ARCHS}),
              factories, executor=executor)
    with StudyStorage.open(path) as s:
        return [dict(t.metrics or {}) for t in s.trials()]


def process_state() -> tuple[dict[str, int], dict[str, str | None]]:
    """This process's pools (library -> threads) and thread variables."""
    pools = {p["filepath"]: p["num_threads"] for p in threadpool_info()}
    return pools, {var: os.environ.get(var) for var in THREAD_VARS}


def same_pools(before: dict[str, int], after: dict[str, int]) -> bool:
    return all(after[lib] == n for lib, n in before.items())


def test_every_executor_defaults_to_one_thread_unless_told() -> None:
    assert InlineExecutor().threads == 1
    assert make_executor("inline").threads == 1
    assert make_executor("inline", cpus_per_trial=2.5).threads == 2
    assert make_executor("inline", cpus_per_trial=2.5, threads=3).threads == 3
    ex = make_executor("process", workers=1, threads=4)
    assert ex.threads == 4
    ex.shutdown()
    with pytest.raises(ArchspaceError, match="threads must be a whole number >= 1"):
        make_executor("inline", threads=0)


# 3 differs both from a 2-core machine's default and from OMP_NUM_THREADS=1 in the environment
@pytest.mark.parametrize("threads", [1, 3])
def test_an_inline_trial_runs_on_its_threads_and_the_process_gets_its_own_back(
        tmp_path: Path, threads: int) -> None:
    import torch

    pools, env = process_state()
    torch_was = torch.get_num_threads()
    metrics = trial_metrics(tmp_path, InlineExecutor(threads), torch=True)
    assert [(m["fewest"], m["most"], m["omp_env"], m["torch"]) for m in metrics] \
        == [(threads, threads, threads, threads)] * 2
    pools_after, env_after = process_state()
    assert same_pools(pools, pools_after) and env_after == env
    assert torch.get_num_threads() == torch_was


# torch caps what it reads from the environment at the cores: imported by a trial, it is
# checked at the default (1), below any machine's cores
@pytest.mark.parametrize(("threads", "torch"), [(None, True), (3, False)])
def test_a_process_worker_runs_on_its_threads(tmp_path: Path, threads: int | None,
                                              torch: bool) -> None:
    metrics = trial_metrics(tmp_path, make_executor("process", workers=1, threads=threads),
                            torch=torch)
    n = threads or 1
    assert [(m["fewest"], m["most"], m["omp_env"]) for m in metrics] == [(n, n, n)] * 2
    if torch:  # imported inside the worker, after the cap: it starts on the worker's threads
        assert [m["torch"] for m in metrics] == [n, n]


def test_a_capped_block_restores_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    pools, env = process_state()
    with capped_threads(3):
        inside = {p["num_threads"] for p in threadpool_info()}
        assert inside == {3} and os.environ["MKL_NUM_THREADS"] == "3"
    pools_after, env_after = process_state()
    assert same_pools(pools, pools_after) and env_after == env
    with capped_threads(None):
        assert process_state()[1] == env


def test_the_api_runs_its_trials_and_search_on_threads(tmp_path: Path) -> None:
    import archspace
    from test_study_support import ToySpace

    pools, env = process_state()
    study = archspace.search(space=ToySpace(), estimator=PoolThreadsEstimator(), strategy="random",
                             budget=2, study=tmp_path / "api.db", threads=3)
    got = [(m["fewest"], m["most"]) for m in (dict(t.metrics or {}) for t in study.trials)]
    assert got == [(3, 3), (3, 3)]
    pools_after, env_after = process_state()
    assert same_pools(pools, pools_after) and env_after == env
