"""The executor options of ``archspace search`` and ``resume``: checked before anything runs,
kept in the study file, and reused (or confirmed) by ``resume``."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archspace.cli import cli
from archspace.cli._executor import executor_from, executor_settings, stored_settings
from archspace.study import StudyStorage

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


def _set_stored(path: Path, **settings: Any) -> None:
    with StudyStorage.open(path, write=True) as s:
        s.set_meta("executor", {**(s.meta("executor") or {}), **settings})


def _n_trials(path: Path) -> int:
    with StudyStorage.open(path) as s:
        return s.n_recorded()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_threads_are_kept_and_resume_keeps_them(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    res = _run("search", *NB201, "--budget", "2", "--study", str(path), "--no-progress")
    assert res.exit_code == 0, res.output
    assert stored_settings(str(path))["threads"] == 1
    path2 = tmp_path / "t.db"
    res = _run("search", *NB201, "--budget", "2", "--study", str(path2), "--no-progress",
               "--threads", "2")
    assert res.exit_code == 0, res.output
    assert stored_settings(str(path2))["threads"] == 2
    res = _run("resume", str(path2), "--budget", "3", "--no-progress")
    assert res.exit_code == 0, res.output
    assert stored_settings(str(path2))["threads"] == 2 and _n_trials(path2) == 3


CORES = os.cpu_count() or 1


@pytest.mark.parametrize(("stored", "needle", "again"), [
    ({"executor": "ray", "address": "10.0.0.1:6379"}, "Ray address '10.0.0.1:6379'",
     ["--executor", "inline"]),
    ({"executor": "process", "workers": CORES + 1}, f"{CORES + 1} workers (--workers)",
     ["--workers", "1"]),
    ({"threads": CORES + 1}, f"{CORES + 1} threads per trial", ["--allow-stored-executor"]),
])
def test_stored_executor_settings_a_file_must_not_decide_are_confirmed(
        tmp_path: Path, stored: dict[str, Any], needle: str, again: list[str]) -> None:
    path = tmp_path / "s.db"
    assert _run("search", *NB201, "--budget", "2", "--study", str(path),
                "--no-progress").exit_code == 0
    _set_stored(path, **stored)
    res = _run("resume", str(path), "--budget", "3", "--no-progress")
    _one_line_error(res, needle)
    assert "--allow-stored-executor" in res.stderr and _n_trials(path) == 2
    res = _run("resume", str(path), "--budget", "3", "--no-progress", *again)
    assert res.exit_code == 0, res.output
    assert _n_trials(path) == 3


@pytest.mark.parametrize("bad", ["0", "nan"])
def test_a_bad_ray_timeout_is_one_line(tmp_path: Path, bad: str) -> None:
    res = _run("search", *NB201, "--budget", "2", "--study", str(tmp_path / "s.db"),
               "--ray-timeout", bad)
    _one_line_error(res, "Invalid value for '--ray-timeout'")
    assert not (tmp_path / "s.db").exists()


def test_a_ray_head_that_refuses_fails_in_one_line_not_a_hang(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'archspace[ray]')")
    if ray.is_initialized():
        pytest.skip("a Ray session is running in this process: the executor would use it")
    path = tmp_path / "s.db"
    assert _run("search", *NB201, "--budget", "2", "--study", str(path),
                "--no-progress").exit_code == 0
    address = f"127.0.0.1:{_free_port()}"
    _set_stored(path, executor="ray", address=address)
    _one_line_error(_run("resume", str(path), "--budget", "3"), "--allow-stored-executor")
    started = time.monotonic()
    res = _run("resume", str(path), "--budget", "3", "--allow-stored-executor",
               "--ray-timeout", "20")
    _one_line_error(res, f"could not join the Ray cluster at {address}: connection refused")
    assert time.monotonic() - started < 20 and _n_trials(path) == 2
    assert not ray.is_initialized()


@pytest.mark.parametrize(("stored", "needle"), [
    ([1, 2], "keeps executor settings that are not a JSON object (a list)"),
    ({"threads": "many"}, "the threads stored in"),
])
def test_stored_settings_that_are_not_settings_are_one_line(tmp_path: Path, stored: Any,
                                                            needle: str) -> None:
    path = tmp_path / "s.db"
    assert _run("search", *NB201, "--budget", "2", "--study", str(path),
                "--no-progress").exit_code == 0
    with StudyStorage.open(path, write=True) as s:
        s.set_meta("executor", stored)
    _one_line_error(_run("resume", str(path), "--budget", "3"), needle)
    assert _n_trials(path) == 2
