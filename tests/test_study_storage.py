"""The study file: round trips, WAL, frozen records, read API, refusal to overwrite."""

from __future__ import annotations

import dataclasses
import math
import sqlite3
from pathlib import Path

import pytest

from archspace.study import StorageError, StudyStorage, TrialRecord
from test_study_support import config


def _trial(number: int, status: str = "complete", score: float | None = 1.0,
           objectives: tuple[float, ...] | None = (1.0,)) -> TrialRecord:
    return TrialRecord(number, f"w0={number}", {"decisions": {"w0": number}}, status,
                       {"acc": score or 0.0, "x": math.nan} if status == "complete" else None,
                       {"params": 10.0, "macs": 20.0, "peak_sram_bytes": 5.0, "flash_bytes": 7.0},
                       score if status == "complete" else None,
                       objectives if status == "complete" else None,
                       None if status == "complete" else "why", 0.5, 100.0 + number, None, None)


def test_config_round_trip_and_wal(tmp_path: Path) -> None:
    cfg = config(budget=7, seed=3, constraints=("macs<=60M", "flash<=1MB"),
                 objectives=("accuracy", "macs"), reward=None,
                 strategy_options={"population": "8"})
    cfg = dataclasses.replace(cfg, space_params={"depth": 3, "ks": (3, 5)},
                              estimator_options={"delay": 0.5})
    with StudyStorage.create(tmp_path / "s.db", cfg) as s:
        back = s.load_config()
    assert back.space_params == {"depth": 3, "ks": [3, 5]}  # JSON: the study rebuilds tuples
    assert (back.strategy_options, back.estimator_options) == ({"population": "8"}, {"delay": 0.5})
    assert (back.seed, back.budget, back.constraints, back.objectives) == (
        3, 7, ("macs<=60M", "flash<=1MB"), ("accuracy", "macs"))
    assert back.status == "created" and back.created > 0
    mode = sqlite3.connect(tmp_path / "s.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_trials_round_trip_and_order(tmp_path: Path) -> None:
    with StudyStorage.create(tmp_path / "s.db", config()) as s:
        s.start_trial(0, "w0=0", {"decisions": {"w0": 0}})
        s.start_trial(1, "w0=1", {"decisions": {"w0": 1}})
        assert [t.status for t in s.trials()] == ["running", "running"]
        assert s.n_recorded() == 0
        second = s.finish_trial(_trial(1, "failed"))   # finishes first: tell order 0
        first = s.finish_trial(_trial(0, score=3.0, objectives=(3.0, -20.0)))
        s.finish_trial(_trial(2, "infeasible"))          # never ran: inserted directly
    with StudyStorage.open(tmp_path / "s.db") as s:
        trials = s.trials()
        assert [t.number for t in trials] == [0, 1, 2]
        assert [t.number for t in s.recorded()] == [1, 0, 2]
        assert (second.tell_order, first.tell_order) == (1 - 1, 1)
        t0 = trials[0]
        assert dataclasses.replace(t0, metrics=None) == dataclasses.replace(first, metrics=None)
        assert t0.objectives == (3.0, -20.0) and t0.cost and t0.cost["macs"] == 20.0
        assert t0.metrics == {"acc": 3.0, "x": None}  # non-finite values are stored as null
        assert trials[1].error == "why" and trials[1].score is None
        assert [t.number for t in s.trials("failed")] == [1]
        with pytest.raises(dataclasses.FrozenInstanceError):
            t0.score = 5.0  # type: ignore[misc]


def test_recorded_count_is_kept_and_follows_other_writers(tmp_path: Path) -> None:
    with StudyStorage.create(tmp_path / "s.db", config()) as s:
        s.start_trial(0, "w0=0", {})
        assert s.n_recorded() == 0
        assert s.finish_trial(_trial(0)).tell_order == 0 and s.n_recorded() == 1
        again = s.finish_trial(_trial(0, score=2.0))  # re-finishing a recorded trial
        assert again.tell_order == 1 and s.n_recorded() == 1
        with sqlite3.connect(tmp_path / "s.db") as other:  # another connection writes
            other.execute("INSERT INTO trials (study_id, number, arch, arch_json, status, started) "
                          "VALUES (1, 1, 'w0=1', '{}', 'failed', 0)")
        assert s.n_recorded() == 2 and s.finish_trial(_trial(2)).tell_order == 2
        s.start_trial(3, "w0=3", {})
        assert s.drop_running() == 1 and s.n_recorded() == 3
    with StudyStorage.open(tmp_path / "s.db") as s:
        assert s.n_recorded() == 3 == len(s.recorded())


def test_best_pareto_and_drop_running(tmp_path: Path) -> None:
    with StudyStorage.create(tmp_path / "s.db", config()) as s:
        assert s.best_trial() is None and s.pareto_trials() == []
        for i, obj in enumerate([(90.0, -5.0), (92.0, -9.0), (89.0, -6.0), (92.0, -9.0)]):
            s.finish_trial(_trial(i, score=obj[0], objectives=obj))
        s.start_trial(4, "w0=4", {})
        assert s.drop_running() == 1
        best = s.best_trial()
        assert best is not None and best.number == 1  # earliest of the tied best
        assert [t.number for t in s.pareto_trials()] == [0, 1, 3]
        s.set_budget(50)
        s.set_status("finished")
        assert (s.load_config().budget, s.load_config().status) == (50, "finished")


def test_refuses_to_overwrite_and_rejects_non_studies(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with StudyStorage.create(path, config()) as s:
        s.finish_trial(_trial(0))
    with pytest.raises(StorageError, match=r"already holds a study.*archspace resume"):
        StudyStorage.create(path, config())
    with StudyStorage.open(path) as s:
        assert len(s.trials()) == 1  # untouched
    junk = tmp_path / "junk.db"
    junk.write_text("not a database at all, just text" * 100)
    with pytest.raises(StorageError, match="not an archspace study"):
        StudyStorage.open(junk)
    with pytest.raises(StorageError, match="is not an archspace study"):
        StudyStorage.create(junk, config())
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)")
    with pytest.raises(StorageError, match="not an archspace study"):
        StudyStorage.open(other)
    with pytest.raises(StorageError, match="does not exist"):
        StudyStorage.open(tmp_path / "missing.db")
    with pytest.raises(StorageError, match="directory"):
        StudyStorage.create(tmp_path / "nodir" / "s.db", config())


def test_a_reader_sees_trials_while_the_writer_holds_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    writer = StudyStorage.create(path, config())
    reader = StudyStorage.open(path)
    writer.finish_trial(_trial(0))
    assert len(reader.trials()) == 1
    writer.finish_trial(_trial(1))
    assert reader.n_recorded() == 2
    reader.close()
    writer.close()
