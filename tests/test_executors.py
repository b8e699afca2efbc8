"""The process-pool and Ray executors: same trials as inline, dead workers, cancelling, settings.

The Ray tests share one Ray session per module: joined at ``ARCHSPACE_RAY_ADDRESS`` when that
is set (CI starts a local head), else started in this process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from _executor_helpers import (
    HangEstimator,
    KillerEstimator,
    PoolThreadsEstimator,
    SlowEstimator,
    ThreadsEstimator,
    UnloadableEstimator,
)
from archspace import ArchspaceError
from archspace.study import Factories, Job, StudyConfig, StudyStorage, run_study
from archspace.study.executor import EXECUTORS, Executor, InlineExecutor, make_executor
from test_study_support import FACTORIES, ToySpace, config

ARCHS = ["w0=1,w1=1,w2=1,w3=1", "w0=2,w1=2,w2=2,w3=2", "w0=3,w1=1,w2=1,w3=1",
         "w0=1,w1=4,w2=1,w3=1", "w0=4,w1=1,w2=3,w3=1"]
KILLED, BROKEN = ARCHS[1], ARCHS[3]


def nb201_config(budget: int = 10) -> StudyConfig:
    return StudyConfig(space="nb201", space_params={}, estimator="nasbench201",
                       estimator_options={}, strategy="random", strategy_options={}, seed=3,
                       budget=budget)


def records(path: Path) -> list[tuple[Any, ...]]:
    with StudyStorage.open(path) as s:
        return sorted((t.number, t.arch, t.status, t.metrics, t.score, t.error)
                      for t in s.trials())


def killer_study(tmp_path: Path, executor: Executor, marker: str | None) -> list[tuple[Any, ...]]:
    """The ARCHS on the toy space, with KILLED's worker SIGKILLed (always, or once if
    ``marker``) and BROKEN raising in the estimator."""
    factories = Factories(space=FACTORIES.space, estimator=lambda n, **o: KillerEstimator(**o),
                          strategy=FACTORIES.strategy)
    cfg = config(budget=len(ARCHS), strategy="fixed", strategy_options={"archs": ARCHS},
                 estimator_options={"kill": KILLED, "marker": marker, "fail": [BROKEN]})
    path = tmp_path / f"killer-{time.monotonic_ns()}.db"
    run_study(path, cfg, factories, executor=executor)
    return records(path)


@pytest.fixture(scope="module")
def inline_nb201(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, ...]]:
    path = tmp_path_factory.mktemp("inline") / "s.db"
    run_study(path, nb201_config(), executor=make_executor("inline"))
    return records(path)


@pytest.fixture(scope="module")
def inline_killer(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, ...]]:
    """What the killer study records where no worker dies: the plain toy estimator's results."""
    factories = Factories(space=FACTORIES.space, estimator=FACTORIES.estimator,
                          strategy=FACTORIES.strategy)
    cfg = config(budget=len(ARCHS), strategy="fixed", strategy_options={"archs": ARCHS},
                 estimator_options={"fail": [BROKEN]})
    path = tmp_path_factory.mktemp("inline") / "k.db"
    run_study(path, cfg, factories)
    return records(path)


def expect_killed(inline: list[tuple[Any, ...]], reason: str) -> list[tuple[Any, ...]]:
    i = ARCHS.index(KILLED)
    number, arch = inline[i][:2]
    return [*inline[:i], (number, arch, "failed", None, None, reason), *inline[i + 1:]]


