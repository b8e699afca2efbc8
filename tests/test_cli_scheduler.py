"""``archspace search --scheduler`` end to end: bad input, and a tiny Hyperband on digits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archspace.cli import cli
from archspace.study import StudyStorage

TINY = ("--space", "nb201", "-p", "C=4", "-p", "N=1", "--estimator", "train",
        "-e", "train_samples=120", "-e", "batch_size=40", "--strategy", "random", "--seed", "0")


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize(("extra", "message"), [
    (("--scheduler", "hyperband", "--min-resource", "3", "--max-resource", "1"),
     "--min-resource 3 is above --max-resource 1; allowed: min_resource <= max_resource"),
    (("--scheduler", "sh", "--max-resource", "9", "--eta", "1"),
     "'--eta': 1 is not an integer in 2..1000"),
    (("--scheduler", "asha", "--max-resource", "0"), "'--max-resource': 0 is not an integer in 1.."),
    (("--scheduler", "asha", "--min-resource", "0", "--max-resource", "9"),
     "'--min-resource': 0 is not an integer in 1.."),
    (("--scheduler", "asha", "--max-resource", "2.5"), "'--max-resource': '2.5' is not an integer in 1.."),
    (("--scheduler", "asha"), "--scheduler asha needs --max-resource N"),
    (("--max-resource", "9"), "--max-resource applies only with --scheduler"),
    (("--scheduler", "bohb", "--max-resource", "9"), "'bohb' is not one of 'sh', 'hyperband', 'asha'"),
])
def test_bad_scheduler_input_is_one_line_and_exit_2(tmp_path: Path, extra: tuple[str, ...],
                                                    message: str) -> None:
    path = tmp_path / "s.db"
    res = _run("search", *TINY, "--budget", "3", "--study", str(path), "--no-progress", *extra)
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("archspace: error: ") and message in lines[0]
    assert not path.exists()


def test_an_estimator_without_a_resource_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    res = _run("search", "--space", "nb201", "--estimator", "nasbench201", "--strategy", "random",
               "--budget", "3", "--study", str(path), "--scheduler", "sh", "--max-resource", "9")
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        "archspace: error: scheduler sh needs an estimator with a resource; estimator nasbench201 "
        "has none (one fidelity); allowed: an estimator with a resource, e.g. train (epochs)")
    assert not path.exists()


def test_successive_halving_trains_on_from_the_lower_rung(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    res = _run("search", *TINY, "--budget", "5", "--study", str(path), "--no-progress", "--json",
               "--scheduler", "sh", "--min-resource", "1", "--max-resource", "3")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["trials"] == 5
    res = _run("resume", str(path), "--budget", "6", "--no-progress")
    assert res.exit_code == 0, res.output
    with StudyStorage.open(path) as s:
        trials = s.trials()
        config = s.load_config()
    assert config.estimator_options["horizon"] == 3  # the schedule spans the max resource
    placed = [(t.schedule or {}).get("bracket") for t in trials], \
        [(t.schedule or {}).get("resource") for t in trials]
    assert placed == ([0, 0, 0, 0, 1, 1], [1, 1, 1, 3, 1, 1])
    assert [t.metrics["epochs"] for t in trials if t.metrics] == [1, 1, 1, 3, 1, 1]
    top = trials[3]
    assert top.metrics is not None and top.metrics["resumed_from"] == 1
    parent = trials[(top.schedule or {})["parent"]]
    assert parent.arch == top.arch
    # continued from the 1-epoch checkpoint = trained straight to 3 epochs (same schedule)
    from archspace.estimators import get_estimator
    from archspace.spaces import get_space

    space = get_space("nb201", C=4, N=1)
    est = get_estimator("train", **config.estimator_options)
    straight = est.evaluate_at(space, space.arch_from_json(top.arch_json), seed=0, resource=3)
    assert straight["val_accuracy"] == top.metrics["val_accuracy"]
    assert straight["train_loss"] == top.metrics["train_loss"]
    out = tmp_path / "report"
    assert _run("report", str(path), "--output", str(out)).exit_code == 0
    page = (out / "index.html").read_text()
    assert "<h2>Rungs</h2>" in page and (out / "rungs.png").stat().st_size > 1000
