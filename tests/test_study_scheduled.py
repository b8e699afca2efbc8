"""Studies under a scheduler: every rung a recorded trial, continuation, resume, strategies."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from _scheduler_helpers import FidelityEstimator
from archspace.errors import ArchspaceError
from archspace.strategies import STRATEGIES, strategy_class
from archspace.study import Factories, Study, StudyStorage
from archspace.study.process_executor import ProcessExecutor
from archspace.study.scheduled import ScheduledStudy, pass_trials
from archspace.study.schedulers import make_scheduler
from test_study_support import ToySpace, _strategy, config


def factories(log: Path | None = None, **options: Any) -> Factories:
    return Factories(space=lambda name, **p: ToySpace(**p),
                     estimator=lambda name, **o: FidelityEstimator(
                         log=str(log) if log else None, **{**o, **options}),
                     strategy=_strategy)


def rows(path: Path) -> list[tuple[Any, ...]]:
    with StudyStorage.open(path) as s:
        return [(t.number, t.arch, t.status, dict(t.schedule or {}), t.score, t.metrics,
                 t.tell_order) for t in s.trials()]


def run(path: Path, kind: str, budget: int, strategy: str = "greedy", log: Path | None = None,
        **options: Any) -> Study:
    study = ScheduledStudy.create(path, config(budget, strategy), make_scheduler(kind, 1, 9, 3),
                                  factories(log, **options))
    study.run()
    study.close()
    return study


@pytest.mark.parametrize("kind", ["sh", "hyperband", "asha"])
def test_every_rung_is_a_trial_and_promotions_continue_their_parent(tmp_path: Path,
                                                                    kind: str) -> None:
    run(tmp_path / "s.db", kind, 40)
    with StudyStorage.open(tmp_path / "s.db") as s:
        trials = {t.number: t for t in s.trials()}
    assert len(trials) == 40
    for t in trials.values():
        sched = t.schedule or {}
        assert t.metrics is not None and t.metrics["epochs"] == sched["resource"]
        parent = sched["parent"]
        if parent is None:
            assert "ask" in sched and t.metrics["resumed_from"] == 0
            continue
        up = trials[parent]
        assert up.arch == t.arch and up.schedule is not None
        assert (up.schedule["bracket"], up.schedule["rung"] + 1) == (sched["bracket"], sched["rung"])
        assert t.metrics["resumed_from"] == up.schedule["resource"]  # continued, not restarted
    assert any(t.schedule and t.schedule["resource"] == 9 for t in trials.values())


@pytest.mark.parametrize("kind", ["sh", "hyperband", "asha"])
def test_stopped_by_its_budget_then_resumed_equals_uninterrupted(tmp_path: Path, kind: str) -> None:
    run(tmp_path / "straight.db", kind, 45)
    log = tmp_path / "calls.txt"
    run(tmp_path / "split.db", kind, 11, log=log)
    Study.resume(tmp_path / "split.db", factories(log), budget=30).run()
    study = Study.resume(tmp_path / "split.db", factories(log), budget=45)
    assert isinstance(study, ScheduledStudy)
    study.run()
    study.close()
    assert rows(tmp_path / "split.db") == rows(tmp_path / "straight.db")
    # each recorded (arch, resource) was evaluated once over the three runs, none again
    with StudyStorage.open(tmp_path / "split.db") as s:
        recorded = Counter(f"{t.arch}|{(t.schedule or {})['resource']}" for t in s.trials())
    assert Counter(log.read_text().splitlines()) == recorded and recorded.total() == 45


@pytest.mark.parametrize("kind", ["sh", "asha"])
def test_interrupted_mid_rung_then_resumed_equals_uninterrupted(tmp_path: Path, kind: str) -> None:
    run(tmp_path / "straight.db", kind, 30)
    path = tmp_path / "split.db"
    study = ScheduledStudy.create(path, config(30), make_scheduler(kind, 1, 9, 3),
                                  factories(interrupt_at=17))
    assert study.run().interrupted
    study.close()
    with StudyStorage.open(path) as s:
        assert s.n_recorded() == 17 and not s.trials("running")
    resumed = Study.resume(path, factories())
    resumed.run()
    resumed.close()
    assert rows(path) == rows(tmp_path / "straight.db")


def test_the_strategy_is_told_each_arch_once_at_its_bottom_rung(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    study = ScheduledStudy.create(path, config(40), make_scheduler("hyperband", 1, 9, 3),
                                  factories())
    study.run()
    told = study.strategy.told  # type: ignore[attr-defined]
    bottoms = [t for t in study.storage.trials() if (t.schedule or {}).get("parent") is None]
    study.close()
    assert len(told) == len(bottoms) == study._asks
    assert [s for _, s, _ in told] == [t.score for t in sorted(bottoms, key=lambda t: t.tell_order or 0)]


#: The differentiable strategies (darts, gdas) search only cell spaces by training a network;
#: tests/test_differentiable.py checks them.
@pytest.mark.parametrize("strategy", [n for n in STRATEGIES
                                      if not getattr(strategy_class(n), "needs_estimator", False)])
def test_every_catalog_strategy_works_under_a_scheduler(tmp_path: Path, strategy: str) -> None:
    cat = Factories(space=lambda name, **p: ToySpace(**p),
                    estimator=lambda name, **o: FidelityEstimator())
    study = ScheduledStudy.create(tmp_path / "s.db", config(20, strategy),
                                  make_scheduler("sh", 1, 9, 3), cat)
    result = study.run()
    study.close()
    assert result.counts["complete"] == 20 and result.best is not None


def test_asha_on_the_process_executor_records_a_valid_ladder(tmp_path: Path) -> None:
    log = tmp_path / "calls.txt"
    study = ScheduledStudy.create(tmp_path / "s.db", config(24, "sampler"),
                                  make_scheduler("asha", 1, 9, 3), factories(log),
                                  ProcessExecutor(workers=2))
    study.run()
    trials = {t.number: t for t in study.storage.trials()}
    study.close()
    assert len(trials) == 24 and all(t.status == "complete" for t in trials.values())
    for t in trials.values():
        parent = (t.schedule or {})["parent"]
        if parent is not None:  # promoted only once the parent's rung had eta times as many
            up = trials[parent]
            assert up.finished is not None and t.started >= up.finished - 1e-3
            rung = [u for u in trials.values()
                    if (u.schedule or {})["rung"] == (up.schedule or {})["rung"]
                    and (u.finished or 0) <= t.started + 1e-3]
            assert len(rung) >= 3  # the parent was in the top floor(|rung| / 3) >= 1
            assert t.metrics is not None and t.metrics["resumed_from"] == (up.schedule or {})["resource"]
    assert Counter(log.read_text().splitlines()) == Counter(
        f"{t.arch}|{(t.schedule or {})['resource']}" for t in trials.values())


def test_checkpoints_of_dead_ends_are_pruned(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    run(path, "sh", 13)  # one full bracket: 9 + 3 + 1
    assert sorted(p.name for p in (tmp_path / "s.db.ckpt").iterdir()) == []  # keep=none


def test_an_estimator_without_a_resource_is_refused_before_the_file(tmp_path: Path) -> None:
    from test_study_support import ToyEstimator

    plain = Factories(space=lambda name, **p: ToySpace(**p),
                      estimator=lambda name, **o: ToyEstimator(), strategy=_strategy)
    with pytest.raises(ArchspaceError, match="estimator toy has none"):
        ScheduledStudy.create(tmp_path / "s.db", config(5), make_scheduler("sh", 1, 9, 3), plain)
    assert not (tmp_path / "s.db").exists()


def test_one_pass_sizes() -> None:
    assert pass_trials(make_scheduler("hyperband", 1, 27, 3)) == 40 + 17 + 8 + 4 == 69
    assert pass_trials(make_scheduler("sh", 1, 81, 3)) == 81 + 27 + 9 + 3 + 1


def test_a_file_from_before_the_schedule_column_opens_and_gains_it(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    run(path, "sh", 3)
    with sqlite3.connect(path) as conn:  # a file written before the column existed
        conn.execute("ALTER TABLE trials DROP COLUMN schedule")
    with StudyStorage.open(path) as s:  # a reader reads it as it is
        assert [t.schedule for t in s.trials()] == [None, None, None]
    with StudyStorage.open(path, write=True) as s:  # a writer adds the column
        assert [t.schedule for t in s.trials()] == [None, None, None]
    with sqlite3.connect(path) as conn:
        assert "schedule" in {r[1] for r in conn.execute("PRAGMA table_info(trials)")}


def test_a_foreign_schedule_value_reads_as_none(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "s.db"
    run(path, "sh", 2)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE trials SET schedule='not json' WHERE number=0")
        conn.execute("UPDATE trials SET schedule='[1, 2]' WHERE number=1")
    with StudyStorage.open(path) as s:
        assert [t.schedule for t in s.trials()] == [None, None]


def test_a_diverging_strategy_keeps_every_rung_and_reruns_none(tmp_path: Path) -> None:
    path, log = tmp_path / "s.db", tmp_path / "calls.txt"
    run(path, "sh", 10, "unseeded", log=log)
    before = rows(path)
    with pytest.warns(RuntimeWarning, match="proposed a different arch"):
        study = Study.resume(path, factories(log), budget=20)
    study.run()
    study.close()
    after = rows(path)
    assert after[:10] == before and len(after) == 20
    with StudyStorage.open(path) as s:
        recorded = Counter(f"{t.arch}|{(t.schedule or {})['resource']}" for t in s.trials())
        numbers = [t.number for t in s.trials()]
    assert Counter(log.read_text().splitlines()) == recorded and numbers == list(range(20))


def test_an_exhausted_strategy_ends_the_study_after_the_last_promotions(tmp_path: Path) -> None:
    archs = [f"w0={a},w1={b},w2=1,w3=2" for a in (1, 2, 3) for b in (1, 2)]  # 6 archs
    cfg = config(100, "fixed", strategy_options={"archs": archs})
    study = ScheduledStudy.create(tmp_path / "s.db", cfg, make_scheduler("sh", 1, 9, 3),
                                  factories())
    result = study.run()
    trials = study.storage.trials()
    study.close()
    assert result.exhausted and len(trials) == 6 + 2 + 1  # rung 0 closed at 6: top 2, then 1
    assert [(t.schedule or {})["resource"] for t in trials] == [1] * 6 + [3, 3, 9]
