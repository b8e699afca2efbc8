"""``archspace search / resume / strategies / estimators`` end to end on nb201 + the NAS-Bench-201
table (budgets small: a lookup is a dict access)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archspace.cli import cli
from archspace.study import StudyStorage
from archspace.study.objectives import dominates


@pytest.fixture(autouse=True)
def _strategy_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Until the strategy registry lands, stand in a seeded random search for it."""
    import archspace.strategies as registry

    if hasattr(registry, "get_strategy"):
        return
    from archspace.errors import ArchspaceError
    from archspace.strategies.base import Strategy

    class Random(Strategy):
        name = "random"

        def ask(self) -> Any:
            return self.space.sample(self.rng)

        def tell(self, arch: Any, score: float | None, objectives: Any = ()) -> None:
            pass

    def get_strategy(name: str, space: Any, seed: int = 0, **options: Any) -> Strategy:
        if name != "random":
            raise ArchspaceError(f"unknown strategy {name!r}; available: random")
        if options:
            raise ArchspaceError(f"strategy random has no option {next(iter(options))!r}")
        return Random(space, seed)

    monkeypatch.setattr(registry, "get_strategy", get_strategy, raising=False)
    monkeypatch.setattr(registry, "list_strategies", lambda: [{"name": "random"}], raising=False)


NB201 = ["--space", "nb201", "--estimator", "nasbench201", "--strategy", "random"]
SUMMARY_KEYS = {"study", "space", "estimator", "metric", "strategy", "seed", "budget", "objectives",
                "reward", "constraints", "status", "trials", "counts", "interrupted",
                "diverged_at", "best", "pareto", "oracle", "prior", "searches"}


def _run(*args: str) -> Any:
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return res


def _search(path: Path, budget: int, *extra: str, seed: int = 0) -> dict[str, Any]:
    res = _run("search", *NB201, "--budget", str(budget), "--seed", str(seed), "--study",
               str(path), "--json", "--no-progress", *extra)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)  # type: ignore[no-any-return]


def test_search_json_summary(tmp_path: Path) -> None:
    s = _search(tmp_path / "s.db", 20)
    assert set(s) == SUMMARY_KEYS
    assert (s["trials"], s["counts"], s["status"]) == (20, {"complete": 20, "failed": 0,
                                                              "infeasible": 0}, "finished")
    assert s["metric"] == "cifar10_valid_12ep" and s["objectives"] == ["+cifar10_valid_12ep"]
    assert s["oracle"]["cifar10_test_200ep"] == pytest.approx(94.3733)
    best = s["best"]
    assert set(best) == {"number", "arch", "status", "score", "metrics", "cost", "objectives",
                         "final_metrics"}
    assert set(best["final_metrics"]) == {"cifar10_test_200ep", "cifar100_test_200ep",
                                          "imagenet16_test_200ep"}
    assert best["final_metrics"]["cifar10_test_200ep"] <= 94.3733
    assert set(best["cost"]) == {"params", "macs", "peak_sram_bytes", "flash_bytes"}
    with StudyStorage.open(tmp_path / "s.db") as st:
        trials = st.trials()
        assert len(trials) == 20
        assert best["score"] == max(t.score or 0 for t in trials)
        assert best["arch"] == trials[best["number"]].arch
    assert best["score"] == best["metrics"]["cifar10_valid_12ep"]


def test_search_text_summary_and_progress(tmp_path: Path) -> None:
    res = _run("search", *NB201, "--budget", "5", "--study", str(tmp_path / "s.db"))
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "5/5 trials (5 complete)" in out and "best: trial" in out
    assert "cifar10_test_200ep=" in out and "oracle   cifar10_test_200ep=94.3733" in out
    assert "5/5" in res.stderr  # the progress bar's count


@pytest.mark.parametrize("strategy", ["random", "reinforce"])
def test_constraints_are_screened_before_evaluation(tmp_path: Path, strategy: str) -> None:
    s = _search(tmp_path / "s.db", 30, "-c", "macs<=60M", "--constraint", "params<1.5M",
                "--strategy", strategy)
    assert s["constraints"] == ["macs<=60M", "params<1.5M"]
    # strategies skip what the constraints reject: every trial is trained (a strategy that
    # proposes such archs has them recorded infeasible: test_study_runner)
    assert s["counts"] == {"complete": 30, "failed": 0, "infeasible": 0}
    with StudyStorage.open(tmp_path / "s.db") as st:
        for t in st.trials():
            assert t.cost is not None
            feasible = t.cost["macs"] <= 60e6 and t.cost["params"] < 1.5e6
            assert (t.status == "complete") == feasible
            assert (t.metrics is None) == (t.status == "infeasible")


