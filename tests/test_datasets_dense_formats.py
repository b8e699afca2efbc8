"""The real dense-data loaders on tiny files written in each format (VOC, Cityscapes, COCO)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _dense_files import _jpg, _voc_xml, make_voc
from archspace.datasets.cityscapes import ID_TO_TRAIN_ID, load_cityscapes
from archspace.datasets.core import DatasetError
from archspace.datasets.dense_sources import check_dense_name, load_dense
from archspace.datasets.voc import VOC_CLASSES, load_voc


def test_voc_masks_and_boxes(tmp_path: Path) -> None:
    make_voc(tmp_path)
    d = load_voc(tmp_path, "train", 20)
    assert d.images.shape == (2, 20, 20, 3) and d.num_classes == len(VOC_CLASSES) == 21
    assert set(np.unique(d.masks).tolist()) == {0, 15, 255}  # type: ignore[arg-type]
    d.check_masks()
    d.check_boxes()
    # xmin 11 (1-based) -> x 10 of 40 px -> 5 of 20; width 20 -> 10; y 5 of 30 -> 10/3
    assert np.allclose(d.boxes[0][0], [5, 5 * 20 / 30 * 1.0, 10, 10 * 20 / 30], atol=1e-4)  # type: ignore
    assert d.box_labels[0].tolist() == [15]  # type: ignore[index]
    val = load_dense(f"voc:{tmp_path}", "val", 20)
    assert len(val) == 1


def test_voc_refuses_entities_and_bad_boxes(tmp_path: Path) -> None:
    make_voc(tmp_path, xml_extra='<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]>')
    with pytest.raises(DatasetError, match=r"DOCTYPE|entit|Entit|refused|forbidden"):
        load_voc(tmp_path, "train", 20)
    bad = tmp_path / "bad"
    make_voc(bad)
    xml = bad / "VOCdevkit" / "VOC2012" / "Annotations" / "a.xml"
    xml.write_text(_voc_xml(40, 30, [("person", 11, 6, 50, 15)]))
    with pytest.raises(DatasetError, match="outside"):
        load_voc(bad, "train", 20)
    with pytest.raises(DatasetError, match="JPEGImages"):
        load_voc(tmp_path / "nowhere", "train", 20)


def test_cityscapes_maps_label_ids_to_train_ids(tmp_path: Path) -> None:
    for split in ("train", "val"):
        for k in range(2):
            stem = f"aachen_{k:06d}_000019"
            _jpg(tmp_path / "leftImg8bit" / split / "aachen" / f"{stem}_leftImg8bit.png", 32, 16, k)
            ids = np.zeros((16, 32), np.uint8)  # 0: unlabeled -> ignore
            ids[:8] = 7  # road -> 0
            ids[8:, :16] = 26  # car -> 13
            ids[8:, 16:] = 29  # caravan: not a train class -> ignore
            p = tmp_path / "gtFine" / split / "aachen" / f"{stem}_gtFine_labelIds.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(ids, mode="L").save(p)
    d = load_cityscapes(tmp_path, "train", 16)
    assert d.num_classes == 19 and len(d) == 2 and d.masks is not None
    assert set(np.unique(d.masks).tolist()) == {0, ID_TO_TRAIN_ID[26], 255}
    assert (d.masks[:, :8] == 0).all()
    d.check_masks()
    with pytest.raises(DatasetError, match="leftImg8bit"):
        load_cityscapes(tmp_path / "x", "train", 16)


def test_coco_boxes_and_masks(tmp_path: Path) -> None:
    pytest.importorskip("faster_coco_eval")
    for split in ("train", "val"):
        _jpg(tmp_path / f"{split}2017" / "1.jpg", 40, 20, 0)
        ann = {"images": [{"id": 1, "file_name": "1.jpg", "width": 40, "height": 20}],
               "categories": [{"id": 3, "name": "car"}, {"id": 18, "name": "dog"}],
               "annotations": [
                   {"id": 1, "image_id": 1, "category_id": 18, "bbox": [4, 2, 10, 8], "area": 80,
                    "iscrowd": 0, "segmentation": [[4, 2, 14, 2, 14, 10, 4, 10]]},
                   {"id": 2, "image_id": 1, "category_id": 3, "bbox": [20, 10, 10, 6],
                    "area": 60, "iscrowd": 0, "segmentation": [[20, 10, 30, 10, 30, 16, 20, 16]]}]}
        (tmp_path / "annotations").mkdir(exist_ok=True)
        (tmp_path / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(ann))
    d = load_dense(f"coco:{tmp_path}", "train", 20)
    assert d.class_names == ("background", "car", "dog")
    assert d.box_labels[0].tolist() == [2, 1]  # type: ignore[index]
    assert np.allclose(d.boxes[0][0], [2, 2, 5, 8])  # type: ignore[index]
    assert d.masks is not None and set(np.unique(d.masks).tolist()) == {0, 1, 2}
    d.check_boxes()
    d.check_masks()


def test_unknown_dense_dataset_names() -> None:
    with pytest.raises(DatasetError, match="allowed"):
        check_dense_name("cifar10")
    with pytest.raises(DatasetError, match="needs a folder"):
        check_dense_name("voc:")


def _cityscapes(root: Path, instance: dict[str, np.ndarray | None] | None = None) -> Path:
    """Two 32x16 images per split in the Cityscapes layout, with labelIds (8-bit) and
    instanceIds (16-bit: label_id * 1000 + k on each object's pixels, else the label id);
    ``instance`` replaces (an array) or leaves out (None) the instanceIds of a stem."""
    for split in ("train", "val"):
        for k in range(2):
            stem = f"aachen_{k:06d}_000019"
            _jpg(root / "leftImg8bit" / split / "aachen" / f"{stem}_leftImg8bit.png", 32, 16, k)
            ids = np.full((16, 32), 7, np.uint16)  # road
            ids[2:6, 3:10] = 26001  # a car, instance 1
            ids[8:14, 20:25] = 24000  # a person, instance 0
            ids[0:2, 28:32] = 29000  # a caravan: no train id, no box
            ids[14:16, 0:8] = 26  # a crowd of cars: the plain label id, no box
            labels = np.where(ids >= 1000, ids // 1000, ids).astype(np.uint8)
            gt = root / "gtFine" / split / "aachen"
            gt.mkdir(parents=True, exist_ok=True)
            Image.fromarray(labels, mode="L").save(gt / f"{stem}_gtFine_labelIds.png")
            inst = (instance or {}).get(stem, ids)
            if inst is not None:
                Image.fromarray(inst).save(gt / f"{stem}_gtFine_instanceIds.png")
    return root


def test_cityscapes_boxes_from_instance_ids(tmp_path: Path) -> None:
    from archspace.datasets.cityscapes import instance_boxes

    png = _cityscapes(tmp_path) / "gtFine" / "train" / "aachen" / \
        "aachen_000000_000019_gtFine_instanceIds.png"
    assert Image.open(png).mode.startswith("I")  # written 16-bit, as the real files are
    boxes, labels = instance_boxes(png, (32, 16))
    assert labels.tolist() == [ID_TO_TRAIN_ID[24], ID_TO_TRAIN_ID[26]]  # person, car
    assert boxes.tolist() == [[20, 8, 5, 6], [3, 2, 7, 4]]
    d = load_dense(f"cityscapes:{tmp_path}", "val", 16)  # resized to 16x16: x halved
    assert d.masks is not None and d.boxes is not None and d.box_labels is not None
    assert np.allclose(d.boxes[1], [[10, 8, 2.5, 6], [1.5, 2, 3.5, 4]])
    assert d.box_labels[1].tolist() == [11, 13]
    d.check_boxes()
    d.check_masks()


def test_cityscapes_without_instance_ids_has_masks_only(tmp_path: Path) -> None:
    stems = {f"aachen_{k:06d}_000019": None for k in range(2)}
    d = load_cityscapes(_cityscapes(tmp_path, stems), "train", 16)  # type: ignore[arg-type]
    assert d.masks is not None and d.boxes is None
    with pytest.raises(DatasetError, match="instanceIds"):
        d.check_boxes()


@pytest.mark.parametrize(("instance", "message"), [
    (None, "instanceIds.png is missing"),
    (np.full((16, 32), 7001, np.uint16), "label id 7, which has no instances"),
    (np.zeros((16, 32, 3), np.uint8), "is mode RGB"),
    (np.zeros((8, 32), np.uint16), "is 32x8, its image 32x16"),
])
def test_cityscapes_bad_instance_ids(tmp_path: Path, instance: np.ndarray | None,
                                     message: str) -> None:
    _cityscapes(tmp_path, {"aachen_000001_000019": instance})
    with pytest.raises(DatasetError, match=message):
        load_cityscapes(tmp_path, "train", 16)


def test_cli_detect_on_bad_cityscapes_instances_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("faster_coco_eval")
    from click.testing import CliRunner

    from archspace.cli import cli

    root = _cityscapes(tmp_path / "cs", {"aachen_000000_000019": np.full((16, 32), 7001,
                                                                         np.uint16)})
    res = CliRunner().invoke(cli, [
        "search", "--space", "nasfpn", "-p", "cells=5", "-p", "channels=8", "-p",
        "backbone_widths=4,4,4,4,4,4,4", "--estimator", "detect", "-e",
        f"dataset=cityscapes:{root}", "-e", "image_size=32", "--strategy", "random",
        "--budget", "1", "--study", str(tmp_path / "x.db"), "--no-progress"])
    out = res.output
    assert res.exit_code == 2 and out.count("\n") == 1, out
    assert out.startswith("archspace: error:") and "has no instances" in out


def test_cli_segment_on_cityscapes_ids_above_33_is_one_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from archspace.cli import cli

    root = _cityscapes(tmp_path / "cs")
    gt = root / "gtFine" / "train" / "aachen" / "aachen_000001_000019_gtFine_labelIds.png"
    ids = np.asarray(Image.open(gt)).copy()
    ids[0, 0] = 40  # one pixel: a nearest resize to 16 px could drop it, the check must not
    Image.fromarray(ids, mode="L").save(gt)
    res = CliRunner().invoke(cli, [
        "search", "--space", "autodeeplab", "-p", "layers=3", "-p", "filter_multiplier=2",
        "-p", "aspp_channels=8", "--estimator", "segment", "-e", f"dataset=cityscapes:{root}",
        "-e", "image_size=16", "--strategy", "random", "--budget", "1", "--study",
        str(tmp_path / "x.db"), "--no-progress"])
    out = res.output
    assert res.exit_code == 2 and out.count("\n") == 1, out
    assert out.startswith("archspace: error:") and "values [40] are outside the Cityscapes" in out
    assert "allowed: 0..33" in out and "Traceback" not in out


def test_detect_trains_on_cityscapes_boxes(tmp_path: Path) -> None:
    pytest.importorskip("faster_coco_eval")
    from archspace import get_space
    from archspace.estimators import get_estimator

    root = _cityscapes(tmp_path)
    space = get_space("nasfpn", cells=5, channels=8, backbone_widths=[4] * 7)
    est = get_estimator("detect", dataset=f"cityscapes:{root}", image_size=32, epochs=1,
                        batch_size=2, device="cpu")
    m = est.evaluate(space, space.sample(0), 0)
    assert m["steps"] == 1 and 0 <= m["ap"] <= 100
