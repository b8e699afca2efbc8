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
