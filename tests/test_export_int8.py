"""``archspace export --format onnx-int8``: a trained nb201 cell on the digits quantised by ONNX
Runtime, reloaded and run; its accuracy beside the float graph's, its weight bytes beside the
cost model's flash; and the bad input refused before any work."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from archspace.cli import cli
from archspace.study import StudyConfig, run_study

pytest.importorskip("onnxruntime", reason="onnx-int8 needs the archspace[onnx] extra")
pytest.importorskip("onnx", reason="onnx-int8 needs the archspace[onnx] extra")

#: A 1-cell, 8-channel nb201 network on 8x8 digits: two epochs of 600 images train it well
#: above chance, so int8 and float predictions can be compared.
TRAIN = StudyConfig(space="nb201", space_params={"C": 8, "N": 1}, estimator="train",
                    estimator_options={"epochs": 2, "batch_size": 32, "train_samples": 600},
                    strategy="random", strategy_options={}, seed=1, budget=1)
TABLE = StudyConfig(space="nb201", space_params={}, estimator="nasbench201",
                    estimator_options={}, strategy="random", strategy_options={}, seed=0,
                    budget=1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    """The study, its export's ``arch.json`` and the command's output (one export: the
    ONNX exporter is what costs)."""
    d = tmp_path_factory.mktemp("int8")
    run_study(d / "s.db", TRAIN)
    r = CliRunner().invoke(cli, ["export", str(d / "s.db"), "-o", str(d / "out"), "--format",
                                 "onnx,onnx-int8", "--calibration-images", "100"])
    assert r.exit_code == 0, r.output
    return d, json.loads((d / "out" / "arch.json").read_text()), r.output


def test_int8_model_reloads_and_matches_the_float_one(exported: tuple[Path, dict[str, Any], str]
                                                      ) -> None:
    import onnx
    import onnxruntime as ort
    import torch

    from archspace.datasets import load_dataset
    from archspace.estimators.checkpoint import load_checkpoint
    from archspace.export_int8 import initializer_bytes

    d, info, _ = exported
    out = d / "out"
    assert sorted(p.name for p in out.iterdir()) == ["arch.json", "model.int8.onnx", "model.onnx"]
    q = info["int8"]
    assert q["calibration"]["images"] == 100 and q["calibration"]["dataset"] == "digits"

    model = onnx.load(str(out / "model.int8.onnx"))
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # really quantised
    data = load_dataset("digits", 8, 3, "cpu", None, False, 0.2)
    x = data.x_val.numpy()
    for key, level in (("int8", ort.GraphOptimizationLevel.ORT_DISABLE_ALL),
                       ("int8_fused_kernels", ort.GraphOptimizationLevel.ORT_ENABLE_ALL)):
        opts = ort.SessionOptions()
        opts.graph_optimization_level = level
        session = ort.InferenceSession(str(out / "model.int8.onnx"), opts,
                                       providers=["CPUExecutionProvider"])
        out_k = session.run(None, {"input": x})[0]
        assert out_k.shape == (len(x), 10)
        acc = 100.0 * float((out_k.argmax(1) == data.y_val.numpy()).mean())
        assert acc == pytest.approx(q["accuracy"][key])
        if key == "int8":
            got = out_k
    assert q["accuracy"]["images"] == len(x)

    # the float network: the trained weights the study kept, as torch runs them
    from archspace.estimators.train import TrainEstimator
    from archspace.spaces import get_space

    est = TrainEstimator(**TRAIN.estimator_options)
    space = get_space("nb201", **TRAIN.space_params)
    net_space, r = est.adapted(space)
    arch = space.arch_from_json(info["arch_json"])
    net = net_space.build(arch, r)
    net.load_state_dict(load_checkpoint(d / "s.db.ckpt" / f"{info['trial']}.pt")["model"])
    with torch.no_grad():
        want = net.eval()(data.x_val).argmax(1).numpy()
    float_acc = 100.0 * float((want == data.y_val.numpy()).mean())
    assert float_acc == pytest.approx(q["accuracy"]["float"], abs=0.3)  # ORT vs torch float
    assert float_acc > 50.0  # trained, far above the 10% of chance
    agree = float((got.argmax(1) == want).mean())
    assert agree >= 0.9, f"int8 agrees with float on only {agree:.1%} of the validation images"
    assert q["accuracy"]["agreement"] >= 90.0
    assert abs(q["accuracy"]["int8"] - q["accuracy"]["float"]) <= 5.0

    # bytes: the int8 weights are the cost model's conv and linear weights, one per parameter
    nbytes = initializer_bytes(model)
    assert nbytes.as_json() == q["bytes"]
    weights = sum(int(np.prod(p.shape)) for n, p in net.named_parameters()
                  if n.endswith("weight") and p.dim() >= 2)
    assert nbytes.int8_weights == weights
    assert nbytes.weight_zero_points * 4 == nbytes.weight_scales  # one int8 and one float each
    flash = q["flash_estimate"]["tinyengine"]
    assert q["weights_vs_flash"] == pytest.approx(nbytes.weights / flash)
    # a TinyEngine-style count: every quantised layer keeps int32 bias + scale per channel
    assert nbytes.weights + 4 * nbytes.unbiased_channels == flash
    assert nbytes.unbiased_channels > 0  # the cell's reduction shortcuts: 1x1 convs, no BN
    assert f"{4 * nbytes.unbiased_channels} B TinyEngine counts anyway" in q["flash_gap"]


def test_text_output_reports_the_int8_result(exported: tuple[Path, dict[str, Any], str]) -> None:
    """With ``onnx`` too, the float graph written is the one quantised."""
    import onnx

    d, info, output = exported
    assert "files  arch.json model.onnx model.int8.onnx" in output
    assert "check  model.onnx (onnxruntime) reloaded: outputs match" in output
    assert "check  model.int8.onnx (onnxruntime) reloaded: int8 top-1" in output
    assert "x tinyengine flash" in output and "int8   weights" in output
    q = info["int8"]
    float_graph = onnx.load(str(d / "out" / "model.onnx"))
    assert "DequantizeLinear" not in {n.op_type for n in float_graph.graph.node}
    assert q["accuracy"]["float"] == pytest.approx(_val_accuracy(d / "out" / "model.onnx"))


def test_json_summary_holds_the_int8_result(exported: tuple[Path, dict[str, Any], str],
                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    import importlib

    from archspace.export import ExportResult

    cli_export = importlib.import_module("archspace.cli.export")  # the package's name is the command

    d, info, _ = exported
    seen: dict[str, Any] = {}

    def fake(*args: Any, **kwargs: Any) -> ExportResult:  # the real export ran in the fixture
        seen.update(kwargs)
        return ExportResult(d / "out", ("arch.json", "model.int8.onnx"), info["trial"],
                            "trained", info, ("a check",))

    monkeypatch.setattr(cli_export, "export_study", fake)
    r = CliRunner().invoke(cli, ["export", str(d / "s.db"), "-o", str(tmp_path / "o"),
                                 "-f", "onnx-int8", "--calibration-images", "7", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["int8"] == info["int8"] and seen["calibration_images"] == 7


def _val_accuracy(path: Path) -> float:
    import onnxruntime as ort

    from archspace.datasets import load_dataset

    data = load_dataset("digits", 8, 3, "cpu", None, False, 0.2)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": data.x_val.numpy()})[0]
    return 100.0 * float((got.argmax(1) == data.y_val.numpy()).mean())


def _error(args: list[str]) -> str:
    r = CliRunner().invoke(cli, ["export", *args])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.output
    return lines[0]


def test_bad_input_is_one_line(exported: tuple[Path, dict[str, Any], str], tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    d, _, _ = exported
    out = str(tmp_path / "o")
    assert "allowed: json, pt, onnx, onnx-int8" in _error([str(d / "s.db"), "-f", "int8",
                                                           "-o", out])
    assert "--calibration-images" in _error([str(d / "s.db"), "-f", "onnx-int8",
                                             "--calibration-images", "0", "-o", out])
    table = tmp_path / "table.db"
    run_study(table, TABLE)
    line = _error([str(table), "-f", "onnx-int8", "-o", out])
    assert line.startswith("archspace: error: format onnx-int8 calibrates on training images")
    assert "estimator nasbench201" in line and "allowed: a study whose estimator reads" in line
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert _error([str(d / "s.db"), "-f", "onnx-int8", "-o", out]).endswith(
        "format onnx-int8 needs onnxruntime: pip install \"archspace[onnx]\"")
    assert not (tmp_path / "o").exists()
