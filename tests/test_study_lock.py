"""One writer per study: a second ``resume`` / ``search`` / :func:`archspace.resume` is refused
with one line naming the holder, readers go on, and a SIGKILLed holder blocks nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import archspace
from archspace.cli import cli
from archspace.study import Study, StudyInUseError, StudyStorage
from archspace.study.locking import StudyLock, check_not_in_use, lock_path
from test_study_support import FACTORIES

HERE = Path(__file__).parent
NB201 = ["--space", "nb201", "--estimator", "nasbench201", "--strategy", "random"]
HOLD = ("import sys, time\n"
        "from archspace.study import StudyStorage\n"
        "from archspace.study.locking import StudyLock\n"
        "from pathlib import Path\n"
        "p = Path(sys.argv[1])\n"
        "held = StudyStorage.open(p, write=True) if p.exists() else StudyLock.acquire(p)\n"
        "print('ready', flush=True)\n"
        "time.sleep(120)\n")


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _search(path: Path, budget: int) -> None:
    res = _run("search", *NB201, "--budget", str(budget), "--study", str(path), "--no-progress")
    assert res.exit_code == 0, res.output


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[Any]:
    """Start a process that holds a study's writer lock (``holder(path)``); killed at the end."""
    procs: list[subprocess.Popen[str]] = []

    def start(path: Path) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n", proc.stderr
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.communicate()


def _kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()


def _refused(res: Any, path: Path, pid: int) -> None:
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("archspace: error:") and res.stderr.count("\n") == 1, res.stderr
    assert f"study {path} is in use by pid {pid} (python -c" in res.stderr
    assert ", since 20" in res.stderr and f"(kill {pid})" in res.stderr


def test_a_second_writer_is_refused_until_the_holder_is_killed(tmp_path: Path, holder: Any) -> None:
    path = tmp_path / "s.db"
    _search(path, 4)
    proc = holder(path)
    info = json.loads(lock_path(path).read_text())
    assert info["pid"] == proc.pid and info["command"].startswith("python -c")
    _refused(_run("resume", str(path), "--budget", "8"), path, proc.pid)
    _refused(_run("search", *NB201, "--budget", "2", "--study", str(path)), path, proc.pid)
    with pytest.raises(StudyInUseError, match=f"in use by pid {proc.pid}"):
        archspace.resume(path, budget=8)
    with pytest.raises(StudyInUseError, match=f"in use by pid {proc.pid}"):
        StudyStorage.open(path, write=True)
    handle = archspace.load_study(path)  # readers take no lock
    assert handle.n_trials == 4 and handle.status == "finished"
    res = _run("export", str(path), "-o", str(tmp_path / "e"), "-f", "json")
    assert res.exit_code == 0, res.output
    _kill(proc)  # the OS drops a killed holder's lock
    res = _run("resume", str(path), "--budget", "8", "--no-progress")
    assert res.exit_code == 0, res.output
    with StudyStorage.open(path) as s:
        trials = s.trials()
    assert [t.number for t in trials] == list(range(8))
    assert sorted(t.tell_order for t in trials) == list(range(8))  # type: ignore[type-var]
    assert not lock_path(path).exists()  # released cleanly: the lock file is gone


def test_a_new_study_being_created_elsewhere_is_refused(tmp_path: Path, holder: Any) -> None:
    path = tmp_path / "new.db"
    proc = holder(path)  # holds the lock of a study it is about to create
    _refused(_run("search", *NB201, "--budget", "2", "--study", str(path)), path, proc.pid)
    with pytest.raises(StudyInUseError, match=f"in use by pid {proc.pid}"):
        archspace.search(space="nb201", estimator="nasbench201", strategy="random", budget=2,
                         study=path)
    assert not path.exists()


def test_a_killed_search_leaves_no_lock_and_resume_duplicates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    proc = subprocess.Popen([sys.executable, str(HERE / "test_study_support.py"), str(path),
                             "30", "0.05", "create"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if path.exists() and archspace.load_study(path).n_trials >= 3:
            break
        time.sleep(0.05)
    with pytest.raises(StudyInUseError, match=rf"in use by pid {proc.pid} \(python "
                                              r"test_study_support\.py"):
        Study.resume(path, FACTORIES)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    study = Study.resume(path, FACTORIES)
    try:
        study.run()
    finally:
        study.close()
    with StudyStorage.open(path) as s:
        trials = s.trials()
    assert len(trials) == 30 and {t.status for t in trials} <= {"complete", "infeasible"}
    assert sorted(t.tell_order for t in trials) == list(range(30))  # type: ignore[type-var]
    assert sorted(t.number for t in trials) == list(range(30))


def test_one_writer_in_one_process_too(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _search(path, 2)
    with StudyStorage.open(path, write=True) as first:
        with pytest.raises(StudyInUseError, match=rf"in use by this process \(pid {os.getpid()}, "
                                                  r"since .*close the study object"):
            StudyStorage.open(path, write=True)
        with StudyStorage.open(path) as reader:
            assert reader.n_recorded() == 2 and not first.readonly
    with StudyStorage.open(path, write=True) as again:  # released at close
        assert again.n_recorded() == 2


def test_a_stale_lock_file_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _search(path, 2)
    lock_path(path).write_text('{"pid": 999999999, "host": "gone", "command": "x", "since": 0}')
    check_not_in_use(path)  # a file nobody locks is no lock
    with StudyStorage.open(path, write=True):
        info = json.loads(lock_path(path).read_text())
        assert info["pid"] == os.getpid()
    assert not lock_path(path).exists()


def test_a_probe_makes_no_file_and_a_lock_is_released_once(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    check_not_in_use(path)
    assert list(tmp_path.iterdir()) == []
    lock = StudyLock.acquire(path)
    assert lock.held and lock_path(path).exists()
    with pytest.raises(StudyInUseError, match="in use by this process"):
        check_not_in_use(path)
    lock.release()
    lock.release()
    assert not lock.held and list(tmp_path.iterdir()) == []


def test_a_lock_kept_by_a_dead_holders_child_says_so(tmp_path: Path) -> None:
    """A process forked by the holder shares its lock: once the holder is gone, the message says
    that a process it started still holds the study."""
    path = tmp_path / "s.db"
    code = ("import os, sys, time\n"
            "from pathlib import Path\n"
            "from archspace.study.locking import StudyLock\n"
            "lock = StudyLock.acquire(Path(sys.argv[1]))\n"
            "child = os.fork()\n"
            "if child == 0:\n"
            "    null = os.open(os.devnull, os.O_RDWR)\n"
            "    os.dup2(null, 1)\n"
            "    os.dup2(null, 2)\n"
            "    time.sleep(120)\n"
            "    os._exit(0)\n"
            "print(child, flush=True)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                          check=True, timeout=60)
    child = int(proc.stdout)
    try:
        with pytest.raises(StudyInUseError, match=r"pid \d+ has exited but a process it started "
                                                  "still holds the lock: stop that process"):
            check_not_in_use(path)
    finally:
        os.kill(child, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the child is not ours to reap: wait for the lock
        try:
            check_not_in_use(path)
            break
        except StudyInUseError:
            time.sleep(0.05)
    StudyLock.acquire(path).release()
