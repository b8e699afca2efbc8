"""TinyNAS end to end: every stage of a tiny run on the digits, resuming, stages on their own,
and bad input (one line, exit 2, nothing run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from archspace.cli import cli
from archspace.tinynas import STATE, TinyNASConfig, TinyNASError, run_tinynas, stage_page

TINY = ["--sram", "32kB", "--flash", "500kB", "-e", "dataset=digits", "-e", "epochs=1",
        "-e", "train_samples=256", "-e", "batch_size=64", "--widths", "0.35",
        "--resolutions", "32", "--samples", "40", "--min-count", "1", "--budget", "3",
        "--population", "2", "--sample", "1", "--bn-batches", "1", "--no-progress"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tinynas") / "run"
    res = CliRunner().invoke(cli, ["tinynas", *TINY, "-o", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_every_stage_writes_its_files(finished: Path) -> None:
    for name in ("select/flops.json", "select/flops_cdf.png", "supernet.pt", "search.db",
                 "export/arch.json", "report/index.html", "tinynas.html", STATE):
        assert (finished / name).is_file(), name
    state = json.loads((finished / STATE).read_text())
    assert list(state["stages"]) == ["select", "supernet", "search", "export", "report"]
    assert state["stages"]["select"]["params"] == {"width": 0.35, "resolution": 32}
    best = state["stages"]["search"]["best"]
    assert best["cost"]["peak_sram_bytes@tinyengine"] <= 32 * 1000
    assert best["cost"]["flash_bytes@tinyengine"] <= 500 * 1000
    assert state["stages"]["search"]["trials"] == 3
    assert state["stages"]["export"]["trial"] == best["number"]
    page = (finished / "tinynas.html").read_text()
    assert "Space selection" in page and best["arch"] in page


def test_a_finished_run_is_not_redone(finished: Path) -> None:
    before = (finished / "supernet.pt").stat().st_mtime_ns
    res = CliRunner().invoke(cli, ["tinynas", *TINY, "-o", str(finished), "--stage",
                                   "supernet", "--stage", "search"])
    assert res.exit_code == 0, res.output
    assert "recorded already" in res.output
    assert (finished / "supernet.pt").stat().st_mtime_ns == before


def test_the_search_continues_with_a_larger_budget_only_by_a_new_folder(finished: Path) -> None:
    args = [a if a != "3" else "4" for a in TINY]
    res = CliRunner().invoke(cli, ["tinynas", *args, "-o", str(finished)])
    assert res.exit_code == 2
    assert res.output.startswith("archspace: error: ") and "budget" in res.output
    assert res.output.count("\n") == 1


def test_a_stage_needs_the_ones_before_it(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["tinynas", *TINY, "-o", str(tmp_path / "r"), "--stage",
                                   "search"])
    assert res.exit_code == 2
    assert "stage search needs stage select first" in res.output
    assert not (tmp_path / "r" / "search.db").exists()


@pytest.mark.parametrize(("change", "message"), [
    (["--sram", "lots"], "--sram/--flash"),
    (["--widths", "0.35,x"], "--widths"),
    (["--resolutions", "33"], "resolution 33"),
    (["-e", "distill=true"], "distill=true needs sandwich=true"),
    (["-e", "colour=blue"], "colour"),
    (["--population", "1", "--sample", "2"], "sample=2 is above population=1"),
    (["-f", "tiff"], "tiff"),
])
def test_bad_input_is_one_line_before_any_work(tmp_path: Path, change: list[str],
                                               message: str) -> None:
    args = list(TINY)
    for i in range(0, len(change), 2):
        if change[i] in args and change[i] != "-e":
            args[args.index(change[i]) + 1] = change[i + 1]
        else:
            args += change[i:i + 2]
    res = CliRunner().invoke(cli, ["tinynas", *args, "-o", str(tmp_path / "r")])
    assert res.exit_code == 2, res.output
    assert res.output.startswith("archspace: error: ") and message in res.output, res.output
    assert res.output.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_limits_no_member_meets_stop_at_selection(tmp_path: Path) -> None:
    cfg = TinyNASConfig(sram="1kB", flash="500kB", train={"dataset": "digits", "epochs": 1},
                        widths=(0.35,), resolutions=(32,), samples=20, min_count=1)
    with pytest.raises(TinyNASError, match="no space has at least 1"):
        run_tinynas(cfg, tmp_path / "r")
    assert not (tmp_path / "r" / "supernet.pt").exists()


def test_the_stage_page_escapes_what_it_shows() -> None:
    cfg = TinyNASConfig(sram="32kB", flash="500kB", train={"epochs": 1})
    page = stage_page(cfg, {"select": {"reason": "<script>x</script>", "spaces": []}})
    assert "<script>x" not in page and "&lt;script&gt;" in page
