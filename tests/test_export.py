"""``archspace export``: arch.json, the PyTorch weights and loader, ONNX, each checked by reloading;
trained weights for a ``train`` study (tiny nb201 on digits), initialised ones otherwise."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import archspace
import archspace.export as ex
from archspace.cli import cli
from archspace.datasets import load_dataset
from archspace.estimators.loop import evaluate_model
from archspace.export import ExportCheckError, ExportError, export_study, load_model, parse_formats
from archspace.spaces import get_space
from archspace.study import Study, StudyConfig, StudyStorage, run_study
from test_study_support import UNCONSTRAINED

#: Random search over nb201 scored by the table, not told its MACs bound (UNCONSTRAINED): some
#: trials are infeasible.
NB = StudyConfig(space="nb201", space_params={}, estimator="nasbench201", estimator_options={},
                 strategy="random", strategy_options={}, seed=5, budget=10,
                 constraints=("macs<=50M",))
#: The smallest trainable setting: a 1-cell, 4-channel nb201 network on 8x8 digits, one epoch.
TRAIN = StudyConfig(space="nb201", space_params={"C": 4, "N": 1}, estimator="train",
                    estimator_options={"epochs": 1, "batch_size": 64}, strategy="random",
                    strategy_options={}, seed=3, budget=3)


@pytest.fixture(scope="module")
def nb_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("nb") / "nb.db"
    run_study(path, NB, UNCONSTRAINED)
    return path


@pytest.fixture(scope="module")
def train_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("train") / "train.db"
    run_study(path, TRAIN)
    return path


def _trials(path: Path) -> dict[str, list[int]]:
    with StudyStorage.open(path) as s:
        out: dict[str, list[int]] = {}
        for t in s.trials():
            out.setdefault(t.status, []).append(t.number)
        best = s.best_trial()
    assert best is not None
    out["best"] = [best.number]
    return out


def test_parse_formats() -> None:
    assert parse_formats(None) == parse_formats([]) == ("json", "pt")
    assert parse_formats(["onnx"]) == ("json", "onnx")
    assert parse_formats(["ONNX, pt", "json"]) == ("json", "pt", "onnx")
    assert parse_formats(["onnx-int8,onnx"]) == ("json", "onnx", "onnx-int8")
    with pytest.raises(ExportError, match="unknown export format 'tflite'; allowed: json, pt, "
                                          "onnx, onnx-int8"):
        parse_formats(["pt,tflite"])


def test_nb201_exports_json_pt_onnx_that_reload(nb_study: Path, tmp_path: Path) -> None:
    import onnx
    import onnxruntime as ort

    trials = _trials(nb_study)
    res = export_study(nb_study, tmp_path / "out", ["json,pt", "onnx"])
    assert res.files == ("arch.json", "model.pt", "load.py", "model.onnx")
    assert res.trial == trials["best"][0] and res.weights == "initialised" and not res.warnings
    assert len(res.checks) == 2
    info = json.loads((tmp_path / "out" / "arch.json").read_text())
    with StudyStorage.open(nb_study) as s:
        best = s.best_trial()
    assert best is not None
    assert info["archspace_version"] == archspace.__version__
    assert (info["space"], info["trial"], info["best"], info["arch"]) == \
        ("nb201", best.number, True, best.arch)
    assert info["metrics"] == best.metrics and info["cost"] == best.cost
    assert info["estimator"] == "nasbench201" and info["estimator_options"] == {
        "metric": "cifar10_valid_12ep"}
    net = info["network"]
    assert net["input_shape"] == [3, 32, 32] and net["output_shape"] == [10]
    assert net["weights"] == "initialised"
    assert "keeps no weights" in net["weights_note"]
    space = get_space("nb201")
    arch = space.arch_from_json(info["arch_json"])
    assert space.format_arch(arch) == best.arch

    model = load_model(tmp_path / "out")
    torch.manual_seed(NB.seed)  # the network as the study's seed initialises it
    fresh = space.build(arch).eval()
    for (k, a), (k2, b) in zip(model.state_dict().items(), fresh.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)
    x = torch.randn(3, 3, 32, 32)  # another batch size than the export's: the batch is dynamic
    with torch.no_grad():
        want = model(x)
    assert want.shape == (3, 10) and float(want.std()) > 0
    path = str(tmp_path / "out" / "model.onnx")
    onnx.checker.check_model(path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-3, atol=1e-4)

    loader = subprocess.run([sys.executable, "load.py"], cwd=tmp_path / "out", capture_output=True,
                            text=True, check=True)
    assert "input (N, 3, 32, 32) -> output (1, 10), weights initialised" in loader.stdout


def test_train_study_exports_the_trained_network(train_study: Path, tmp_path: Path) -> None:
    with StudyStorage.open(train_study) as s:
        best = s.best_trial()
    assert best is not None and best.metrics is not None
    res = export_study(train_study, tmp_path / "out")
    assert res.files == ("arch.json", "model.pt", "load.py") and res.weights == "trained"
    assert not res.warnings
    net = json.loads((tmp_path / "out" / "arch.json").read_text())["network"]
    assert net["metrics"]["val_accuracy"] == best.metrics["val_accuracy"]
    assert net["resolution"] == 8 and net["input_shape"] == [3, 8, 8]
    assert "'digits'" in net["input"]

    model = load_model(tmp_path / "out")
    data = load_dataset("digits", 8, 3, "cpu", None, False, 0.2)
    acc, _ = evaluate_model(model, data.x_val, data.y_val)
    assert acc == best.metrics["val_accuracy"]
    assert acc > 20.0  # trained: well above the 10% of chance
    # the recorded preprocessing turns raw pixels into what the network was trained on
    pre = net["preprocessing"]
    assert len(pre["mean"]) == len(pre["std"]) == 3
    import torch
    from sklearn.datasets import load_digits
    raw = torch.tensor(load_digits().images, dtype=torch.float32)[:, None] / 16.0
    mean = torch.tensor(pre["mean"][:1]).view(1, 1, 1, 1)
    std = torch.tensor(pre["std"][:1]).view(1, 1, 1, 1)
    mine = ((raw - mean) / std).expand(-1, 3, -1, -1)
    assert any(torch.allclose(mine[i], data.x_val[0], atol=1e-5) for i in range(len(mine)))

    init = export_study(train_study, tmp_path / "init", train=False)
    assert init.weights == "initialised"
    acc0, _ = evaluate_model(load_model(tmp_path / "init"), data.x_val, data.y_val)
    assert acc0 != acc


def test_retraining_that_does_not_reproduce_warns(train_study: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    with StudyStorage.open(train_study) as s:
        best = s.best_trial()
        s._conn.execute(f"VACUUM INTO '{copy}'")
    assert best is not None and best.metrics is not None
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE trials SET metrics=json_set(metrics, '$.val_accuracy', 1.5) "
                     "WHERE number=?", (best.number,))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = export_study(copy, tmp_path / "json", ["json"], trial=best.number)
    assert res.weights is None  # arch.json alone: nothing trained, nothing to warn about
    with pytest.warns(RuntimeWarning, match=r"re-trained val_accuracy \S+ differs from the recorded 1.5"):
        res = export_study(copy, tmp_path / "out", ["pt"], trial=best.number)
    assert res.weights == "trained" and len(res.warnings) == 1


def test_a_failed_reload_check_is_an_error(nb_study: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    real = ex.load_model

    def corrupted(directory: Path, space: object = None, trust: object = False) -> torch.nn.Module:
        model = real(directory)
        with torch.no_grad():
            next(model.parameters()).add_(1.0)
        return model

    monkeypatch.setattr(ex, "load_model", corrupted)
    with pytest.raises(ExportCheckError, match=r"model\.pt does not reproduce the network"):
        export_study(nb_study, tmp_path / "a")
    r = CliRunner().invoke(cli, ["export", str(nb_study), "-o", str(tmp_path / "b")])
    assert r.exit_code == 1
    assert r.output.strip().splitlines()[-1].startswith(
        "archspace: error: export check failed: model.pt does not reproduce the network")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no partial export, no temporary folder


def test_cli_export(nb_study: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    r = CliRunner().invoke(cli, ["export", str(nb_study), "--best", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert f"exported trial {_trials(nb_study)['best'][0]} of {nb_study}" in r.output
    assert "files  arch.json model.pt load.py" in r.output and "check  model.pt reloaded" in r.output
    trial = _trials(nb_study)["complete"][0]
    r = CliRunner().invoke(cli, ["export", str(nb_study), "--trial", str(trial), "-o", str(out),
                                 "--format", "json", "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["trial"] == trial and summary["files"] == ["arch.json"]
    assert json.loads((out / "arch.json").read_text())["trial"] == trial
    assert sorted(f.name for f in out.iterdir()) == ["arch.json"]  # no stale weights left


def _error(args: list[str]) -> str:
    r = CliRunner().invoke(cli, ["export", *args])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.output
    return lines[0]


def test_cli_errors(nb_study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = str(tmp_path / "o")
    assert "study file nope.db does not exist" in _error(["nope.db", "-o", out])
    assert "has no trial 99; trials: 0 to 9" in _error([str(nb_study), "--trial", "99", "-o", out])
    infeasible = _trials(nb_study)["infeasible"][0]
    assert f"trial {infeasible} of {nb_study} is infeasible (violates macs<=50M)" in _error(
        [str(nb_study), "--trial", str(infeasible), "-o", out])
    assert "unknown export format 'tf'" in _error([str(nb_study), "-f", "tf", "-o", out])
    assert "give --best or --trial N, not both" in _error(
        [str(nb_study), "--best", "--trial", "1", "-o", out])
    assert "Missing option '-o'" in _error([str(nb_study)])
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert _error([str(nb_study), "-f", "onnx", "-o", out]).endswith(
        "format onnx needs onnxruntime: pip install \"archspace[onnx]\"")
    assert not (tmp_path / "o").exists()

    empty = tmp_path / "empty.db"
    Study.create(empty, StudyConfig(space="nb201", space_params={}, estimator="nasbench201",
                                    estimator_options={}, strategy="random", strategy_options={},
                                    seed=0, budget=2)).close()  # no trial run yet
    assert "has no complete trial to export" in _error([str(empty), "-o", out])


def test_a_study_trained_in_one_thread_workers_exports_reproducibly(tmp_path: Path) -> None:
    """CPU training depends on the torch thread count: a trial trained by a 1-thread process
    worker is re-trained on 1 thread, whatever this process uses."""
    import torch

    from archspace.study.executor import make_executor

    path = tmp_path / "proc.db"
    run_study(path, replace(TRAIN, budget=2), executor=make_executor("process", workers=1,
                                                                     cpus_per_trial=1))
    with StudyStorage.open(path) as s:
        best = s.best_trial()
    assert best is not None and best.metrics is not None and best.metrics["threads"] == 1
    was = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        res = export_study(path, tmp_path / "out")
    finally:
        torch.set_num_threads(was)
    assert res.weights == "trained" and not res.warnings
    again = json.loads((tmp_path / "out" / "arch.json").read_text())["network"]["metrics"]
    assert (again["val_loss"], again["train_loss"]) == (best.metrics["val_loss"],
                                                        best.metrics["train_loss"])
