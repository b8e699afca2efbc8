"""Smoke test of ``benchmarks/dense_fidelity.py --task superres`` (the benchmark trains for CPU
minutes; docs/benchmarks.md has its numbers): 2 tiny archs at B and 4B, a rerun that trains
nothing, the summary's Kendall tau, spread and noise floor, and the old script name as a
wrapper."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dense_fidelity",
                                                  ROOT / "benchmarks" / "dense_fidelity.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_run_resume_and_summary(tmp_path: Path) -> None:
    bench = _script()
    out = tmp_path / "sr.jsonl"
    args = ["run", "--task", "superres", "--archs", "2", "--epochs", "0.5", "--noise", "1",
            "--out", str(out), "-p", "channels=4", "-p", "layers=2", "-e", "lr_patch=8",
            "-e", "train_patches=16", "-e", "val_patches=4", "-e", "batch_size=8"]
    bench.main(args)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((r["arch_seed"], r["epochs"], r["seed"]) for r in rows) == \
        [(0, 0.5, 0), (0, 0.5, 1), (0, 0.5, 2), (0, 2.0, 0), (1, 0.5, 0), (1, 2.0, 0)]
    bench.main(args)  # everything done: nothing trained, nothing appended
    assert len(out.read_text().splitlines()) == len(rows)
    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["archs"] == 2 and summary["kendall_tau"] in (-1.0, 1.0)
    assert summary["bicubic_psnr_y"] == rows[0]["bicubic_psnr_y"]
    assert summary["B"]["max_gain"] == pytest.approx(
        max(r["psnr_gain"] for r in rows if r["epochs"] == 0.5 and r["seed"] == 0))
    assert summary["seed_std_psnr"] >= 0


def test_the_old_script_name_is_a_wrapper(tmp_path: Path) -> None:
    import subprocess

    out = tmp_path / "sr.jsonl"
    row = {"arch_seed": 0, "epochs": 1.0, "seed": 0, "psnr_y": 27.0, "psnr_gain": 0.1,
           "bicubic_psnr_y": 26.9, "cpu_seconds": 6.0}
    out.write_text("\n".join(json.dumps({**row, **extra}) for extra in (
        {}, {"epochs": 4.0, "psnr_y": 27.2, "psnr_gain": 0.3},
        {"arch_seed": 1, "psnr_y": 27.05, "psnr_gain": 0.15},
        {"arch_seed": 1, "epochs": 4.0, "psnr_y": 27.3, "psnr_gain": 0.4})) + "\n")
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "dense_fidelity_sr.py"),
                          "report", "--epochs", "1", "--out", str(out)],
                         capture_output=True, text=True, check=True)
    assert "archs: 2, B = 1 epochs, Kendall tau(B, 4B) = 1.000" in res.stdout
