"""The pure parts of benchmarks/oneshot_fidelity.py (the benchmark itself trains supernets on
CIFAR-10 for CPU minutes; docs/benchmarks.md has its numbers): top-k precision, tied pairs, the
result file's resume (a cut line is skipped, done keys are found) and the summary rows."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("oneshot_fidelity",
                                                  ROOT / "benchmarks" / "oneshot_fidelity.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_precision_top() -> None:
    bench = _script()
    truth = list(range(20))  # top 10% = ids 18, 19
    assert bench.precision_top(truth, truth) == 1.0
    assert bench.precision_top([-t for t in truth], truth) == 0.0
    half = [0.0] * 20
    half[19], half[0] = 5.0, 4.0  # predicts 19 (right) and 0 (wrong)
    assert bench.precision_top(half, truth) == pytest.approx(0.5)


def test_tied_pairs() -> None:
    bench = _script()
    assert bench.tied_pairs([1.0, 2.0, 3.0]) == 0
    assert bench.tied_pairs([1.0, 1.0, 1.0, 2.0, 2.0]) == 3 + 1


def test_resume_and_summary(tmp_path: Path) -> None:
    bench = _script()
    out = tmp_path / "r.jsonl"
    bench.append(out, {"kind": "train", "setting": "spos:x:s0", "key": "a.pt", "cpu_s": 10.0})
    truth = {i: float(i) for i in range(10)}
    for i in range(10):
        bench.append(out, {"kind": "cell", "setting": "spos:x:s0", "key": i,
                           "score": float(i) if i != 3 else 100.0, "cpu_s": 0.5})
    with out.open("a") as f:
        f.write('{"kind": "cell", "setting": "spos:x:s0", "ke')  # a line cut by a kill
    records = bench.read_records(out)
    assert len(records) == 11
    assert set(bench.done(records, "cell", "spos:x:s0")) == set(range(10))
    assert set(bench.done(records, "train", "spos:x:s0")) == {"a.pt"}
    (row,) = bench.summarize(records, truth)
    assert row["cells"] == 10 and row["supernet_cpu_s"] == 10.0
    assert row["cpu_s_per_cell_amortized"] == pytest.approx(10.0 / 10 + 0.5)
    assert row["top10_precision"] == 0.0  # cell 3 is predicted best, cell 9 is
    assert 0.5 < row["kendall"] < 1.0
    json.dumps(row)
    assert "spos:x:s0" in bench.markdown([row])


def test_scoring_settings_and_loss_ranking(tmp_path: Path) -> None:
    bench = _script()
    base = "spos:C=8,N=1,e60,n5000,b64,r16:s0"
    assert bench.score_setting(base, 4, 1000) == base  # the defaults keep the old names
    cheap = bench.score_setting(base, 2, 500)
    assert cheap == base + "|bn2,v500" and bench.supernet_setting(cheap) == base
    out = tmp_path / "r.jsonl"
    bench.append(out, {"kind": "train", "setting": base, "key": "a.pt", "cpu_s": 50.0})
    truth = {i: float(i) for i in range(10)}
    for i in range(10):  # accuracy ranks inversely, the loss rightly (lower loss, better cell)
        bench.append(out, {"kind": "cell", "setting": cheap, "key": i, "score": -float(i),
                           "loss": 10.0 - i, "cpu_s": 0.1})
    (row,) = bench.summarize(bench.read_records(out), truth)
    assert row["supernet_cpu_s"] == 50.0  # the scoring setting finds its supernet's cost
    assert row["kendall"] == pytest.approx(-1.0) and row["kendall_loss"] == pytest.approx(1.0)
    assert row["speedup_scoring_only"] == pytest.approx(bench.TRAIN_CPU_PER_CELL / 0.1)
    table = bench.markdown([row])
    assert "| 1.00 |" in table and "r16:s0\\|bn2,v500 |" in table  # escaped in its cell
