"""COCO box AP of detections, scored by the COCO API itself.

The ground truth is a COCO object built in memory from the dataset's boxes (COCO
``[x, y, w, h]``, one category per class, ids from 1), the detections are loaded into it with
``loadRes``, and ``COCOeval`` computes AP over IoU 0.50:0.95, AP50 and AP75 (Lin et al.,
"Microsoft COCO: Common Objects in Context", ECCV 2014). faster-coco-eval is used when it is
installed, pycocotools otherwise; both give the official numbers.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from archspace.errors import ArchspaceError

__all__ = ["coco_ap", "coco_api", "constant_ap", "ground_truth"]

Boxes = Any  # an (k, 4) array of COCO [x, y, w, h] boxes


def coco_api() -> tuple[Any, Any, str]:
    """(COCO, COCOeval, package name): faster-coco-eval's, else pycocotools'."""
    try:
        from faster_coco_eval import COCO, COCOeval_faster

        return COCO, COCOeval_faster, "faster-coco-eval"
    except ImportError:
        pass
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        return COCO, COCOeval, "pycocotools"
    except ImportError:
        raise ArchspaceError("COCO box AP needs faster-coco-eval (or pycocotools); allowed: "
                             "pip install faster-coco-eval") from None


def ground_truth(boxes: Sequence[Boxes], labels: Sequence[Any], num_classes: int,
                 sizes: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """A COCO instances dict: image ``i`` (id ``i + 1``) of ``sizes[i]`` = (height, width)
    with ``boxes[i]`` of classes ``labels[i]`` (0-based; category ids are 1-based)."""
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for i, ((h, w), bs, ls) in enumerate(zip(sizes, boxes, labels, strict=True)):
        images.append({"id": i + 1, "width": int(w), "height": int(h)})
        for b, lab in zip(np.asarray(bs, dtype=float).reshape(-1, 4), np.asarray(ls).reshape(-1),
                          strict=True):
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": int(lab) + 1,
                         "bbox": [float(v) for v in b], "area": float(b[2] * b[3]),
                         "iscrowd": 0})
    cats = [{"id": c + 1, "name": str(c)} for c in range(num_classes)]
    return {"images": images, "annotations": anns, "categories": cats}


def coco_ap(gt: dict[str, Any], boxes: Sequence[Boxes], scores: Sequence[Any],
            labels: Sequence[Any]) -> dict[str, float]:
    """``ap``, ``ap50``, ``ap75`` (in %) of detections per image (COCO boxes, scores, 0-based
    labels, in the order of ``gt['images']``) against the COCO dict ``gt``; 0 without any."""
    COCO, COCOeval, _ = coco_api()
    res = []
    for img, bs, ss, ls in zip(gt["images"], boxes, scores, labels, strict=True):
        for b, s, lab in zip(np.asarray(bs, dtype=float).reshape(-1, 4), np.asarray(ss).reshape(-1),
                             np.asarray(ls).reshape(-1), strict=True):
            res.append({"image_id": img["id"], "category_id": int(lab) + 1,
                        "bbox": [float(v) for v in b], "score": float(s)})
    if not res or not gt["annotations"]:
        return {"ap": 0.0, "ap50": 0.0, "ap75": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        cgt = COCO()
        cgt.dataset = {**gt, "info": {}, "licenses": []}
        cgt.createIndex()
        cdt = cgt.loadRes(res)
        ev = COCOeval(cgt, cdt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = [max(float(v), 0.0) * 100 for v in ev.stats[:3]]  # -1: no ground truth to match
    return {"ap": stats[0], "ap50": stats[1], "ap75": stats[2]}


def constant_ap(gt: dict[str, Any], train_boxes: Any, num_classes: int,
                boxes: int = 10, seed: int = 0) -> dict[str, float]:
    """AP of a constant predictor: the same ``boxes`` training boxes (COCO ``[x, y, w, h]``,
    a seeded sample of ``train_boxes``), each with every class and score 1, on every image of
    ``gt``: what knowing only the boxes' statistics scores."""
    train = np.asarray(train_boxes, dtype=float).reshape(-1, 4)
    rng = np.random.default_rng(seed)
    pick = train[rng.permutation(len(train))[:boxes]]
    per = np.repeat(pick, num_classes, 0)
    labels = np.tile(np.arange(num_classes), len(pick))
    n = len(gt["images"])
    return coco_ap(gt, [per] * n, [np.ones(len(per))] * n, [labels] * n)