def wait_for(check: Any, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def pid_running(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return pid_alive(pid) if not Path("/proc").is_dir() else False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- make_executor ---------------------------------------------------------------------------------
def test_make_executor_kinds_and_bad_settings() -> None:
    assert EXECUTORS == ("inline", "process", "ray")
    assert isinstance(make_executor("inline"), InlineExecutor)
    ex = make_executor("process", workers=3, address="ignored:1", gpus_per_trial=1)
    assert ex.capacity == 3
    assert make_executor("process").capacity == os.cpu_count()
    bad: list[tuple[dict[str, Any], str]] = [
        ({"kind": "threads"}, "unknown executor 'threads'; allowed: inline, process, ray"),
        ({"workers": 0}, "workers must be a whole number >= 1"),
        ({"workers": 1.5}, "workers must be a whole number >= 1"),
        ({"cpus_per_trial": 0}, "cpus_per_trial must be a number > 0"),
        ({"gpus_per_trial": -1}, "gpus_per_trial must be a number >= 0"),
        ({"max_retries": -1}, "max_retries must be a whole number >= 0"),
        ({"max_retries": True}, "max_retries must be a whole number >= 0"),
        ({"address": " "}, "address must be 'auto' or HOST:PORT"),
    ]
    for kw, message in bad:
        kind = kw.pop("kind", "process")
        with pytest.raises(ArchspaceError, match="^" + message.replace("(", r"\(")) as err:
            make_executor(kind, **kw)
        assert "\n" not in str(err.value)


def test_an_unpicklable_estimator_is_refused_in_one_line() -> None:
    est = FACTORIES.estimator("toy")
    est.hook = lambda: None  # type: ignore[attr-defined]
    with pytest.raises(ArchspaceError, match=r"can't be sent to worker processes.*allowed"):
        make_executor("process", workers=1).bind(ToySpace(), est)


def test_ray_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ArchspaceError, match=r'^the ray executor needs Ray.*pip install "archspace\[ray\]"'):
        make_executor("ray")


class FakeRay:
    """Just enough of ``ray`` to see when the executor starts and stops it."""

    def __init__(self, initialized: bool, cpus: float = 4) -> None:
        self.initialized, self.cpus = initialized, cpus
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.exceptions = SimpleNamespace(RayError=RuntimeError)

    def is_initialized(self) -> bool:
        return self.initialized

    def init(self, **kw: Any) -> None:
        self.calls.append(("init", kw))
        self.initialized = True

    def shutdown(self) -> None:
        self.calls.append(("shutdown", {}))
        self.initialized = False

    def cluster_resources(self) -> dict[str, float]:
        return {"CPU": self.cpus}

    def remote(self, f: Any) -> Any:
        return SimpleNamespace(options=lambda **kw: self.calls.append(("options", kw)))


@pytest.mark.parametrize(("initialized", "address", "workers", "expected"), [
    (False, None, None, [("init", {"num_cpus": os.cpu_count(), "include_dashboard": False})]),
    (False, None, 3, [("init", {"num_cpus": 6, "include_dashboard": False})]),
    (False, "auto", None, [("init", {"address": "auto"})]),
    (True, "10.0.0.1:6379", None, []),
])
def test_ray_is_started_and_stopped_only_by_the_executor_that_started_it(
        monkeypatch: pytest.MonkeyPatch, initialized: bool, address: str | None,
        workers: int | None, expected: list[Any]) -> None:
    fake = FakeRay(initialized, cpus=8)
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    ex = make_executor("ray", workers=workers, address=address, cpus_per_trial=2,
                       gpus_per_trial=0, max_retries=0)
    assert ex.capacity == (workers or 4)
    assert [c for c in fake.calls if c[0] == "init"] == expected
    assert ("options", {"num_cpus": 2, "num_gpus": 0, "max_retries": 0,
                        "retry_exceptions": False}) in fake.calls
    ex.shutdown()
    assert (("shutdown", {}) in fake.calls) == (not initialized)


def test_ray_refuses_a_trial_its_own_cluster_cannot_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRay(False, cpus=2)
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(ArchspaceError, match=r"^Ray cannot fit a trial: 1 GPU per trial, cluster has 0"):
        make_executor("ray", gpus_per_trial=1)
    assert fake.calls[-1] == ("shutdown", {})


class SilentHeadRay(FakeRay):
    """A ``ray`` whose ``init`` waits until ``answer`` is set, like a head that never answers."""

    def __init__(self) -> None:
        super().__init__(False)
        self.answer = threading.Event()

    def init(self, **kw: Any) -> None:
        self.answer.wait(30)
        super().init(**kw)


def test_a_ray_head_that_never_answers_is_given_up_in_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = SilentHeadRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    started = time.monotonic()
    with pytest.raises(ArchspaceError, match=r"^could not join the Ray cluster at auto: no answer "
                                             r"within 0\.3 s; allowed: .*--ray-timeout"):
        make_executor("ray", address="auto", connect_timeout=0.3)
    assert time.monotonic() - started < 10
    fake.answer.set()  # it answers after all: the abandoned join leaves again
    wait_for(lambda: ("shutdown", {}) in fake.calls, "the late join to be shut down")
    assert not fake.initialized


# -- process pool ----------------------------------------------------------------------------------
def test_process_pool_records_what_inline_records(tmp_path: Path,
                                                  inline_nb201: list[tuple[Any, ...]]) -> None:
    run_study(tmp_path / "p.db", nb201_config(), executor=make_executor("process", workers=2))
    got = records(tmp_path / "p.db")
    assert got == inline_nb201
    assert all(t[2] == "complete" for t in got)


@pytest.mark.parametrize(("max_retries", "reason"), [
    (1, "worker died (exit signal SIGKILL) after 2 attempts"),
    (0, "worker died (exit signal SIGKILL) after 1 attempt"),
])
def test_process_worker_killed_on_every_attempt(tmp_path: Path, max_retries: int, reason: str,
                                                inline_killer: list[tuple[Any, ...]]) -> None:
    ex = make_executor("process", workers=2, max_retries=max_retries)
    assert killer_study(tmp_path, ex, None) == expect_killed(inline_killer, reason)


def test_process_worker_killed_once_is_retried(tmp_path: Path,
                                               inline_killer: list[tuple[Any, ...]]) -> None:
    marker = tmp_path / "killed-once"
    ex = make_executor("process", workers=2, max_retries=1)
    assert killer_study(tmp_path, ex, str(marker)) == inline_killer
    assert marker.exists()


@pytest.mark.parametrize(("how", "reason"), [
    ("exit", "worker died (exit code 3) after 2 attempts"),
    ("raise", "worker could not load the space and estimator: ImportError: No module named 'gone'"),
])
def test_process_workers_that_cannot_load_the_estimator(tmp_path: Path, how: str,
                                                        reason: str) -> None:
    factories = Factories(space=FACTORIES.space, estimator=lambda n, **o: UnloadableEstimator(**o),
                          strategy=FACTORIES.strategy)
    cfg = config(budget=3, strategy="fixed", strategy_options={"archs": ARCHS[:3]},
                 estimator_options={"how": how})
    res = run_study(tmp_path / "s.db", cfg, factories, executor=make_executor("process", workers=2))
    assert res.counts == {"complete": 0, "failed": 3, "infeasible": 0}
    assert {t[5] for t in records(tmp_path / "s.db")} == {reason}


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: torch's default is 1 thread")
def test_process_workers_use_cpus_per_trial_torch_threads(tmp_path: Path) -> None:
    factories = Factories(space=FACTORIES.space, estimator=lambda n, **o: ThreadsEstimator(),
                          strategy=FACTORIES.strategy)
    cfg = config(budget=2, strategy="fixed", strategy_options={"archs": ARCHS[:2]})
    ex = make_executor("process", workers=1, cpus_per_trial=1.5)
    run_study(tmp_path / "s.db", cfg, factories, executor=ex)
    assert [t[3]["threads"] for t in records(tmp_path / "s.db")] == [1.0, 1.0]


def test_process_cancel_kills_in_flight_work(tmp_path: Path) -> None:
    pid_file, done_file = tmp_path / "pid", tmp_path / "done"
    ex = make_executor("process", workers=2)
    assert isinstance(ex, Executor)
    space = ToySpace()
    ex.bind(space, SlowEstimator(str(pid_file), str(done_file)))
    for number, text in enumerate(ARCHS[:2]):
        ex.submit(Job(number, space.parse_arch(text), 0))
    wait_for(pid_file.exists, "a worker to start its job")
    pids = ex.pids  # type: ignore[attr-defined]
    assert len(pids) == 2 and int(pid_file.read_text()) in pids
    ex.shutdown(cancel=True)
    assert not any(pid_alive(p) for p in pids)
    assert not done_file.exists() and ex.pids == []  # type: ignore[attr-defined]


# -- Ray -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_session() -> Iterator[Any]:
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'archspace[ray]')")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():  # another module's session: use it, leave it
        yield ray
        return
    address = os.environ.get("ARCHSPACE_RAY_ADDRESS")
    try:
        if address:
            ray.init(address=address)
        else:
            ray.init(num_cpus=2, include_dashboard=False)
    except Exception as e:
        pytest.skip(f"Ray could not start here: {type(e).__name__}: {e}")
    yield ray
    ray.shutdown()


