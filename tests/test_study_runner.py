"""The search loop on toy pieces: budget, infeasible trials, failures, objectives, Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspace import ArchspaceError
from archspace.study import (
    Factories,
    InlineExecutor,
    Job,
    Outcome,
    StorageError,
    Study,
    StudyStorage,
    run_study,
)
from test_study_support import FACTORIES, FixedStrategy, ToyEstimator, config

SMALL = "w0=1,w1=1,w2=1,w3=1"
BIG = "w0=4,w1=4,w2=4,w3=4"
MID = "w0=2,w1=2,w2=2,w3=2"


def _fixed(tmp_path: Path, archs: list[str], **kw: object) -> Study:
    cfg = config(budget=len(archs), strategy="fixed", strategy_options={"archs": archs}, **kw)
    return Study.create(tmp_path / "s.db", cfg, FACTORIES)


def test_runs_to_budget_and_records_every_trial(tmp_path: Path) -> None:
    res = run_study(tmp_path / "s.db", config(budget=12), FACTORIES)
    assert res.n_trials == 12 and res.counts["complete"] == 12
    with StudyStorage.open(tmp_path / "s.db") as s:
        trials = s.trials()
        assert [t.number for t in trials] == list(range(12))
        assert [t.tell_order for t in trials] == list(range(12))
        assert s.load_config().status == "finished"
        assert all(t.cost and t.cost["macs"] > 0 and t.duration is not None for t in trials)
        best = s.best_trial()
    assert best is not None and res.best == best
    assert best.score == max(t.score or 0 for t in trials)


def test_the_strategy_gets_the_constraint_screen(tmp_path: Path) -> None:
    study = _fixed(tmp_path, [SMALL, BIG, MID], constraints=("macs<=500k",))
    parse = study.space.parse_arch
    assert study.strategy.feasible is not None
    assert study.strategy.feasible(parse(SMALL)) and not study.strategy.feasible(parse(BIG))
    assert study.feasible(parse(BIG)) is False and parse(BIG) in study._feasible_cache
    (tmp_path / "plain").mkdir()
    assert _fixed(tmp_path / "plain", [SMALL]).strategy.feasible is None  # no constraints


def test_infeasible_archs_are_never_evaluated(tmp_path: Path) -> None:
    study = _fixed(tmp_path, [SMALL, BIG, MID], constraints=("macs<=500k",))
    est: ToyEstimator = study.estimator  # type: ignore[assignment]
    strat: FixedStrategy = study.strategy  # type: ignore[assignment]
    res = study.run()
    assert est.calls == [SMALL, MID]
    assert res.counts == {"complete": 2, "failed": 0, "infeasible": 1}
    big = study.storage.trials()[1]
    assert big.status == "infeasible" and big.metrics is None and big.score is None
    assert big.error == "violates macs<=500k"
    assert big.cost is not None and big.cost["macs"] > 500_000
    assert [s for _, s, _ in strat.told][1] is None
    assert [a for a, _, _ in strat.told] == [study.space.parse_arch(a) for a in (SMALL, BIG, MID)]


def test_failures_are_recorded_and_the_study_goes_on(tmp_path: Path) -> None:
    archs = [SMALL, MID, BIG, "w0=3,w1=1,w2=1,w3=1", "w0=1,w1=3,w2=1,w3=1"]
    study = _fixed(tmp_path, archs, estimator_options={"fail": [MID], "nan": [BIG],
                                                       "oom": [archs[3]]})
    strat: FixedStrategy = study.strategy  # type: ignore[assignment]
    res = study.run()
    trials = study.storage.trials()
    assert [t.status for t in trials] == ["complete", "failed", "failed", "failed", "complete"]
    assert trials[1].error == "ValueError: boom"
    assert trials[2].error is not None and trials[2].error.startswith("non-finite objective 'acc'")
    assert trials[2].metrics == {"acc": None, "other": 4.0}
    assert trials[3].error is not None and trials[3].error.startswith("out of memory: RuntimeError")
    assert [s is None for _, s, _ in strat.told] == [False, True, True, True, False]
    assert res.counts == {"complete": 2, "failed": 3, "infeasible": 0}


def test_missing_metric_and_cost_model_failures(tmp_path: Path) -> None:
    class NoMetric(ToyEstimator):
        metric = "missing"

    class Unbuildable(FACTORIES.space("toy").__class__):  # type: ignore[misc]
        def profile(self, arch, resolution=None, detail=False, act_bytes=1):  # type: ignore[no-untyped-def]
            raise MemoryError

    fac = Factories(space=lambda n, **p: Unbuildable(), estimator=lambda n, **o: NoMetric(),
                    strategy=FACTORIES.strategy)
    cfg = config(budget=1, strategy="fixed", strategy_options={"archs": [SMALL]})
    run_study(tmp_path / "a.db", cfg, fac)
    with StudyStorage.open(tmp_path / "a.db") as s:
        assert s.trials()[0].error == "cost model: out of memory: MemoryError: MemoryError"
    fac = Factories(space=FACTORIES.space, estimator=lambda n, **o: NoMetric(),
                    strategy=FACTORIES.strategy)
    run_study(tmp_path / "b.db", cfg, fac)
    with StudyStorage.open(tmp_path / "b.db") as s:
        err = s.trials()[0].error
    assert err is not None and "needs metric 'missing'" in err and "acc, other" in err


def test_multi_objective_values_and_pareto(tmp_path: Path) -> None:
    archs = [SMALL, MID, BIG, "w0=1,w1=1,w2=1,w3=2"]
    study = _fixed(tmp_path, archs, objectives=("accuracy", "macs"))
    strat: FixedStrategy = study.strategy  # type: ignore[assignment]
    res = study.run()
    trials = study.storage.trials()
    for t, (_, score, objs) in zip(trials, strat.told, strict=True):
        assert t.cost and t.metrics and objs == (t.metrics["acc"], -t.cost["macs"])
        assert score == t.score == t.metrics["acc"]
    assert [t.number for t in res.pareto] == [0, 1, 2, 3]  # all trade accuracy for MACs
    assert res.best is not None and res.best.number == 2


def test_reward_scores(tmp_path: Path) -> None:
    study = _fixed(tmp_path, [SMALL, BIG], reward="macs:400k:-0.07")
    study.run()
    for t in study.storage.trials():
        assert t.metrics and t.cost and t.score is not None
        assert t.score == pytest.approx(t.metrics["acc"] * (t.cost["macs"] / 400e3) ** -0.07)


def test_keyboard_interrupt_leaves_a_consistent_file(tmp_path: Path) -> None:
    study = Study.create(tmp_path / "s.db", config(budget=10, estimator_options={"interrupt_at": 4}),
                         FACTORIES)
    res = study.run()
    study.close()
    assert res.interrupted and res.n_trials == 4
    with StudyStorage.open(tmp_path / "s.db") as s:
        assert [t.status for t in s.trials()] == ["complete"] * 4  # no running leftovers
        assert s.load_config().status == "interrupted"


def test_strategy_running_out_stops_early(tmp_path: Path) -> None:
    cfg = config(budget=5, strategy="fixed", strategy_options={"archs": [SMALL, MID]})
    res = run_study(tmp_path / "s.db", cfg, FACTORIES)
    assert res.exhausted and res.n_trials == 2


def test_bad_configuration_writes_no_file(tmp_path: Path) -> None:
    for kw, needle in (({"constraints": ("macs<=5XB",)}, "unknown unit"),
                       ({"objectives": ("acc:up",)}, "malformed objective"),
                       ({"budget": 0}, "budget must be")):
        with pytest.raises(ArchspaceError, match=needle):
            Study.create(tmp_path / "s.db", config(**kw), FACTORIES)  # type: ignore[arg-type]
        assert not (tmp_path / "s.db").exists()
    run_study(tmp_path / "s.db", config(budget=2), FACTORIES)
    with pytest.raises(StorageError, match="already holds a study"):
        Study.create(tmp_path / "s.db", config(budget=2), FACTORIES)


class TwoAtATime(InlineExecutor):
    """Keeps two jobs in flight and finishes them newest first (as a pool might)."""

    capacity = 2

    def wait(self) -> list[Outcome]:
        from archspace.study.executor import evaluate_job

        job: Job = self._queue.pop()
        return [evaluate_job(self.space, self.estimator, job)]


def test_executor_seam_with_several_in_flight(tmp_path: Path) -> None:
    archs = [SMALL, MID, BIG, "w0=1,w1=1,w2=1,w3=2", "w0=1,w1=1,w2=2,w3=1"]
    study = _fixed(tmp_path, archs, constraints=("macs<=1.5M",))
    study.executor = TwoAtATime()
    study.executor.bind(study.space, study.estimator)
    res = study.run()
    trials = study.storage.trials()
    assert res.n_trials == 5 and [t.status for t in trials].count("infeasible") == 1
    assert [t.number for t in study.storage.recorded()] != [0, 1, 2, 3, 4]  # told out of order
    assert sorted(t.tell_order or 0 for t in trials) == list(range(5))


def test_describe_error_names_out_of_memory() -> None:
    from archspace.study.executor import describe_error

    cpu = RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 GB")
    assert describe_error(cpu).startswith("out of memory: RuntimeError")
    assert describe_error(MemoryError()) == "out of memory: MemoryError: MemoryError"
    assert describe_error(RuntimeError("shape\nmismatch")) == "RuntimeError: shape mismatch"
