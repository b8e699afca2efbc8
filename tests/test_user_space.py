"""A user's own space, given as ``module:Class``, goes through the whole CLI: size, sample,
profile, draw, a search on real data with a process pool, resume, export and reload."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from archspace import get_space
from archspace.cli import cli
from archspace.export import load_model
from archspace.spaces import space_target

ROOT = Path(__file__).resolve().parents[1]
TINYNET = "examples.tinynet:TinyNet"


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the README runs the example from here


def ok(*args: str) -> str:
    res = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.stdout


def test_the_example_space_counts_samples_profiles_and_draws(tmp_path: Path) -> None:
    # depth 2, 3 or 4; per block 2 kernels x (expand 1, or expand 3|6 with SE on or off)
    assert ok("size", TINYNET) == f"{10**2 + 10**3 + 10**4}\n"
    lines = ok("sample", TINYNET, "-n", "20", "--seed", "0").splitlines()
    space = get_space(TINYNET)
    for text in lines:
        arch = space.parse_arch(text)
        depth = int(arch["depth"])  # type: ignore[arg-type]
        assert all(arch.get(f"b{b}.kernel") is None for b in range(depth, 4))
        assert all((arch.get(f"b{b}.se") is None) == (arch[f"b{b}.expand"] == 1)
                   for b in range(depth))
    profile = json.loads(ok("profile", TINYNET, "-p", "width=8", "--sample", "1", "--json"))
    assert profile["params"] > 0 and space_target(space) == TINYNET
    assert ok("draw", TINYNET, "--sample", "--seed", "1", "-o", str(tmp_path / "t.png")).strip()
    assert space_target(get_space("nb201")) == "nb201"


def test_search_resume_and_export_a_user_space(tmp_path: Path) -> None:
    db, out = tmp_path / "t.db", tmp_path / "model"
    ok("search", "--space", TINYNET, "-p", "width=8", "--estimator", "train",
       "-e", "dataset=digits", "-e", "epochs=1", "--strategy", "guided", "--budget", "3",
       "--seed", "0", "--executor", "process", "--workers", "2",
       "--constraint", "peak_sram<=40KiB", "--study", str(db))
    ok("resume", str(db), "--budget", "4", "--space", TINYNET)  # named again: allowed
    ok("export", str(db), "--best", "-o", str(out), "--format", "json,pt", "--trust-code")
    info = json.loads((out / "arch.json").read_text())
    assert info["space"] == TINYNET and info["network"]["space"] == TINYNET
    model = load_model(out, trust=True)
    assert sum(p.numel() for p in model.parameters()) == info["network"]["cost"]["params"]


def test_a_module_in_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_spaces_for_archspace_test.py").write_text(textwrap.dedent('''
        from archspace import ChainSpace, Decision
        from archspace.ir.blocks import ClassifierHead, ConvBNAct

        class Two(ChainSpace):
            name = "two"

            def __init__(self, num_classes: int = 10) -> None:
                self._record_params(num_classes=num_classes)
                self.num_classes = num_classes
                self._set_decisions([Decision.of("k", (1, 3, 5)), Decision.of("w", (4, 8))])

            def blocks(self, arch, resolution):
                return [ConvBNAct(int(arch["w"]), int(arch["k"])), ClassifierHead(self.num_classes)]
    '''))
    monkeypatch.chdir(tmp_path)
    assert ok("size", "my_spaces_for_archspace_test:Two") == "6\n"


@pytest.mark.parametrize(("target", "needle"), [
    ("no_such_module_xyz:Space", "cannot import module 'no_such_module_xyz'"),
    ("examples.tinynet:Nope", "has no 'Nope'"),
    ("examples.tinynet:Decision", "is not a subclass of archspace.Space"),
    (":TinyNet", "malformed space"),
    ("tinynet", "unknown space 'tinynet'"),
])
def test_bad_targets_are_one_line_errors(target: str, needle: str) -> None:
    res = CliRunner().invoke(cli, ["size", target])
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and needle in res.stderr, res.stderr