def test_ray_records_what_inline_records(tmp_path: Path, ray_session: Any,
                                         inline_nb201: list[tuple[Any, ...]]) -> None:
    run_study(tmp_path / "r.db", nb201_config(), executor=make_executor("ray", workers=2))
    assert records(tmp_path / "r.db") == inline_nb201
    assert ray_session.is_initialized()  # the executor joined the session, so left it running


def test_ray_worker_death_is_retried_then_recorded(tmp_path: Path, ray_session: Any,
                                                   inline_killer: list[tuple[Any, ...]]) -> None:
    ex = make_executor("ray", workers=2, max_retries=1)
    assert killer_study(tmp_path, ex, None) == expect_killed(
        inline_killer, "worker died (WorkerCrashedError) after 2 attempts")
    marker = tmp_path / "killed-once"
    ex = make_executor("ray", workers=2, max_retries=1)
    assert killer_study(tmp_path, ex, str(marker)) == inline_killer
    assert marker.exists()


def test_ray_tasks_run_on_their_threads(tmp_path: Path, ray_session: Any) -> None:
    factories = Factories(space=FACTORIES.space, estimator=lambda n, **o: PoolThreadsEstimator(),
                          strategy=FACTORIES.strategy)
    cfg = config(budget=2, strategy="fixed", strategy_options={"archs": ARCHS[:2]})
    run_study(tmp_path / "t.db", cfg, factories, executor=make_executor("ray", workers=1, threads=3))
    got = [(t[3]["fewest"], t[3]["most"], t[3]["omp_env"]) for t in records(tmp_path / "t.db")]
    assert got == [(3, 3, 3)] * 2


