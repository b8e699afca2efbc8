"""Several zero-cost proxies in one estimator: ranks against a fixed reference sample, checked
names, and a study that records every proxy."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from click.testing import CliRunner

from archspace import get_space
from archspace.cli import cli
from archspace.estimators import EstimatorError, get_estimator
from archspace.estimators.zero_cost import PROXIES
from archspace.estimators.zero_cost_suite import parse_proxies, rank_in

SMALL = {"batch_size": 8, "reference": 5}


def test_rank_in_counts_ties_half_and_nan_lowest() -> None:
    ref = [1.0, 2.0, 2.0, 4.0]
    assert [rank_in(v, ref) for v in (0.0, 1.0, 2.0, 3.0, 9.0)] == [0.0, 0.125, 0.5, 0.75, 1.0]
    assert rank_in(float("nan"), ref) == 0.0


@pytest.mark.parametrize(("text", "match"), [
    ("synflow,nope", "unknown proxy 'nope'.*allowed: synflow, naswot, snip"),
    (" , ", "names no proxy"),
    ("snip,snip", "names a proxy twice"),
])
def test_bad_proxy_lists_are_refused_naming_the_allowed(text: str, match: str) -> None:
    with pytest.raises(EstimatorError, match=match):
        parse_proxies(text)
    with pytest.raises(EstimatorError, match=match):
        get_estimator("zerocost", proxies=text)


def test_the_score_is_the_mean_rank_in_the_reference_sample() -> None:
    space = get_space("nb201")
    est = get_estimator("zerocost", proxies="synflow,snip,params", **SMALL)
    est.check_space(space)
    ref = est.reference(space)  # type: ignore[attr-defined]
    assert set(ref) == {"synflow", "snip", "params"} and all(len(v) == 5 for v in ref.values())
    arch = space.sample(11)
    m = est.evaluate(space, arch, seed=0)
    for p in ("synflow", "snip", "params"):
        single = get_estimator(p) if p == "params" else get_estimator(p, batch_size=8)
        assert m[p] == single.evaluate(space, arch, seed=0)[p]
        assert m[f"{p}_rank"] == rank_in(m[p], ref[p])
    assert m["zerocost"] == pytest.approx(sum(m[f"{p}_rank"] for p in ref) / 3)
    assert 0.0 <= m["zerocost"] <= 1.0


def test_scores_do_not_depend_on_history_or_process() -> None:
    space = get_space("nb201")
    a, b = space.sample(1), space.sample(2)
    first = get_estimator("zerocost", **SMALL)
    ma, mb = first.evaluate(space, a), first.evaluate(space, b)
    second = get_estimator("zerocost", **SMALL)
    assert second.evaluate(space, b) == mb and second.evaluate(space, a) == ma
    shipped = pickle.loads(pickle.dumps(first))  # what a worker process receives
    assert shipped.reference(space) == first.reference(space)  # type: ignore[attr-defined]
    assert shipped.evaluate(space, a) == ma
    other_reference = get_estimator("zerocost", **SMALL, reference_seed=1)
    assert other_reference.evaluate(space, a)["synflow"] == ma["synflow"]


def test_unknown_proxy_is_one_line_before_any_study_is_made(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    res = CliRunner().invoke(cli, ["search", "--space", "nb201", "--estimator", "zerocost",
                                   "-e", "proxies=synflow,snipp", "--strategy", "random",
                                   "--budget", "2", "--study", str(db), "--no-progress"])
    assert res.exit_code == 2
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("archspace: error: unknown proxy 'snipp'")
    assert ", ".join(PROXIES) in lines[0] and not db.exists()


def test_a_study_records_every_proxy(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, [
        "search", "--space", "nb201", "--estimator", "zerocost", "-e", "proxies=synflow,naswot",
        "-e", "batch_size=8", "-e", "reference=4", "--strategy", "random", "--budget", "2",
        "--study", str(tmp_path / "s.db"), "--json", "--no-progress"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    best = json.loads(res.stdout)["best"]
    assert {"zerocost", "synflow", "naswot", "synflow_rank", "naswot_rank"} <= set(best["metrics"])
    assert best["score"] == best["metrics"]["zerocost"]


def test_estimators_lists_the_proxies() -> None:
    res = CliRunner().invoke(cli, ["estimators", "--proxies", "--json"])
    assert [p["name"] for p in json.loads(res.stdout)] == list(PROXIES)
    table = CliRunner().invoke(cli, ["estimators"], env={"COLUMNS": "80"}).stdout
    assert "zero-cost proxies" in table and all(len(line) <= 80 for line in table.splitlines())
