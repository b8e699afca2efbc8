"""An estimator that returns something other than numbers fails its trial (with the reason), and
never stops the study; a study file holding such a row (written by hand, by another tool, or by
an older archspace) still resumes, reports and summarises."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner

import archspace
from archspace.cli import cli
from archspace.space import Arch, Space
from archspace.study import StudyStorage
from archspace.study.objectives import as_number, numeric_metrics
from test_study_support import ToyEstimator, ToySpace


class Sloppy(ToyEstimator):
    """The toy accuracy, but some archs get a word, None, a list or a numpy scalar instead."""

    name = "sloppy"

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = dict(super().evaluate(space, arch, seed))
        kind = (len(self.calls) - 1) % 5
        if kind == 1:
            out["acc"] = "high"
        elif kind == 2:
            out["other"] = None
        elif kind == 3:
            out["acc"] = [out["acc"]]
        elif kind == 4:
            out["acc"] = np.float32(out["acc"])  # a number, if not a float
        return out


def test_numeric_metrics() -> None:
    assert as_number(np.int64(3)) == 3.0 and as_number(True) == 1.0
    assert as_number(float("nan")) != as_number(float("nan"))  # NaN is a number (then: failed)
    assert [as_number(v) for v in ("1.5", None, [1.0], b"1", {"a": 1})] == [None] * 5
    assert numeric_metrics({"a": np.float32(0.5), 2: 1}) == ({"a": 0.5, "2": 1.0}, None)
    clean, why = numeric_metrics({"acc": "high", "loss": 0.25, "x": None})
    assert clean == {"loss": 0.25}
    assert why == ("non-numeric metrics acc='high' (str), x=None (NoneType); allowed: numbers "
                   "(an int or a float)")


def test_a_non_numeric_metric_fails_the_trial_and_the_study_goes_on(tmp_path: Path) -> None:
    study = archspace.search(space=ToySpace(), estimator=Sloppy(), strategy="random", budget=10,
                             study=tmp_path / "s.db")
    trials = study.trials
    assert [t.status for t in trials] == ["complete", "failed", "failed", "failed", "complete"] * 2
    assert trials[1].error == "non-numeric metric acc='high' (str); allowed: numbers (an int or a float)"
    assert trials[1].metrics == {"other": trials[1].metrics["other"]}  # the numbers are kept
    assert trials[2].error is not None and "other=None (NoneType)" in trials[2].error
    assert trials[3].error is not None and "acc=[" in trials[3].error and "(list)" in trials[3].error
    assert trials[4].score == float(np.float32(trials[4].metrics["acc"]))
    assert study.counts == {"complete": 4, "failed": 6, "infeasible": 0}
    again = archspace.resume(tmp_path / "s.db", budget=12, estimator=Sloppy(), space=ToySpace())
    assert again.n_trials == 12


def test_an_estimator_returning_only_words_fails_every_trial(tmp_path: Path) -> None:
    """Before the fix the study died on its first trial (and every resume on it again)."""
    path = tmp_path / "s.db"

    class Word(ToyEstimator):
        name = "word"

        def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, Any]:
            return {"acc": "high"}

    study = archspace.search(space=ToySpace(), estimator=Word(), strategy="random", budget=3,
                             study=path)
    assert study.counts["failed"] == 3
    assert {t.error for t in study.trials} == {
        "non-numeric metric acc='high' (str); allowed: numbers (an int or a float)"}


def _tamper(path: Path) -> None:
    with sqlite3.connect(path) as c:
        c.execute("UPDATE trials SET score='high', objectives='[\"high\"]', "
                  "metrics='{\"cifar10_valid_12ep\": \"high\"}' WHERE number=1")
        c.execute("UPDATE trials SET score=NULL, objectives='[null]', "
                  "metrics='{\"cifar10_valid_12ep\": null}' WHERE number=2")
        c.execute("UPDATE trials SET objectives='{\"a\": 1}' WHERE number=3")


def test_a_study_file_with_non_numeric_rows_resumes_and_reads(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    runner = CliRunner()
    base = ["search", "--space", "nb201", "--estimator", "nasbench201", "--strategy", "guided",
            "--budget", "5", "--study", str(path), "--no-progress"]
    assert runner.invoke(cli, base).exit_code == 0
    _tamper(path)
    with StudyStorage.open(path) as s:
        bad = {t.number: (t.score, t.objectives) for t in s.trials()}
    assert bad[1] == (None, None) and bad[2] == (None, None) and bad[3][1] is None
    res = runner.invoke(cli, ["resume", str(path), "--budget", "8", "--no-progress", "--json"])
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output
    study = archspace.load_study(path)
    assert study.n_trials == 8 and study.best is not None and study.best.number not in (1, 2)
    assert study.summary()["trials"] == 8
    for strategy in ("evolution", "nsga2", "reinforce"):  # each strategy is told the rows
        other = tmp_path / f"{strategy}.db"
        archspace.search(space="nb201", estimator="nasbench201", strategy=strategy, budget=5,
                         study=other, objectives=["accuracy", "params"] if strategy == "nsga2" else ())
        _tamper(other)
        assert archspace.resume(other, budget=7).n_trials == 7