def test_ray_cancel_kills_in_flight_work(tmp_path: Path, ray_session: Any) -> None:
    pid_file, done_file = tmp_path / "pid", tmp_path / "done"
    ex = make_executor("ray", workers=2)
    space = ToySpace()
    ex.bind(space, SlowEstimator(str(pid_file), str(done_file)))
    ex.submit(Job(0, space.parse_arch(ARCHS[0]), 0))
    wait_for(pid_file.exists, "a Ray worker to start the job")
    pid = int(pid_file.read_text())
    ex.shutdown(cancel=True)
    wait_for(lambda: not pid_alive(pid), "the cancelled worker to exit")
    assert not done_file.exists()


def test_ray_started_here_stops_in_flight_work_on_cancel(tmp_path: Path) -> None:
    """An executor that started Ray in its own process does not cancel task by task (a cancel
    racing a finishing task aborts the Ray driver): ``ray.shutdown()`` stops the local cluster,
    the worker running the trial with it."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'archspace[ray]')")
    pid_file, done_file = tmp_path / "pid", tmp_path / "done"
    code = ("import sys, time\n"
            f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
            "from pathlib import Path\n"
            "from _executor_helpers import SlowEstimator\n"
            "from archspace.study import Job\n"
            "from archspace.study.executor import make_executor\n"
            "from test_study_support import ToySpace\n"
            "ex = make_executor('ray', workers=1)\n"
            "assert ex.runs_here\n"
            "space = ToySpace()\n"
            f"ex.bind(space, SlowEstimator({str(pid_file)!r}, {str(done_file)!r}))\n"
            f"ex.submit(Job(0, space.parse_arch({ARCHS[0]!r}), 0))\n"
            f"while not Path({str(pid_file)!r}).exists():\n"
            "    time.sleep(0.05)\n"
            "ex.shutdown(cancel=True)\n")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr.decode()
    pid = int(pid_file.read_text())
    wait_for(lambda: not pid_running(pid), "the trial's worker to exit", limit=30)
    assert not done_file.exists()


def test_large_inputs_are_shared_not_pickled_with_the_estimator() -> None:
    import pickle

    from archspace.estimators import get_estimator
    from archspace.spaces import get_space

    nb = get_estimator("nasbench201")
    assert nb.evaluate(get_space("nb201"), get_space("nb201").sample(0))  # table loaded
    assert len(pickle.dumps(nb)) < 10_000 < len(pickle.dumps(nb.shared_inputs()))
    train = get_estimator("train", dataset="digits")
    train.use_shared_inputs(train.shared_inputs())
    assert train._native() is train.shared_inputs()["dataset"]
    assert len(pickle.dumps(train)) < 10_000


def test_ray_workers_get_the_shared_inputs_from_the_object_store(tmp_path: Path,
                                                                 ray_session: Any) -> None:
    from _executor_helpers import SharedInputEstimator

    factories = Factories(space=FACTORIES.space, strategy=FACTORIES.strategy,
                          estimator=lambda n, **o: SharedInputEstimator(**o))
    run_study(tmp_path / "s.db", config(budget=4, strategy="sampler"), factories,
              executor=make_executor("ray", workers=2))
    with StudyStorage.open(tmp_path / "s.db") as s:
        trials = s.trials()
    assert [t.status for t in trials] == ["complete"] * 4, [t.error for t in trials]
    assert {t.metrics["driver"] for t in trials if t.metrics} == {float(os.getpid())}
    assert all(t.metrics and t.metrics["worker"] != os.getpid() for t in trials)


# -- trial time limit ------------------------------------------------------------------------------
def hang_study(tmp_path: Path, kind: str) -> tuple[list[tuple[Any, ...]], int]:
    """The first three ARCHS under a 3-second trial limit, the second one hanging: the records
    and the hung process's id. (Not 1 s: on a loaded machine a fresh worker can take that long
    to reach the hang, and is then killed before it writes its id.)"""
    pid_file = tmp_path / f"hung-{kind}"
    factories = Factories(space=FACTORIES.space, estimator=lambda n, **o: HangEstimator(**o),
                          strategy=FACTORIES.strategy)
    cfg = config(budget=3, strategy="fixed", strategy_options={"archs": ARCHS[:3]},
                 estimator_options={"hang": ARCHS[1], "pid_file": str(pid_file)})
    path = tmp_path / f"{kind}.db"
    workers = None if kind == "inline" else 2
    run_study(path, cfg, factories, executor=make_executor(kind, workers=workers, trial_timeout=3))
    return records(path), int(pid_file.read_text())


@pytest.mark.parametrize("kind", ["inline", "process", "ray"])
def test_a_hung_trial_is_stopped_and_recorded_failed(tmp_path: Path, kind: str,
                                                     request: pytest.FixtureRequest) -> None:
    if kind == "ray":
        request.getfixturevalue("ray_session")
    got, hung = hang_study(tmp_path, kind)
    assert [(t[1], t[2], t[5]) for t in got] == [
        (ARCHS[0], "complete", None), (ARCHS[1], "failed", "timed out after 3 s"),
        (ARCHS[2], "complete", None)]
    assert hung != os.getpid()  # it hung in a process that could be killed, and was
    wait_for(lambda: not pid_alive(hung), "the hung worker to be gone", limit=30)


@pytest.mark.parametrize("bad", [0, -1.5, float("inf"), float("nan"), "5", True])
def test_a_trial_timeout_must_be_positive_and_finite(bad: Any) -> None:
    with pytest.raises(ArchspaceError, match=r"^trial_timeout must be a positive finite number"):
        make_executor("inline", trial_timeout=bad)


def test_the_api_keeps_the_trial_timeout_for_resume(tmp_path: Path) -> None:
    import archspace

    path = tmp_path / "s.db"
    archspace.search(space="nb201", estimator="nasbench201", strategy="random", budget=2,
                     study=path, trial_timeout=30)
    archspace.resume(path, budget=3)  # no timeout given: the file's
    with StudyStorage.open(path) as s:
        assert s.meta("executor")["trial_timeout"] == 30
        assert s.n_recorded() == 3
