"""Overflowing numbers, huge counts and unusable files: one line naming the option and what it
allows, exit 2, nothing started and no study file written (each case crashed or hung before
:mod:`archspace.limits` and :mod:`archspace.inputs`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import archspace
from archspace.cli import cli
from archspace.errors import ArchspaceError
from archspace.estimators import get_estimator
from archspace.inputs import load_json, read_text_file
from archspace.limits import MAX_FILE_BYTES, MAX_JSON_DEPTH
from archspace.spaces import get_space
from archspace.strategies import get_strategy
from archspace.study import Study
from archspace.study.constraints import ConstraintError, parse_constraint
from archspace.study.objectives import ObjectiveError, parse_reward

SEARCH = ["search", "--space", "nb201", "--estimator", "nasbench201", "--strategy", "random",
          "--no-progress"]


@pytest.fixture(autouse=True)
def _no_search(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Study, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("a search started on input that should have been refused")

    monkeypatch.setattr(Study, "run", refuse)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def one_line(res: Result, *needles: str) -> str:
    assert res.exit_code == 2, (res.output, res.exception)
    assert res.stdout == "" and "Traceback" not in res.output
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("archspace: error: "), res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(("extra", "needles"), [
    (["--budget", "1e30"], ("'--budget'", "1..10000000")),
    (["--budget", "10**30"], ("'--budget'", "1..10000000")),
    (["--budget", "1" + "0" * 30], ("'--budget'", "over 30 digits", "1..10000000")),
    (["--budget", "9" * 5000], ("'--budget'", "1..10000000")),
    (["--budget", "10000001"], ("'--budget'", "10000001 is not an integer in 1..10000000")),
    (["--budget", "0"], ("'--budget'",)),
    (["--seed", "-5"], ("'--seed'", "0..4294967295")),
    (["--seed", str(2**32)], ("'--seed'", "0..4294967295")),
    (["--seed", "1" * 40], ("'--seed'", "0..4294967295")),
    (["--workers", "1000000000"], ("'--workers'", "1..4096")),
    (["--max-retries", "100000000000"], ("'--max-retries'", "0..1000")),
    (["--cpus-per-trial", "nan"], ("'--cpus-per-trial'", "(0, 4096]")),
    (["--gpus-per-trial", "inf"], ("'--gpus-per-trial'", "[0, 4096]")),
    (["--trial-timeout", "1e300"], ("'--trial-timeout'", "at most 10000000 seconds")),
    (["-c", "macs<=1e999"], ("macs<=1e999", "too large")),
    (["-c", "macs<=1e" + "9" * 5000], ("too large",)),
    (["-c", "flash<=1e300GiB"], ("too large",)),
    (["-c", "macs<=inf"], ("macs<=inf", "finite number")),
    (["-c", "macs<=nan"], ("finite number",)),
    (["-s", "population=10**30"], ("population", "evolution", "2..10000000")),
    (["-s", "population=" + "1" + "0" * 30], ("population", "2..10000000")),
    (["-s", "population=20000000"], ("population", "2..10000000")),
    (["-p", "C=1e308"], ("parameter C=",)),
    (["-p", "C=" + "9" * 40], ("parameter C=", "1..65536")),
    (["--reward", "macs:1e999:-0.07"], ("target",)),
    (["--reward", "macs:1M:1e300"], ("exponents", "[-10, 10]")),
    (["--reward", ""], ("--reward is empty",)),
])
def test_search_refuses_overflow_before_work(tmp_path: Path, extra: list[str],
                                             needles: tuple[str, ...]) -> None:
    strategy = ["--strategy", "evolution"] if "-s" in extra else []
    path = tmp_path / "s.db"
    res = run(*SEARCH, "--budget", "3", "--study", str(path), *extra, *strategy)
    one_line(res, *needles)
    assert not path.exists()


@pytest.mark.parametrize(("option", "needles"), [
    ("epochs=1000000000000", ("epochs", "at most 10000")),
    ("epochs=10**12", ("epochs",)),
    ("epochs=nan", ("epochs",)),
    ("epochs=1e999", ("epochs",)),
    ("lr=inf", ("lr",)),
    ("batch_size=" + "9" * 30, ("batch_size", "at most 65536")),
    ("resolution=100000", ("resolution", "at most 8192")),
    ("max_seconds=1e300", ("max_seconds", "at most 10000000")),
])
def test_estimator_options_are_capped(tmp_path: Path, option: str, needles: tuple[str, ...]) -> None:
    path = tmp_path / "s.db"
    res = run("search", "--space", "nb201", "--estimator", "train", "--strategy", "random",
              "--budget", "1", "--study", str(path), "-e", option)
    one_line(res, *needles)
    assert not path.exists()


def test_plugin_options_from_python_are_capped() -> None:
    with pytest.raises(ArchspaceError, match=r"hidden=100000 .* must be an integer in 1\.\.4096"):
        get_strategy("reinforce", get_space("nb201"), hidden=100000)
    with pytest.raises(ArchspaceError, match="candidates"):
        get_strategy("tpe", get_space("nb201"), candidates=10**30)
    with pytest.raises(ArchspaceError, match=r"lr=nan .* must be a number >= 0"):
        get_strategy("reinforce", get_space("nb201"), lr=float("nan"))
    with pytest.raises(ArchspaceError, match="epochs=inf"):
        get_estimator("train", epochs=float("inf"))
    with pytest.raises(ArchspaceError, match="batch_size"):
        get_estimator("train", batch_size=float("inf"))  # int(inf) overflowed uncaught
    with pytest.raises(ArchspaceError, match=r"seed=-1 .* 0\.\.4294967295"):
        get_estimator("synflow", seed=-1)


@pytest.mark.parametrize(("args", "needles"), [
    (["sample", "nb201", "-n", "1" + "0" * 23], ("'-n'", "1..10000000")),
    (["sample", "nb201", "--seed", "1" * 60], ("'--seed'", "0..4294967295")),
    (["sample", "nb201", "--seed", "-1"], ("'--seed'",)),
    (["profile", "nb201", "--sample", "1" + "0" * 20], ("'--sample'", "1..1000000")),
    (["profile", "mcunet", "--sample", "1", "-r", "1000000000"], ("resolution", "32..8192")),
    (["profile", "nasfpn", "--sample", "1", "-r", "1" + "0" * 40], ("up to 8192",)),
    (["size", "mcunet", "-p", "width=1e308"], ("width", "(0, 100]")),
    (["size", "mcunet", "-p", "width=inf"], ("width",)),
    (["size", "mcunet", "-p", "width=nan"], ("width",)),
    (["size", "mcunet", "-p", "resolution=" + "1" * 40], ("resolution", "8192")),
    (["size", "anynet", "-p", "resolution=-1"], ("resolution", "1..8192")),
    (["analyze", "flops", "--space", "mcunet", "--samples", "1" + "0" * 20, "-o", "x"],
     ("'--samples'", "1..1000000")),
    (["analyze", "flops", "--space", "mcunet", "--sram", "1e999kB", "-o", "x"], ("too large",)),
    (["analyze", "edf", "nb201", "--estimator", "nasbench201", "--samples", "1" + "0" * 21,
      "-o", "x"], ("'--samples'",)),
    (["analyze", "edf", "nb201", "--estimator", "nasbench201", "--bootstrap", "1" + "0" * 21,
      "-o", "x"], ("'--bootstrap'", "1..100000")),
    (["analyze", "edf", "nb201", "--estimator", "nasbench201", "--bins", "1" + "0" * 21,
      "-o", "x"], ("'--bins'", "1..1000")),
    (["report", "missing.db", "-o", "x", "--top", "1" + "0" * 23], ("'--top'",)),
    (["export", "missing.db", "-o", "x", "--trial", "1" + "0" * 26], ("'--trial'",)),
    (["export", "missing.db", "-o", "x", "--trial", "-1"], ("'--trial'", "0..10000000")),
    (["resume", "missing.db", "--budget", "1" + "0" * 24], ("'--budget'",)),
])
def test_other_commands_refuse_overflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        args: list[str], needles: tuple[str, ...]) -> None:
    monkeypatch.chdir(tmp_path)
    one_line(run(*args), *needles)
    assert not (tmp_path / "x").exists()


def test_flops_grid_is_capped(tmp_path: Path) -> None:
    widths = ",".join(f"0.{i:03d}" for i in range(1, 100))
    resolutions = ",".join(str(32 + 16 * i) for i in range(20))
    one_line(run("analyze", "flops", "--space", "mcunet", "--widths", widths, "--resolutions",
                 resolutions, "-o", str(tmp_path / "x")), "1980 points", "at most 1000")


def test_flops_param_fixes_an_axis_of_the_default_family(tmp_path: Path) -> None:
    res = run("analyze", "flops", "--space", "mcunet", "-p", "width=0.5", "--samples", "2",
              "-o", str(tmp_path / "x"), "--json")
    assert res.exit_code == 0, res.output  # crashed: family() got width twice
    assert "width=nan" not in res.output
    one_line(run("analyze", "flops", "--space", "mcunet", "-p", "width=nan", "-o",
                 str(tmp_path / "y")), "width")


# -- files and JSON ----------------------------------------------------------------------------
def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    binary = tmp_path / "binary.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    nul = tmp_path / "nul.txt"
    nul.write_bytes(b"C=16\x00\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    deep_objects = tmp_path / "deep_objects.json"
    deep_objects.write_text('{"a":' * 5000 + "1" + "}" * 5000)
    digits = tmp_path / "digits.json"
    digits.write_text('{"C": ' + "9" * 6000 + "}")
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as f:  # sparse: no disk used
        f.truncate(MAX_FILE_BYTES + 1)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    return {"binary": (binary, "not UTF-8 text"), "nul": (nul, "NUL bytes"),
            "folder": (folder, "is a directory"), "missing": (tmp_path / "nope", "No such file"),
            "deep": (deep, f"nested deeper than {MAX_JSON_DEPTH}"),
            "deep_objects": (deep_objects, "nested deeper"), "digits": (digits, "as JSON"),
            "huge": (huge, "larger than 64 MiB"), "empty": (empty, "is empty")}


@pytest.mark.parametrize("kind", ["binary", "nul", "folder", "missing", "deep", "deep_objects",
                                  "digits", "huge", "empty"])
@pytest.mark.parametrize("command", ["profile", "draw"])
def test_arch_files_are_read_safely(tmp_path: Path, command: str, kind: str) -> None:
    path, needle = _bad_files(tmp_path)[kind]
    extra = ["-o", str(tmp_path / "a.png")] if command == "draw" else []
    one_line(run(command, "nb201", "--arch", f"@{path}", *extra), needle)


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a":' * 100_000, "[]", "{}",
                                  '{"C": ' + "9" * 6000 + "}"])
def test_arch_json_on_the_command_line(text: str) -> None:
    line = one_line(run("profile", "nb201", "--arch", text))
    assert len(line) < 400


def test_study_arguments_that_are_not_studies(tmp_path: Path) -> None:
    files = _bad_files(tmp_path)
    for kind in ("binary", "nul", "deep", "huge", "empty"):
        path = files[kind][0]
        for args in (["resume", str(path)], ["report", str(path), "-o", str(tmp_path / "r")],
                     ["export", str(path), "-o", str(tmp_path / "e")]):
            one_line(run(*args), "not an archspace study")
    one_line(run("report", str(files["folder"][0]), "-o", str(tmp_path / "r")), "directory")


def test_inputs_module() -> None:
    with pytest.raises(ArchspaceError, match="nested deeper than 64"):
        load_json("[" * 65 + "]" * 65, "x")
    assert load_json("[" * 64 + "]" * 64, "x") is not None
    assert load_json('["[[[[' + "[" * 100 + '"]', "x") == ["[[[[" + "[" * 100]  # in a string
    with pytest.raises(ArchspaceError, match="cannot read x"):
        read_text_file(os.devnull + "/nope", "x")


def test_constraint_and_reward_parsers() -> None:
    assert parse_constraint("macs<=1e-999").limit == 0.0
    assert parse_constraint("flash<=1e3GiB").limit == 1e3 * 1024**3
    for text in ("macs<=1e999", "macs<=1e99999999999999999999999999", "macs<=inf", "params<NaN"):
        with pytest.raises(ConstraintError):
            parse_constraint(text)
    for text in ("macs:1e999:-0.07", "macs:1M:11", "macs:1M:-1e300", "macs:0.5:1"):
        with pytest.raises(ObjectiveError):
            parse_reward(text)
    r = parse_reward("macs:1:10")  # the extreme allowed reward stays finite
    assert r(1.0, {"macs": 1e15}) == pytest.approx(1e150)


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"budget": 10_000_001}, r"budget must be an integer in 1\.\.10000000"),
    ({"seed": 2**32}, r"seed must be an integer in 0\.\.4294967295"),
    ({"seed": -1}, "seed must be an integer in"),
])
def test_python_api_has_the_same_caps(tmp_path: Path, kwargs: dict[str, Any], needle: str) -> None:
    args = {"space": "nb201", "estimator": "nasbench201", "strategy": "random", "budget": 3,
            "study": tmp_path / "s.db", **kwargs}
    with pytest.raises(ArchspaceError, match=needle):
        archspace.search(**args)
    assert not (tmp_path / "s.db").exists()
