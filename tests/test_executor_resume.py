"""The driver killed with SIGKILL at several points of a study, on every executor, then
resumed: every completed trial is kept, trials in flight are re-run, and the finished study
equals an uninterrupted one (a strategy whose proposals don't depend on result order)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from archspace import ArchspaceError
from archspace.study import StudyStorage
from test_study_support import child

HERE = Path(__file__).parent
BUDGET, DELAY = 24, 0.05


def _child(path: Path, resume: bool, executor: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(HERE / "test_study_support.py"), str(path),
                             str(BUDGET), str(DELAY), "resume" if resume else "new", executor,
                             "sampler"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _recorded(path: Path) -> int:
    try:
        with StudyStorage.open(path) as s:
            return s.n_recorded()
    except ArchspaceError:
        return -1


def _running(path: Path) -> int:
    try:
        with StudyStorage.open(path) as s:
            return len(s.trials("running"))
    except ArchspaceError:
        return 0


def _kill_after(proc: subprocess.Popen[bytes], path: Path, n_recorded: int) -> tuple[int, int]:
    """SIGKILL ``proc`` once the study holds ``n_recorded`` trials and (past the start) a trial
    is being evaluated: (recorded, in flight)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        n = _recorded(path)
        if n >= n_recorded and (n_recorded == 0 or _running(path)):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return n, _running(path)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        time.sleep(0.005)
    raise AssertionError("child made no progress")


def _comparable(path: Path) -> list[tuple[Any, ...]]:
    with StudyStorage.open(path) as s:
        return [(t.number, t.arch, t.status, t.metrics, t.cost, t.score, t.error)
                for t in s.trials()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, ...]]:
    path = tmp_path_factory.mktemp("reference") / "inline.db"
    child(str(path), BUDGET, 0.0, resume=False, executor="inline", strategy="sampler")
    return _comparable(path)


@pytest.mark.parametrize("executor", ["inline", "process", "ray"])
def test_sigkill_the_driver_then_resume(executor: str, reference: list[tuple[Any, ...]],
                                        tmp_path: Path) -> None:
    if executor == "ray":
        pytest.importorskip("ray")
    assert {r[2] for r in reference} == {"complete", "infeasible"}
    path = tmp_path / "killed.db"
    held = [_kill_after(_child(path, False, executor), path, 0)]  # just after creation
    for at in (5, 14):                                             # and twice mid-study
        held.append(_kill_after(_child(path, True, executor), path, at))
    counts = [n for n, _ in held]
    assert counts[0] < counts[1] < counts[2] < BUDGET
    assert all(running for _, running in held[1:])  # killed with work in flight
    with StudyStorage.open(path) as s:
        assert s.meta("executor")["executor"] == executor  # resume kept the executor
        assert s.load_config().status == "running"
    done = _child(path, True, executor)
    assert done.wait(timeout=120) == 0, done.stderr.read() if done.stderr else b""
    assert _comparable(path) == reference


@pytest.mark.parametrize("executor", ["process", "ray"])
def test_ctrl_c_cancels_in_flight_trials_and_resume_finishes(
        executor: str, reference: list[tuple[Any, ...]], tmp_path: Path) -> None:
    if executor == "ray":
        pytest.importorskip("ray")
    path = tmp_path / "interrupted.db"
    proc = _child(path, False, executor)
    deadline = time.monotonic() + 60
    while not (_recorded(path) >= 6 and _running(path)):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    status = proc.wait(timeout=60)
    # the loop caught Ctrl-C, cancelled and returned
    assert status == 0, proc.stderr.read() if proc.stderr else b""
    with StudyStorage.open(path) as s:
        assert s.load_config().status == "interrupted"
        assert not s.trials("running")  # cancelled trials are not left half-recorded
        kept = [(t.number, t.arch, t.status, t.metrics) for t in s.trials()]
    assert kept == [r[:4] for r in reference if r[0] in {k[0] for k in kept}]
    done = _child(path, True, executor)
    assert done.wait(timeout=120) == 0, done.stderr.read() if done.stderr else b""
    assert _comparable(path) == reference


# -- workers of a killed driver --------------------------------------------------------------------
def _state(pid: int) -> str | None:
    """The process's state letter (None: no such process)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _workers_of(driver: int) -> list[int]:
    """The pool workers (spawned interpreters, not the resource tracker) of ``driver``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == driver and b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
@pytest.mark.parametrize("started_by", ["main thread", "other thread"])
def test_workers_of_a_sigkilled_driver_exit(tmp_path: Path, started_by: str) -> None:
    """Workers sleeping in a 60-second trial are gone within seconds of the driver's SIGKILL
    (on Linux the kernel's parent-death signal for workers the main thread starts, else the
    workers' own watcher)."""
    path = tmp_path / "s.db"
    code = ("import sys, threading\n"
            f"sys.path.insert(0, {str(HERE)!r})\n"
            "from test_study_support import child\n"
            f"args = ({str(path)!r}, 12, 60.0, False, 'process', 'sampler')\n"
            f"if {started_by == 'other thread'}:\n"
            "    t = threading.Thread(target=child, args=args); t.start(); t.join()\n"
            "else:\n"
            "    child(*args)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (_running(path) >= 2 and len(_workers_of(proc.pid)) >= 2):
        assert time.monotonic() < deadline and proc.poll() is None, (
            proc.stderr.read() if proc.stderr else b"")
        time.sleep(0.05)
    workers = _workers_of(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_state(p) not in (None, "Z") for p in workers):
        assert time.monotonic() < deadline, f"workers {workers} outlived their driver"
        time.sleep(0.05)
