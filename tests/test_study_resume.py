"""Resume: replay into a fresh strategy; a study killed with SIGKILL and resumed equals an
uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archspace import ArchspaceError
from archspace.study import Study, StudyStorage, run_study
from test_study_support import FACTORIES, GreedyStrategy, comparable, config

HERE = Path(__file__).parent
BUDGET, DELAY = 30, 0.03
CONSTRAINT = ("macs<=400k",)  # about a fifth of the toy space: a mix of statuses


def _uninterrupted(tmp_path: Path) -> list[tuple[object, ...]]:
    path = tmp_path / "reference.db"
    run_study(path, config(BUDGET, delay=DELAY, constraints=CONSTRAINT), FACTORIES)
    return comparable(str(path))


def _child(path: Path, resume: bool) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(HERE / "test_study_support.py"), str(path),
                             str(BUDGET), str(DELAY), "resume" if resume else "new"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_after(proc: subprocess.Popen[bytes], path: Path, n_recorded: int) -> int:
    """SIGKILL ``proc`` once the study holds ``n_recorded`` trials; returns how many it held."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        n = _recorded(path)
        if n >= n_recorded:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return n
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        time.sleep(0.005)
    raise AssertionError("child made no progress")


def test_sigkill_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    reference = _uninterrupted(tmp_path)
    assert {r[2] for r in reference} == {"complete", "infeasible"}
    path = tmp_path / "killed.db"
    held = [_kill_after(_child(path, resume=False), path, 0)]   # just after creation
    for at in (6, 17):                                          # and twice more, mid-study
        held.append(_kill_after(_child(path, resume=True), path, at))
    assert held[0] < held[1] < held[2] < BUDGET
    with StudyStorage.open(path) as s:
        assert s.load_config().status == "running"  # killed: never marked finished
    done = _child(path, resume=True)
    assert done.wait(timeout=60) == 0, done.stderr.read() if done.stderr else b""
    assert comparable(str(path)) == reference
    with StudyStorage.open(path) as s:
        assert s.load_config().status == "finished"


def test_sigint_stops_cleanly_and_resumes(tmp_path: Path) -> None:
    reference = _uninterrupted(tmp_path)
    path = tmp_path / "s.db"
    proc = _child(path, resume=False)
    deadline = time.monotonic() + 30
    while not _recorded(path) >= 8:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0  # the loop caught Ctrl-C and returned
    with StudyStorage.open(path) as s:
        assert s.load_config().status == "interrupted"
        assert not s.trials("running") and 8 <= s.n_recorded() < BUDGET
    assert _child(path, resume=True).wait(timeout=60) == 0
    assert comparable(str(path)) == reference


def _recorded(path: Path) -> int:
    try:
        with StudyStorage.open(path) as s:
            return s.n_recorded()
    except ArchspaceError:  # not there yet, or the child is still creating it
        return -1


def test_resume_in_process_replays_exactly(tmp_path: Path) -> None:
    reference = _uninterrupted(tmp_path)
    path = tmp_path / "s.db"
    cfg = config(BUDGET, delay=DELAY, constraints=CONSTRAINT,
                 estimator_options={"interrupt_at": 9})
    study = Study.create(path, cfg, FACTORIES)
    assert study.run().interrupted
    study.close()
    with StudyStorage.open(path) as s:
        recorded = s.recorded()
    fac = type(FACTORIES)(space=FACTORIES.space,
                          estimator=lambda n, **o: FACTORIES.estimator(n, delay=DELAY),
                          strategy=FACTORIES.strategy)
    study = Study.resume(path, fac)
    strat: GreedyStrategy = study.strategy  # type: ignore[assignment]
    assert [study.space.format_arch(a) for a, _, _ in strat.told] == [t.arch for t in recorded]
    assert study.diverged_at is None
    study.run()
    study.close()
    assert [r[:7] for r in comparable(str(path))] == [r[:7] for r in reference]


def test_resume_extends_the_budget_and_refuses_shrinking(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    run_study(path, config(10), FACTORIES)
    with pytest.raises(ArchspaceError, match="below the 10 trials"):
        Study.resume(path, FACTORIES, budget=5)
    study = Study.resume(path, FACTORIES, budget=15)
    res = study.run()
    study.close()
    assert res.n_trials == 15
    run_study(tmp_path / "long.db", config(15), FACTORIES)
    assert comparable(str(path)) == comparable(str(tmp_path / "long.db"))


def test_diverging_strategy_keeps_every_recorded_trial(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    cfg = config(12, strategy="unseeded", estimator_options={"interrupt_at": 6})
    study = Study.create(path, cfg, FACTORIES)
    study.run()
    study.close()
    before = comparable(str(path))
    fac = type(FACTORIES)(space=FACTORIES.space, estimator=lambda n, **o: FACTORIES.estimator(n),
                          strategy=FACTORIES.strategy)
    with pytest.warns(RuntimeWarning, match="proposed a different arch"):
        study = Study.resume(path, fac)
    assert study.diverged_at is not None
    strat: GreedyStrategy = study.strategy  # type: ignore[assignment]
    assert len(strat.told) == 6  # every recorded result was told
    study.run()
    study.close()
    after = comparable(str(path))
    assert after[:6] == before and len(after) == 12


class _ThreeInFlight:
    """Builds executors keeping three jobs in flight and finishing them in a fixed scrambled
    order (as a pool might), so asks and tells interleave."""

    @staticmethod
    def make() -> object:
        from archspace.study.executor import InlineExecutor, Outcome, evaluate_job

        class Scrambled(InlineExecutor):
            capacity = 3

            def wait(self) -> list[Outcome]:
                jobs = sorted(self._queue, key=lambda j: (j.number * 7) % 3)
                self._queue.remove(jobs[0])
                return [evaluate_job(self.space, self.estimator, jobs[0])]

        return Scrambled()


def test_resume_with_jobs_in_flight_replays_the_interleaving(tmp_path: Path) -> None:
    """Several trials in flight when the study stops: they are re-run under their own numbers
    and an order-dependent strategy continues exactly as uninterrupted."""
    run_study(tmp_path / "ref.db", config(BUDGET), FACTORIES, _ThreeInFlight.make())  # type: ignore[arg-type]
    reference = comparable(str(tmp_path / "ref.db"))
    with StudyStorage.open(tmp_path / "ref.db") as s:
        assert any(t.asked != t.number + 1 for t in s.recorded())  # really interleaved
    path = tmp_path / "s.db"
    for stop in (5, 13):
        fac = type(FACTORIES)(space=FACTORIES.space, strategy=FACTORIES.strategy,
                              estimator=lambda n, stop=stop, **o: FACTORIES.estimator(
                                  n, interrupt_at=stop))
        study = (Study.create(path, config(BUDGET), fac, _ThreeInFlight.make())  # type: ignore[arg-type]
                 if stop == 5 else Study.resume(path, fac, _ThreeInFlight.make()))  # type: ignore[arg-type]
        assert study.run().interrupted
        assert study.diverged_at is None
        study.close()
    study = Study.resume(path, FACTORIES, _ThreeInFlight.make())  # type: ignore[arg-type]
    assert study._pending  # the trials that were in flight are evaluated first
    study.run()
    study.close()
    assert study.diverged_at is None
    assert comparable(str(path)) == reference
