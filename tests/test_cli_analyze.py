"""``archspace analyze flops`` and ``archspace analyze edf`` end to end (small samples)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from archspace.cli import cli

PNG = b"\x89PNG\r\n\x1a\n"
FLOPS = ("analyze", "flops", "--space", "mobilenetv2", "-p", "num_classes=10", "--sram", "40kB",
         "--flash", "600kB", "--widths", "0.35,0.5", "--grid", "resolution=48,64",
         "--samples", "40", "--min-count", "3")
CONVS = "nb201[-none,-avg_pool_3x3,-skip_connect]"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_flops_writes_figure_csv_json(tmp_path: Path) -> None:
    res = run(*FLOPS, "-o", str(tmp_path / "out"), "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    labels = [s["label"] for s in summary["spaces"]]
    assert labels == ["w0.35-r48", "w0.35-r64", "w0.5-r48", "w0.5-r64"]
    assert summary["constraints"] == ["peak_sram<=40kB", "flash<=600kB"]
    assert "macs" not in summary["spaces"][0]
    out = tmp_path / "out"
    assert (out / "flops_cdf.png").read_bytes()[:8] == PNG
    full = json.loads((out / "flops.json").read_text())
    assert full["pick"] == summary["pick"]
    assert all(len(s["macs"]) == s["n_ok"] for s in full["spaces"])
    rows = list(csv.DictReader((out / "flops.csv").open()))
    assert [r["label"] for r in rows] == labels
    assert [r["picked"] for r in rows].count("True") == (1 if summary["pick"] else 0)
    eligible = [s for s in summary["spaces"] if s["eligible"]]
    if eligible:
        assert summary["pick"] == max(eligible, key=lambda s: s["mean_macs"])["label"]


def test_flops_table_output(tmp_path: Path) -> None:
    res = run(*FLOPS, "-o", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert "pick:" in res.output and "w0.35-r48" in res.output


def test_edf_writes_figure_csv_json(tmp_path: Path) -> None:
    res = run("analyze", "edf", CONVS, "nb201[n1.in0=nor_conv_3x3,-none]", "--estimator",
              "nasbench201", "--samples", "30", "--seed", "2", "--bootstrap", "30",
              "-o", str(tmp_path), "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert [s["label"] for s in summary["spaces"]] == [CONVS, "nb201[n1.in0=nor_conv_3x3,-none]"]
    assert summary["spaces"][0]["n"] == 30 and summary["normalize"] == "macs"
    assert len(summary["ks"]) == 1
    assert (tmp_path / "edf.png").read_bytes()[:8] == PNG
    rows = list(csv.DictReader((tmp_path / "edf.csv").open()))
    assert len(rows) == 60 and set(rows[0]) == {"space", "arch", "error", "params", "macs",
                                                 "weight"}
    full = json.loads((tmp_path / "edf.json").read_text())
    assert len(full["grid"]) == len(full["spaces"][1]["normalized_edf"])


def test_edf_table_output_without_normalising(tmp_path: Path) -> None:
    res = run("analyze", "edf", CONVS, "--estimator", "nasbench201", "--normalize", "none",
              "--bootstrap", "20", "-o", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert "64 (all)" in res.output
    assert (tmp_path / "edf.png").exists()


@pytest.mark.parametrize("args", [
    ("analyze", "edf", "nb201[", "--estimator", "nasbench201"),
    ("analyze", "edf", "nb201[-nonee]", "--estimator", "nasbench201"),
    ("analyze", "edf", "nb201", "--estimator", "nosuch"),
    ("analyze", "edf", "nb201", "--estimator", "nasbench201", "--estimator-option", "metric=x"),
    ("analyze", "edf", "anynet", "--estimator", "nasbench201"),
    ("analyze", "edf", "nb201", "--estimator", "synflow", "--samples", "1"),
    ("analyze", "edf", "nb201", "--estimator", "nasbench201", "--normalize", "flops"),
    ("analyze", "flops", "--space", "mobilenetv2", "--sram", "320kX"),
    ("analyze", "flops", "--space", "nosuch", "--sram", "320kB"),
    ("analyze", "flops", "--space", "mobilenetv2", "--grid", "width"),
    ("analyze", "flops", "--space", "mobilenetv2", "--grid", "depth=1,2"),
    ("analyze", "flops", "--space", "mobilenetv2", "--widths", "a,b"),
    ("analyze", "flops", "--space", "mobilenetv2", "--samples", "0"),
])
def test_bad_input_exits_2(args: tuple[str, ...], tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "x")])
    assert res.exit_code == 2, res.output
    assert "error" in res.output.lower()
    assert not (tmp_path / "x").exists()


def test_edf_tables_fit_80_columns_with_whole_numbers(tmp_path: Path) -> None:
    """Long space labels fold (they are names); numbers never split; labels print as given
    (``[...]`` is not taken for markup)."""
    specs = ("nb201", "nb201[n1.in0=nor_conv_3x3,-none]", "nb201[-none,-skip_connect]")
    args = ("analyze", "edf", *specs, "--estimator", "nasbench201", "--samples", "20",
            "--bootstrap", "10", "-o", str(tmp_path))
    summary = json.loads(run(*args, "--json").output)
    res = CliRunner(env={"COLUMNS": "80"}).invoke(cli, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    lines = [line for line in res.stdout.splitlines() if not line.startswith("wrote ")]
    assert max(map(len, lines)) <= 80  # (the "wrote PATH" line is printed whole)
    words = {c.strip() for line in lines for c in line.split("│")}
    for s in summary["spaces"]:
        assert {f"{s['min_error']:.2f}%", f"{s['mean_error']:.2f}%"} <= words, s["label"]
    for p in summary["ks"]:
        assert {f"{p['ks']:.3f}", f"{p['kept'][0]}/{p['kept'][1]}", f"{p['pvalue_raw']:.2g}"} <= words
    wide = CliRunner(env={"COLUMNS": "200"}).invoke(cli, list(args), catch_exceptions=False)
    assert all(f" {spec} " in wide.stdout for spec in specs)
