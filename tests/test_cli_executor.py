"""The executor options of ``archspace search`` and ``resume``: checked before anything runs,
kept in the study file, and reused (or confirmed) by ``resume``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archspace.cli import cli
from archspace.cli._executor import executor_from, executor_settings, stored_settings

NB201 = ["--space", "nb201", "--estimator", "nasbench201", "--strategy", "random"]


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _one_line_error(res: Any, needle: str) -> None:
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("archspace: error:") and res.stderr.count("\n") == 1
    assert needle in res.stderr


@pytest.mark.parametrize("bad", ["0", "-2", "inf", "nan", "1e999", "soon"])
def test_a_bad_trial_timeout_is_one_line(tmp_path: Path, bad: str) -> None:
    res = _run("search", *NB201, "--budget", "2", "--study", str(tmp_path / "s.db"),
               "--trial-timeout", bad)
    _one_line_error(res, "Invalid value for '--trial-timeout'")
    assert not (tmp_path / "s.db").exists()


def test_the_trial_timeout_is_kept_and_resume_uses_it(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    res = _run("search", *NB201, "--budget", "2", "--study", str(path), "--no-progress",
               "--trial-timeout", "7.5")
    assert res.exit_code == 0, res.output
    assert stored_settings(str(path))["trial_timeout"] == 7.5
    res = _run("resume", str(path), "--budget", "3", "--no-progress")
    assert res.exit_code == 0, res.output
    settings = executor_settings({}, stored_settings(str(path)))
    assert settings["trial_timeout"] == 7.5
    ex = executor_from(settings)
    try:
        assert getattr(ex, "trial_timeout", None) == 7.5
    finally:
        ex.shutdown()