def test_multi_objective_pareto_and_reward(tmp_path: Path) -> None:
    s = _search(tmp_path / "m.db", 40, "--objective", "accuracy", "--objective", "macs")
    assert s["objectives"] == ["+accuracy", "-macs"]
    front = s["pareto"]
    assert front
    with StudyStorage.open(tmp_path / "m.db") as st:
        points = [t.objectives for t in st.trials("complete")]
    for p in front:
        assert p["objectives"] == [p["metrics"]["cifar10_valid_12ep"], -p["cost"]["macs"]]
        assert not any(q and dominates(q, p["objectives"]) for q in points)
    r = _search(tmp_path / "r.db", 10, "--reward", "macs:100M:-0.07")
    b = r["best"]
    assert b["score"] == pytest.approx(b["metrics"]["cifar10_valid_12ep"]
                                       * (b["cost"]["macs"] / 100e6) ** -0.07)


def test_resume_extends_and_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    _search(tmp_path / "a.db", 10, seed=3)
    res = _run("resume", str(tmp_path / "a.db"), "--budget", "25", "--json", "--no-progress")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["trials"] == 25
    _search(tmp_path / "b.db", 25, seed=3)
    with StudyStorage.open(tmp_path / "a.db") as a, StudyStorage.open(tmp_path / "b.db") as b:
        assert [(t.arch, t.score) for t in a.trials()] == [(t.arch, t.score) for t in b.trials()]
    again = _run("resume", str(tmp_path / "a.db"), "--no-progress")  # nothing left to do
    assert again.exit_code == 0 and "25/25 trials" in again.stdout


def test_refuses_to_overwrite_a_study(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _search(path, 3)
    res = _run("search", *NB201, "--budget", "5", "--study", str(path), "--no-progress")
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and "archspace resume" in res.stderr
    with StudyStorage.open(path) as st:
        assert len(st.trials()) == 3


@pytest.mark.parametrize(("args", "needle"), [
    (["--strategy", "nope"], "unknown strategy 'nope'"),
    (["--estimator", "nope"], "unknown estimator 'nope'"),
    (["-e", "metric=foo"], "must be one of"),
    (["-e", "bogus=1"], "has no option 'bogus'"),
    (["-e", "novalue"], "malformed estimator option"),
    (["-s", "novalue"], "malformed strategy option"),
    (["-c", "macs<=60MB"], "unknown unit 'MB' for macs"),
    (["-c", "latency<5"], "latency needs a device"),
    (["--objective", "acc:up"], "malformed objective"),
    (["--reward", "macs:300M"], "malformed reward"),
    (["--space", "mobilenetv2"], "scores only the nb201 space"),
    (["--param", "nope=1"], "has no parameter 'nope'"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path: Path, args: list[str], needle: str) -> None:
    path = tmp_path / "s.db"
    res = _run("search", *NB201, "--budget", "3", "--study", str(path), *args)
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("archspace: error:") and res.stderr.count("\n") == 1
    assert needle in res.stderr
    assert not path.exists()


def test_resume_rejects_missing_and_foreign_files(tmp_path: Path) -> None:
    res = _run("resume", str(tmp_path / "missing.db"))
    assert res.exit_code == 2 and "does not exist" in res.stderr
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)")
    res = _run("resume", str(other))
    assert res.exit_code == 2 and "not an archspace study" in res.stderr
    _search(tmp_path / "s.db", 5)
    res = _run("resume", str(tmp_path / "s.db"), "--budget", "2")
    assert res.exit_code == 2 and "below the 5 trials" in res.stderr


def test_listings() -> None:
    res = _run("estimators", "--json")
    assert res.exit_code == 0
    names = [r["name"] for r in json.loads(res.stdout)]
    assert "nasbench201" in names and "train" in names
    res = _run("strategies", "--json")
    assert res.exit_code == 0
    assert "random" in [r["name"] for r in json.loads(res.stdout)]
    for cmd in ("estimators", "strategies"):
        res = _run(cmd)
        assert res.exit_code == 0 and ("nasbench201" in res.stdout or "random" in res.stdout)


def test_console_script_error_has_no_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "archspace"
    proc = subprocess.run([str(exe), "resume", str(tmp_path / "x.db")], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
