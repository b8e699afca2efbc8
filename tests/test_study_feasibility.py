"""Constraints no arch can meet are refused before the first trial (issue 10)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import archspace
from archspace.cli import cli
from archspace.spaces import get_space
from archspace.study.constraints import parse_constraints
from archspace.study.feasibility import (
    PROBE_MIN,
    PROBE_SAMPLES,
    InfeasibleConstraints,
    check_feasible,
)

NB201 = ["search", "--space", "nb201", "--estimator", "nasbench201", "--strategy", "random",
         "--budget", "20", "--seed", "0"]


def _macs(space):  # type: ignore[no-untyped-def]
    return lambda arch: {"macs": float(space.profile(arch).macs)}


def test_cli_refuses_constraints_no_arch_meets_before_writing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    study = tmp_path / "s.db"
    res = CliRunner().invoke(cli, [*NB201, "-c", "macs<=1", "--study", str(study)])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("archspace: error: no arch meets the constraints")
    assert "macs<=1 (smallest seen 7,783,040 MACs, met by 0)" in lines[0]
    assert not study.exists() and "Traceback" not in res.output


def test_each_constraint_alone_but_not_together(tmp_path) -> None:  # type: ignore[no-untyped-def]
    res = CliRunner().invoke(cli, [*NB201, "-c", "macs<=20M", "-c", "macs>=100M",
                                    "--study", str(tmp_path / "s.db")])
    assert res.exit_code == 2
    assert "each is met by some, none by all" in res.output
    assert "macs>=100M (largest seen" in res.output


def test_python_api_refuses_too(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InfeasibleConstraints, match="params<=10"):
        archspace.search(space="nb201", estimator="nasbench201", strategy="random", budget=5,
                         constraints=["params<=10"], study=tmp_path / "s.db")
    assert not (tmp_path / "s.db").exists()


def test_feasible_constraints_run_and_the_probe_stops_at_the_first_feasible() -> None:
    space = get_space("nb201")
    loose = parse_constraints(["macs<=1G"])
    assert check_feasible(space, _macs(space), loose, seed=0) == 1
    # a rare but reachable region: found within the sample, so the study runs
    smallest = min(space.profile(space.sample(i)).macs for i in range(300))
    n = check_feasible(space, _macs(space), parse_constraints([f"macs<={smallest}"]), seed=0)
    assert 1 <= n <= PROBE_SAMPLES
    assert check_feasible(space, _macs(space), (), seed=0) == 0


def test_archs_the_cost_model_cannot_price_are_skipped() -> None:
    space = get_space("nb201")

    def broken(arch):  # type: ignore[no-untyped-def]
        raise RuntimeError("cannot build")

    with pytest.raises(InfeasibleConstraints, match="could be priced"):
        check_feasible(space, broken, parse_constraints(["macs<=1G"]))


def test_slow_cost_models_are_probed_at_least_probe_min_times(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import archspace.study.feasibility as feas

    monkeypatch.setattr(feas, "PROBE_SECONDS", 0.0)
    space = get_space("nb201")
    with pytest.raises(InfeasibleConstraints, match=f"none of {PROBE_MIN} archs"):
        check_feasible(space, _macs(space), parse_constraints(["macs<=1"]))


def test_resume_of_a_study_that_found_feasible_archs_is_not_probed(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    study = tmp_path / "s.db"
    handle = archspace.search(space="nb201", estimator="nasbench201", strategy="random",
                              budget=3, constraints=["macs<=100M"], study=study)
    assert len(handle.trials) == 3
    import archspace.study.preflight as pre

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("probed again")

    monkeypatch.setattr(pre, "check_feasible", refuse)
    assert len(archspace.resume(study, budget=5).trials) == 5
