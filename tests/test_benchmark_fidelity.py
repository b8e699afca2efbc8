"""Smoke test of benchmarks/estimator_fidelity.py (the benchmark itself runs for tens of CPU
minutes on CIFAR-10; docs/benchmarks.md has its numbers): a 2-class ImageFolder of tiny images,
4 cells, every proxy, then the report's table, files and plot."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from _dataset_files import tree, write_tree

ROOT = Path(__file__).resolve().parents[1]
PROXIES = {"synflow", "naswot", "snip", "grad_norm", "fisher", "jacov", "params", "macs"}


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("estimator_fidelity",
                                                  ROOT / "benchmarks" / "estimator_fidelity.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_fidelity_benchmark_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = _script()
    data = write_tree(tmp_path / "tiny", tree({"train": {"a": 4, "b": 4},
                                                "test": {"a": 2, "b": 2}}, side=32))
    out = tmp_path / "fidelity.jsonl"
    common = ["--data", str(data), "--out", str(out), "--cells", "4", "--zc-param", "C=4",
              "--zc-param", "N=1"]
    bench.main(["zero-cost", *common, "--batch-size", "4"])
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 4 and len({r["id"] for r in records}) == 4
    assert all(set(r["values"]) == PROXIES and set(r["cpu"]) == PROXIES for r in records)
    bench.main(["zero-cost", *common, "--batch-size", "4"])  # resumes: nothing left to score
    assert len(out.read_text().splitlines()) == 4
    for shard in ("1/2", "0/2"):  # two processes' shares of the cells, one file
        bench.main(["train", "--data", str(data), "--out", str(out), "--cells", "2",
                    "--sample-size", "4", "--train", "epochs=1", "--train", "batch_size=4",
                    "--train", "resolution=16", "--param", "C=4", "--param", "N=1",
                    "--shard", shard])
    trained = [json.loads(line) for line in out.read_text().splitlines()][4:]
    assert [r["id"] for r in trained] == bench.sample_ids(4, 0)[1::-1]
    assert trained[0]["setting"] == "train:C=4,N=1,epochs=1,batch_size=4,resolution=16:s0"
    assert all(set(r["values"]) == {"train", "val_loss", "sotl_e", "sotl"} for r in trained)
    assert all(r["values"]["sotl_e"] > 0 and r["values"]["sotl"] > 0 for r in trained)
    capsys.readouterr()
    bench.main(["report", "--out", str(out), "--plot", str(tmp_path / "frontier.png")])
    table = capsys.readouterr().out
    assert "| synflow | 4 |" in table and "| valid_12ep (all 15,625 cells) | 15625 | 0.77" in table
    rows = json.loads(out.with_suffix(".json").read_text())
    assert {r["setting"] for r in rows} >= PROXIES | {"valid_12ep", "synflow+naswot"}
    assert "train:C=4,N=1,epochs=1,batch_size=4,resolution=16:s0 sotl_e" in table
    assert out.with_suffix(".csv").exists() and (tmp_path / "frontier.png").stat().st_size > 0


def test_precision_at_top() -> None:
    import numpy as np

    bench = _script()
    truth = np.arange(20.0)
    assert bench.precision_top(truth, truth) == 1.0
    assert bench.precision_top(-truth, truth) == 0.0


def test_report_compares_training_with_the_proxies_on_its_own_cells(tmp_path: Path) -> None:
    import numpy as np
    from scipy.stats import spearmanr

    from archspace.tabular import load_nb201

    bench = _script()
    ids = [3, 50, 700, 9000, 12000, 15000, 200]
    out = tmp_path / "f.jsonl"
    rng = np.random.default_rng(0)
    names = ("synflow", "naswot", "jacov", "params")
    for i in ids:  # synthetic proxy values on 7 cells, training on the first 6
        bench.append(out, {"setting": "zero-cost:b4:s0", "id": i, "arch": "",
                           "values": {n: float(rng.random()) for n in names},
                           "cpu": dict.fromkeys(names, 0.1), "setup_cpu": 0.05})
    metrics = ("train", "val_loss", "sotl_e", "sotl")
    for i in ids[:6]:
        bench.append(out, {"setting": "train:x:s0", "id": i, "arch": "",
                           "values": {m: float(rng.random()) for m in metrics},
                           "cpu": dict.fromkeys(metrics, 50.0)})
    bench.main(["report", "--out", str(out)])
    rows = {r["setting"]: r for r in json.loads(out.with_suffix(".json").read_text())}
    same = rows["naswot (same 6 cells)"]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    naswot = {r["id"]: r["values"]["naswot"] for r in records if r["setting"].startswith("zero")}
    truth = load_nb201().metric("cifar10_test_200ep")
    cells = sorted(ids[:6])
    expected = spearmanr([naswot[i] for i in cells], truth[cells]).statistic
    assert same["cells"] == 6 and abs(same["cifar10_test_200ep:spearman"] - expected) < 1e-9
    assert same["published_spearman"] is None and rows["naswot"]["cells"] == 7
    assert {"train:x:s0 + jacov", "synflow+jacov (same 6 cells)", "naswot+jacov (same 6 cells)",
            "valid_12ep (same 6 cells)"} <= set(rows)
    # one training run, one row per metric (losses rank lowest first) and per combination
    for m in ("val_loss", "sotl_e", "sotl"):
        assert {f"train:x:s0 {m}", f"train:x:s0 {m} + naswot",
                f"train:x:s0 {m} + naswot+jacov"} <= set(rows)
    sotl_e = {r["id"]: r["values"]["sotl_e"] for r in records if r["setting"] == "train:x:s0"}
    expected = spearmanr([-sotl_e[i] for i in cells], truth[cells]).statistic
    assert abs(rows["train:x:s0 sotl_e"]["cifar10_test_200ep:spearman"] - expected) < 1e-9
    assert rows["train:x:s0 sotl_e + naswot+jacov"]["cpu_s_per_cell"] == pytest.approx(
        50.0 + 0.1 + 0.1 - 0.05)
    assert sum(r.startswith("naswot (same") for r in rows) == 1  # once per set of cells
