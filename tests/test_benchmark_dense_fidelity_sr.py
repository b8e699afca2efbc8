"""Smoke test of benchmarks/dense_fidelity_sr.py (the benchmark trains for CPU minutes;
docs/benchmarks.md has its numbers): 2 tiny archs at B and 4B, a rerun that trains nothing,
and the summary's Kendall tau, spread and noise floor."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dense_fidelity_sr",
                                                  ROOT / "benchmarks" / "dense_fidelity_sr.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_run_resume_and_summary(tmp_path: Path) -> None:
    bench = _script()
    out = tmp_path / "sr.jsonl"
    args = ["run", "--archs", "2", "--epochs", "0.5", "--noise", "1", "--out", str(out),
            "-p", "channels=4", "-p", "layers=2", "-e", "lr_patch=8", "-e", "train_patches=16",
            "-e", "val_patches=4", "-e", "batch_size=8"]
    assert bench.main(args) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((r["arch_seed"], r["epochs"], r["seed"]) for r in rows) == \
        [(0, 0.5, 0), (0, 0.5, 1), (0, 0.5, 2), (0, 2.0, 0), (1, 0.5, 0), (1, 2.0, 0)]
    assert bench.main(args) == 0  # everything done: nothing trained, nothing appended
    assert len(out.read_text().splitlines()) == len(rows)
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["archs"] == 2 and summary["kendall_tau"] in (-1.0, 1.0)
    assert summary["bicubic_psnr_y"] == rows[0]["bicubic_psnr_y"]
    assert summary["B"]["max_gain"] == pytest.approx(
        max(r["psnr_gain"] for r in rows if r["epochs"] == 0.5 and r["seed"] == 0))
    assert summary["seed_std_psnr"] >= 0


def test_setup_for_the_combined_benchmark() -> None:
    space, make, metric, trivial, setting = _script().superres_setup(2.0, channels=4)
    assert space.name == "trilevel" and metric == "psnr_y" and trivial == "bicubic_psnr_y"
    assert make(4).config["epochs"] == 8.0 and "B=2 epochs" in setting
