"""The ``detect`` estimator: the nasfpn fcos head in the IR, training and COCO AP end to end
through the CLI, resumption, and bad input (one line, exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from archspace import get_space
from archspace.cli import cli
from archspace.datasets import DatasetError
from archspace.datasets.dense import DenseDataset
from archspace.estimators import EstimatorError, get_estimator
from archspace.spaces.nasfpn import detection_levels

pytest.importorskip("faster_coco_eval", reason="the detect estimator scores with faster-coco-eval")

TINY = ["-p", "cells=5", "-p", "channels=8", "-p", "backbone_widths=4,4,4,4,4,4,4"]
FAST = ["-e", "train_images=8", "-e", "val_images=4", "-e", "image_size=48", "-e", "epochs=1",
        "-e", "batch_size=4", "-e", "device=cpu"]
FAST_OPTS = {"train_images": 8, "val_images": 4, "image_size": 48, "epochs": 1, "batch_size": 4,
             "device": "cpu"}


def _run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_fcos_head_is_in_the_ir_and_counted() -> None:
    cls = get_space("nasfpn", num_classes=10)
    det = get_space("nasfpn", num_classes=10, head="fcos")
    arch = det.named("nasfpn")
    out = det.lower(arch, 128).output
    assert out.shape == (sum(15 * s * s for _, _, s in detection_levels(128)),)
    heads = [n for n in det.lower(arch, 128) if n.name.startswith("head.p")]
    assert {n.name.split(".")[1] for n in heads} == {"p3", "p4", "p5", "p6", "p7"}
    assert det.profile(arch, 128).macs > cls.profile(arch, 128).macs
    assert det.profile(arch, 128).params > get_space(
        "nasfpn", num_classes=10, head="fcos", head_convs=0).profile(arch, 128).params
    from archspace.errors import ParamError

    with pytest.raises(ParamError, match="no head 'mask'; allowed: classify, fcos"):
        get_space("nasfpn", head="mask")


def test_cli_search_resume_and_report(tmp_path: Path) -> None:
    study = tmp_path / "d.db"
    res = _run("search", "--space", "nasfpn", *TINY, "--estimator", "detect", *FAST,
               "--strategy", "random", "--budget", "1", "--study", str(study), "--json",
               "--no-progress", "-c", "macs<=5M")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    s = json.loads(res.stdout)  # type: ignore[attr-defined]
    m = s["best"]["metrics"]
    assert s["metric"] == "ap" and {"ap", "ap50", "ap75", "macs"} <= set(m)
    assert 0 <= m["ap75"] <= m["ap50"] <= 100 and m["steps"] == 2
    # the constraint saw the head: the trained network's cost, fcos head included
    space = get_space("nasfpn", cells=5, channels=8, backbone_widths=(4,) * 7, num_classes=10,
                      head="fcos")
    arch = space.parse_arch(s["best"]["arch"])
    assert m["macs"] == space.profile(arch, 128).macs
    res = _run("resume", str(study), "--budget", "2", "--json", "--no-progress")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert json.loads(res.stdout)["trials"] == 2  # type: ignore[attr-defined]
    res = _run("report", str(study), "-o", str(tmp_path / "rep"))
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "Predicted boxes beside ground truth" in page
    assert (tmp_path / "rep" / "detections.png").stat().st_size > 1000
    res = _run("export", str(study), "-o", str(tmp_path / "exp"), "--format", "pt")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]


def test_estimator_is_seeded_and_continues_from_a_checkpoint(tmp_path: Path) -> None:
    space = get_space("nasfpn", cells=5, channels=8, backbone_widths=(4,) * 7)
    arch = space.sample(1)
    est = get_estimator("detect", **{**FAST_OPTS, "epochs": 2, "horizon": 2})
    straight = est.evaluate(space, arch, 3)
    again = est.evaluate(space, arch, 3)
    assert {k: v for k, v in straight.items() if k != "train_seconds"} == \
        {k: v for k, v in again.items() if k != "train_seconds"}
    ckpt = tmp_path / "c.pt"
    est.evaluate_at(space, arch, 3, 1.0, checkpoint=ckpt)
    continued = est.evaluate_at(space, arch, 3, 2.0, warm_start=ckpt)
    assert continued["ap"] == straight["ap"] and continued["train_loss"] == straight["train_loss"]


@pytest.mark.parametrize(("args", "message"), [
    (["--space", "nb201", "--estimator", "detect"], "space nb201 has no detection head"),
    (["--space", "nasfpn", *TINY, "--estimator", "detect", "-e", "dataset=digits"],
     "must be digit-scenes, coco:PATH, voc:PATH or cityscapes:PATH"),
])
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    res = _run("search", *args, "--strategy", "random", "--budget", "1", "--study",
               str(tmp_path / "x.db"), "--no-progress")
    out = res.output  # type: ignore[attr-defined]
    assert res.exit_code == 2, out  # type: ignore[attr-defined]
    assert out.startswith("archspace: error:") and message in out and out.count("\n") == 1
    assert "Traceback" not in out


def _scenes(boxes: list[list[float]] | None) -> DenseDataset:
    images = np.zeros((1, 32, 32, 3), np.uint8)
    if boxes is None:
        return DenseDataset(images, 3, ("bg", "a", "b"))
    return DenseDataset(images, 3, ("bg", "a", "b"), None, (np.array(boxes, np.float32),),
                        (np.ones(len(boxes), np.int64),))


@pytest.mark.parametrize(("boxes", "message"), [
    (None, "has no boxes"),
    ([[20.0, 20.0, 20.0, 5.0]], "box outside its 32x32 image"),
])
def test_data_without_boxes_or_with_a_box_outside(boxes: list[list[float]] | None,
                                                  message: str) -> None:
    from archspace.estimators.detect.data import box_data

    with pytest.raises(DatasetError, match=message):
        box_data(_scenes(boxes), _scenes([[1.0, 1.0, 4.0, 4.0]]), "t")


def test_cli_refuses_a_box_outside_the_image(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import archspace.datasets.digit_scenes as scenes

    monkeypatch.setattr(scenes, "make_digit_scenes",
                        lambda *a, **k: _scenes([[20.0, 20.0, 20.0, 5.0]]))
    res = _run("search", "--space", "nasfpn", *TINY, "--estimator", "detect", "-e",
               "image_size=32", "-e", "train_images=3", "--strategy", "random", "--budget", "1",
               "--study", str(tmp_path / "x.db"), "--no-progress")
    out = res.output  # type: ignore[attr-defined]
    assert res.exit_code == 2 and out.count("\n") == 1, out  # type: ignore[attr-defined]
    assert out.startswith("archspace: error:") and "box outside" in out


def _coco(root: Path, box: list[float] | None) -> Path:
    """A COCO folder: 4 training and 2 validation 40x40 images with one box each (or none)."""
    from PIL import Image

    for split, n in (("train", 4), ("val", 2)):
        (root / f"{split}2017").mkdir(parents=True)
        images, anns = [], []
        for i in range(n):
            pixels = np.zeros((40, 40, 3), np.uint8)
            pixels[8 + i:24 + i, 10:30] = 255
            Image.fromarray(pixels).save(root / f"{split}2017" / f"{i}.png")
            images.append({"id": i + 1, "file_name": f"{i}.png", "width": 40, "height": 40})
            if box is not None:
                anns.append({"id": i + 1, "image_id": i + 1, "category_id": 7, "iscrowd": 0,
                             "bbox": [box[0], box[1] + i, box[2], box[3]], "area": box[2] * box[3]})
        (root / "annotations").mkdir(exist_ok=True)
        (root / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(
            {"images": images, "annotations": anns, "categories": [{"id": 7, "name": "square"}]}))
    return root


@pytest.mark.parametrize(("box", "code", "message"), [
    ([10.0, 8.0, 20.0, 16.0], 0, ""),
    ([30.0, 8.0, 20.0, 16.0], 2, "outside the 40x40 image"),
    (None, 2, "has no boxes in any image"),
])
def test_cli_coco_folder(tmp_path: Path, box: list[float] | None, code: int,
                         message: str) -> None:
    root = _coco(tmp_path / "coco", box)
    res = _run("search", "--space", "nasfpn", *TINY, "--estimator", "detect", "-e",
               f"dataset=coco:{root}", "-e", "image_size=40", "-e", "epochs=1", "-e",
               "batch_size=2", "-e", "device=cpu", "--strategy", "random", "--budget", "1",
               "--study", str(tmp_path / "c.db"), "--no-progress", "--json")
    out = res.output  # type: ignore[attr-defined]
    assert res.exit_code == code, out  # type: ignore[attr-defined]
    if code == 0:
        assert json.loads(res.stdout)["best"]["metrics"]["train_samples"] == 4  # type: ignore[attr-defined]
    else:
        assert out.startswith("archspace: error:") and message in out and out.count("\n") == 1


@pytest.mark.parametrize(("change", "message"), [
    ("no_annotations", "dataset voc/train has no boxes"),
    ("box_outside", "box (11, 6, 90, 15) is outside the 40x30 image"),
])
def test_cli_voc_without_boxes_or_with_a_box_outside(tmp_path: Path, change: str,
                                                     message: str) -> None:
    import shutil

    from _dense_files import make_voc

    voc = make_voc(tmp_path / "voc") / "VOCdevkit" / "VOC2012"
    for xml in (voc / "Annotations").glob("*.xml"):
        if change == "no_annotations":
            xml.unlink()
        else:
            xml.write_text(xml.read_text().replace("<xmax>30</xmax>", "<xmax>90</xmax>"))
    if change == "no_annotations":
        shutil.rmtree(voc / "Annotations")
    res = _run("search", "--space", "nasfpn", *TINY, "--estimator", "detect", "-e",
               f"dataset=voc:{tmp_path / 'voc'}", "-e", "image_size=40", "--strategy", "random",
               "--budget", "1", "--study", str(tmp_path / "v.db"), "--no-progress")
    out = res.output  # type: ignore[attr-defined]
    assert res.exit_code == 2 and out.count("\n") == 1, out  # type: ignore[attr-defined]
    assert out.startswith("archspace: error:") and message in out


def test_estimator_refuses_a_space_without_head() -> None:
    with pytest.raises(EstimatorError, match="no detection head"):
        get_estimator("detect").check_space(get_space("mobilenetv2"))
