"""benchmarks/dense_fidelity.py: the summary of its lines, and one tiny run end to end."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dense_fidelity",
                                                  ROOT / "benchmarks" / "dense_fidelity.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _rec(seed: int, mult: int, score: float) -> dict[str, object]:
    return {"task": "segment", "setting": "s", "arch_seed": seed, "arch": f"a{seed}", "mult": mult,
            "score": score,
            "trivial": 2.0, "cpu_seconds": 60.0 * mult}


def test_summary_ranks_and_spreads(bench: ModuleType) -> None:
    recs = [_rec(i, 1, float(i)) for i in range(4)] + [_rec(i, 4, 10.0 + i) for i in range(4)]
    recs[7]["score"] = 0.0  # the best at B is the worst at 4B
    (row,) = bench.summarise(recs)
    assert row["archs"] == 4 and row["kendall_B_4B"] == pytest.approx(0.0)
    assert row["x1"]["above_trivial"] == 1 and row["x1"]["median"] == pytest.approx(1.5)
    assert row["x4"]["cpu_minutes_per_trial"] == pytest.approx(4.0)


def test_a_tiny_run_appends_lines_and_resumes(bench: ModuleType, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "d.jsonl"
    args = ["run", "--archs", "2", "--epochs", "0.25", "--size", "32", "--scenes", "8",
            "--val-scenes", "4", "--layers", "2", "--filters", "2", "--aspp", "8",
            "--out", str(out)]
    bench.main(args)
    lines = out.read_text().splitlines()
    assert len(lines) == 4 and {json.loads(x)["mult"] for x in lines} == {1, 4}
    bench.main(args)  # everything is done: nothing is added
    assert len(out.read_text().splitlines()) == 4
    bench.main(["report", "--out", str(out)])
    assert "| segment |" in capsys.readouterr().out


def test_every_task_is_in_the_table(bench: ModuleType) -> None:
    assert set(bench.TASKS) == {"segment", "detect", "superres"}
    assert bench.TASKS["detect"].out.name == "dense_fidelity_detect.jsonl"
    assert bench.TASKS["superres"].out.name == "dense_fidelity_sr.jsonl"


def test_a_tiny_detect_run_resumes_and_reports(bench: ModuleType, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("faster_coco_eval")
    out = tmp_path / "det.jsonl"
    args = ["run", "--task", "detect", "--archs", "2", "--epochs", "1", "--factor", "2",
            "-e", "train_images=8", "-e", "val_images=4", "-e", "image_size=48",
            "-e", "batch_size=4", "--out", str(out)]
    bench.main(args)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted((r["arch"], r["epochs"], r["seed"]) for r in rows) == \
        [(0, 1.0, 0), (0, 2.0, 0), (1, 1.0, 0), (1, 2.0, 0)]
    assert rows[0]["arch_str"].startswith("c0.") and rows[0]["steps"] in (2, 4)
    bench.main(args)  # everything done: nothing is added
    assert len(out.read_text().splitlines()) == 4
    capsys.readouterr()
    bench.main(["report", "--task", "detect", "--out", str(out)])
    summary = json.loads(capsys.readouterr().out)
    assert summary["archs"] == 2 and summary["budgets_epochs"] == [1.0, 2.0]
    assert summary["constant_predictor"]["ap"] >= 0


def test_segment_shards_split_the_archs(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "d.jsonl"
    args = ["run", "--archs", "3", "--epochs", "0.25", "--size", "32", "--scenes", "8",
            "--val-scenes", "4", "--layers", "2", "--filters", "2", "--aspp", "8",
            "--out", str(out)]
    bench.main([*args, "--shard", "1/2"])  # the second distinct arch only
    first = {json.loads(x)["arch"] for x in out.read_text().splitlines()}
    bench.main([*args, "--shard", "0/2"])  # the first and the third
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(first) == 1 and len(rows) == 6 and len({r["arch"] for r in rows}) == 3
    assert "bs=16 lr=0.001" in rows[0]["setting"]  # not given: the estimator's defaults


def test_a_bad_shard_is_one_line(bench: ModuleType, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        bench.main(["run", "--shard", "2/2", "--out", str(tmp_path / "d.jsonl")])
    assert e.value.code == 2 and not (tmp_path / "d.jsonl").exists()
    assert capsys.readouterr().err.startswith("archspace: error: --shard 2/2")
