"""The ``segment`` estimator: mIoU scoring, determinism, warm starts, bad input, and the CLI
(search, resume, report with predicted masks, export) on tiny digit scenes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from _dense_files import _palette_png, make_voc
from archspace.cli import cli
from archspace.estimators import EstimatorError, get_estimator
from archspace.estimators.segment import _init_classifier, class_weights, miou_of, prior_bias
from archspace.spaces.autodeeplab import AutoDeepLabSpace

TINY = {"image_size": 32, "scenes": 8, "val_scenes": 4, "epochs": 1, "batch_size": 4,
        "device": "cpu"}
SPACE = ["--space", "autodeeplab", "-p", "layers=3", "-p", "filter_multiplier=2",
         "-p", "aspp_channels=8"]
EOPTS = [x for k, v in TINY.items() for x in ("-e", f"{k}={v}")]


def _space() -> AutoDeepLabSpace:
    return AutoDeepLabSpace(layers=3, filter_multiplier=2, aspp_channels=8)


def test_miou_matches_a_hand_count() -> None:
    target = torch.tensor([[0, 0, 1, 1, 255, 2]])
    pred = torch.tensor([[0, 1, 1, 1, 2, 0]])
    # class 0: I=1 U=3; class 1: I=2 U=3; class 2: I=0 U=2 (the ignored pixel doesn't count)
    assert miou_of(pred, target, 3) == pytest.approx(100 * (1 / 3 + 2 / 3 + 0) / 3, abs=1e-4)
    # a class absent from both is not averaged in
    assert miou_of(target.clamp(max=1), target.clamp(max=1), 5) == pytest.approx(100.0)


def test_evaluate_is_deterministic_and_reports_the_head_cost() -> None:
    space = _space()
    est = get_estimator("segment", **TINY)
    est.check_space(space)
    arch = space.sample(1)
    a, b = est.evaluate(space, arch, 0), est.evaluate(space, arch, 0)
    assert {k: v for k, v in a.items() if k != "train_seconds"} == \
        {k: v for k, v in b.items() if k != "train_seconds"}
    assert 0 <= a["miou"] <= 100 and 0 <= a["pixel_accuracy"] <= 100
    fitted, r = est.adapted(space)  # type: ignore[attr-defined]
    assert r == 32 and fitted.num_classes == 11
    assert a["macs"] == fitted.profile(arch, 32).macs
    names = [n.name for n in fitted.lower(arch, 32)]
    assert any(n.startswith("aspp") for n in names) and "logits" in names
    # the trivial baseline: background everywhere, over the classes present
    masks = est.native_dataset().y_val  # type: ignore[attr-defined]
    valid = masks != 255
    present = len(set(masks[valid].unique().tolist()))
    bg_iou = float((masks[valid] == 0).float().mean())
    assert a["miou_background"] == pytest.approx(100 * bg_iou / present, abs=1e-3)


def test_class_weights_and_prior_bias_match_a_hand_count() -> None:
    masks = torch.tensor([[0, 0, 0, 1, 255]])  # frequencies 3/4 and 1/4; class 2 absent
    assert class_weights(masks, 3, "none") is None
    bal = class_weights(masks, 3, "balanced")
    assert bal is not None and bal.tolist() == pytest.approx([2 / 3, 2.0, 1.0])
    sq = class_weights(masks, 3, "sqrt")
    assert sq is not None
    z = 0.75 ** 0.5 + 0.25 ** 0.5  # the pixel-weighted mean of 1/sqrt(f) is 1 after scaling
    assert sq.tolist() == pytest.approx([1 / 0.75 ** 0.5 / z, 2 / z, 1.0], rel=1e-5)
    # softmax(bias) is the prior: plain, then with the class weights (absent classes at 1e-4)
    assert prior_bias(masks, 3, None).softmax(0).tolist() == pytest.approx(
        [0.75, 0.25, 0.0], abs=2e-4)
    assert prior_bias(masks, 3, bal).softmax(0).tolist() == pytest.approx(
        [0.5, 0.5, 0.0], abs=2e-4)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3), torch.nn.Conv2d(3, 3, 1))
    _init_classifier(model, torch.tensor([1.0, 2.0, 3.0]))
    assert model[1].bias.tolist() == [1.0, 2.0, 3.0] and model[0].bias.tolist() != [1.0, 2.0, 3.0]


def test_weighting_and_prior_init_are_applied() -> None:
    space, arch = _space(), _space().sample(1)
    plain = {**TINY, "class_weight": "none", "prior_init": False}
    runs = {k: get_estimator("segment", **{**plain, **o}).evaluate(space, arch, 0)
            for k, o in (("plain", {}), ("prior", {"prior_init": True}),
                         ("sqrt", {"class_weight": "sqrt"}), ("default", {}))}
    # starting at the priors, the first steps' loss is far below a start at uniform scores
    assert runs["prior"]["train_loss"] < runs["plain"]["train_loss"]
    assert runs["sqrt"]["train_loss"] != runs["plain"]["train_loss"]
    est = get_estimator("segment", **TINY)
    assert est.config["class_weight"] == "sqrt" and est.config["prior_init"] is True
    # val_loss is the unweighted cross-entropy whatever the training weights
    assert all(r["val_loss"] > 0 for r in runs.values())


def test_foreground_labels_merge_the_classes() -> None:
    space, arch = _space(), _space().sample(1)
    est = get_estimator("segment", **TINY, labels="foreground")
    data = est.native_dataset()  # type: ignore[attr-defined]
    assert data.num_classes == 2 and data.class_names == ("background", "foreground")
    assert set(data.y_train.unique().tolist()) == {0, 1, 255}
    full = get_estimator("segment", **TINY).native_dataset()  # type: ignore[attr-defined]
    assert torch.equal(data.y_val == 1, (full.y_val > 0) & (full.y_val != 255))
    m = est.evaluate(space, arch, 0)
    fitted, _ = est.adapted(space)  # type: ignore[attr-defined]
    assert fitted.num_classes == 2
    bg = full.y_val[full.y_val != 255]
    assert m["miou_background"] == pytest.approx(50 * float((bg == 0).float().mean()), abs=1e-3)


def test_warm_start_continues_exactly(tmp_path: Path) -> None:
    space = _space()
    est = get_estimator("segment", **{**TINY, "horizon": 2})
    arch = space.sample(2)
    ckpt = tmp_path / "c.pt"
    est.evaluate_at(space, arch, 0, 1, checkpoint=ckpt)
    cont = est.evaluate_at(space, arch, 0, 2, warm_start=ckpt)
    straight = est.evaluate_at(space, arch, 0, 2)
    assert cont["miou"] == straight["miou"] and cont["train_loss"] == straight["train_loss"]
    assert cont["resumed_from"] == 1.0


def test_spaces_without_a_segmentation_head_are_refused() -> None:
    from archspace.spaces import get_space

    est = get_estimator("segment", **TINY)
    with pytest.raises(EstimatorError, match="no segmentation head"):
        est.check_space(get_space("nb201"))


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_search_resume_report_export(tmp_path: Path) -> None:
    study = tmp_path / "s.db"
    res = _run("search", *SPACE, "--estimator", "segment", *EOPTS, "--strategy", "random",
               "--budget", "1", "--study", str(study), "--json", "--no-progress",
               "-c", "macs<=50M")
    assert res.exit_code == 0, res.output
    best = json.loads(res.stdout)["best"]
    assert "miou" in best["metrics"] and "macs" in best["cost"]
    res = _run("resume", str(study), "--budget", "2", "--json", "--no-progress")
    assert res.exit_code == 0, res.output
    rep = _run("report", str(study), "-o", str(tmp_path / "rep"))
    assert rep.exit_code == 0, rep.output
    assert (tmp_path / "rep" / "masks.png").stat().st_size > 1000
    assert "masks.png" in (tmp_path / "rep" / "index.html").read_text()
    exp = _run("export", str(study), "-o", str(tmp_path / "exp"))
    assert exp.exit_code == 0, exp.output
    info = json.loads((tmp_path / "exp" / "arch.json").read_text())
    assert info["network"]["output_shape"] == [11, 32, 32]


def _voc(root: Path, mask_value: int, segmentation: bool) -> Path:
    make_voc(root)
    voc = root / "VOCdevkit" / "VOC2012"
    if not segmentation:
        main = voc / "ImageSets" / "Main"
        main.mkdir(parents=True)
        for split in ("train", "val"):
            (voc / "ImageSets" / "Segmentation" / f"{split}.txt").rename(main / f"{split}.txt")
    else:
        m = np.zeros((30, 40), np.uint8)
        m[:10] = mask_value
        _palette_png(voc / "SegmentationClass" / "a.png", m)
    return root


@pytest.mark.parametrize(("args", "needle"), [
    (["--space", "nb201"], "no segmentation head"),
    (["-e", "dataset=cifar10"], "must be digit-scenes"),
    (["-e", "image_size=8"], "image_size"),
])
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], needle: str) -> None:
    space = SPACE if "--space" not in args else []
    res = _run("search", *space, *args, "--estimator", "segment", *EOPTS, "--strategy",
               "random", "--budget", "1", "--study", str(tmp_path / "s.db"))
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("archspace: error:") and res.stderr.count("\n") == 1
    assert needle in res.stderr


@pytest.mark.parametrize(("segmentation", "needle"), [(False, "has no masks"),
                                                       (True, "outside the 21 classes")])
def test_bad_datasets_are_one_line(tmp_path: Path, segmentation: bool, needle: str) -> None:
    root = _voc(tmp_path / "voc", 40, segmentation)
    res = _run("search", *SPACE, "--estimator", "segment", *EOPTS, "-e", f"dataset=voc:{root}",
               "--strategy", "random", "--budget", "1", "--study", str(tmp_path / "s.db"))
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("archspace: error:") and res.stderr.count("\n") == 1
    assert needle in res.stderr
