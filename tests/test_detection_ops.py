"""Torch-only detection parts: box coding, IoU/GIoU, NMS against a brute-force reference, focal
loss, FCOS targets, and COCO AP through the COCO API."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archspace.nn.detection import (
    batched_nms,
    box_iou,
    decode_ltrb,
    encode_ltrb,
    generalized_box_iou,
    giou_loss,
    nms,
    sigmoid_focal_loss,
    xywh_to_xyxy,
    xyxy_to_xywh,
)
from archspace.nn.detection.fcos import FCOSLayout, FCOSTargets
from archspace.spaces.nasfpn import detection_levels

coord = st.floats(0, 100, allow_nan=False, width=32)


@st.composite
def box_sets(draw: st.DrawFn, max_n: int = 12) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    n = draw(st.integers(0, max_n))
    rows = [draw(st.tuples(coord, coord, st.floats(0.5, 40, width=32), st.floats(0.5, 40, width=32)))
            for _ in range(n)]
    xywh = torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)
    scores = torch.tensor(draw(st.lists(st.floats(0, 1, width=32), min_size=n, max_size=n)),
                          dtype=torch.float32)
    labels = torch.tensor(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)),
                          dtype=torch.long)
    return xywh_to_xyxy(xywh), scores, labels


def brute_nms(boxes: torch.Tensor, scores: torch.Tensor, thr: float) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    keep: list[int] = []
    for i in order:
        if all(float(box_iou(boxes[i:i + 1], boxes[j:j + 1])[0, 0]) <= thr for j in keep):
            keep.append(i)
    return keep


@settings(max_examples=40, deadline=None)
@given(box_sets(10), st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]))
def test_nms_matches_brute_force(data: tuple[torch.Tensor, ...], thr: float) -> None:
    boxes, scores, labels = data
    assert nms(boxes, scores, thr).tolist() == brute_nms(boxes, scores, thr)
    want = sorted((i for c in range(3) for i in
                   [torch.nonzero(labels == c).squeeze(1)[k] for k in
                    brute_nms(boxes[labels == c], scores[labels == c], thr)]),
                  key=lambda i: (-float(scores[i]), int(i)))
    assert batched_nms(boxes, scores, labels, thr).tolist() == [int(i) for i in want]


@settings(max_examples=60, deadline=None)
@given(box_sets(6), st.floats(1, 64, width=32))
def test_ltrb_coding_round_trips(data: tuple[torch.Tensor, ...], stride: float) -> None:
    boxes = data[0]
    points = (boxes[:, :2] + boxes[:, 2:]) / 2 + 0.25
    ltrb = encode_ltrb(points, boxes, stride)
    assert torch.allclose(decode_ltrb(points, ltrb, stride), boxes, atol=1e-3)
    assert torch.allclose(xywh_to_xyxy(xyxy_to_xywh(boxes)), boxes, atol=1e-4)


def test_iou_and_giou_values() -> None:
    a = torch.tensor([[0.0, 0, 2, 2]])
    b = torch.tensor([[1.0, 1, 3, 3], [0, 0, 2, 2], [4, 4, 5, 5]])
    assert box_iou(a, b)[0].tolist() == pytest.approx([1 / 7, 1.0, 0.0])
    g = generalized_box_iou(a, b)[0]
    assert g.tolist() == pytest.approx([1 / 7 - 2 / 9, 1.0, 0 - (25 - 5) / 25])
    assert float(giou_loss(a, a)) == pytest.approx(0.0, abs=1e-6)
    assert float(giou_loss(a, b[2:])) == pytest.approx(1.8, abs=1e-5)


def test_focal_loss_down_weights_easy_examples() -> None:
    t = torch.tensor([1.0, 0.0])
    easy, hard = sigmoid_focal_loss(torch.tensor([4.0, -4.0]), t), \
        sigmoid_focal_loss(torch.tensor([-4.0, 4.0]), t)
    assert 0 < float(easy) < 1e-3 < float(hard)
    ce = -math.log(torch.sigmoid(torch.tensor(-4.0)).item())
    assert float(sigmoid_focal_loss(torch.tensor([-4.0]), torch.tensor([1.0]), alpha=-1)) \
        == pytest.approx(ce * (1 - torch.sigmoid(torch.tensor(-4.0)).item()) ** 2, rel=1e-4)


def test_fcos_targets_reach_every_level_and_decode_back() -> None:
    layout = FCOSLayout(detection_levels(128), 3, 128, edges=[16, 32, 48, 64])
    boxes = torch.tensor([[4.0, 4, 14, 14], [40, 40, 64, 64], [20, 70, 60, 110],
                          [10, 10, 66, 66], [0, 0, 128, 128]])
    labels = torch.tensor([0, 1, 2, 0, 1])
    lab, box, ctr = layout.assign(boxes, labels)
    pos = FCOSTargets(lab[None], box[None], ctr[None]).positives_per_level(layout)
    assert all(n > 0 for n in pos), pos
    assert set(lab[lab >= 0].tolist()) == {0, 1, 2}
    assert bool(((ctr > 0) & (ctr <= 1))[lab >= 0].all()) and bool((ctr[lab < 0] == 0).all())
    # a positive's assigned box contains the location; exact log-distances decode to it
    p = layout.points[lab >= 0]
    b = box[lab >= 0]
    assert bool(((p > b[:, :2]) & (p < b[:, 2:])).all())
    ltrb = encode_ltrb(p, b, layout.strides[lab >= 0])
    log = torch.zeros(layout.points.shape[0], 4)
    log[lab >= 0] = ltrb.log()
    assert torch.allclose(layout.decode_boxes(log)[lab >= 0], b, atol=1e-3)
    t = FCOSTargets(lab[None], box[None], ctr[None])
    back = FCOSTargets.unpack(t.packed())
    assert torch.equal(back.labels, t.labels) and torch.equal(back.boxes, t.boxes)


def test_fcos_detect_recovers_encoded_boxes() -> None:
    """Logits that encode the targets exactly decode, after NMS, to the ground truth."""
    layout = FCOSLayout(detection_levels(128), 2, 128, edges=[16, 32, 48, 64])
    boxes = torch.tensor([[10.0, 10, 30, 34], [60, 50, 110, 100]])
    lab, box, ctr = layout.assign(boxes, torch.tensor([0, 1]))
    pos = lab >= 0
    cls = torch.full((layout.points.shape[0], 2), -10.0)
    cls[pos, lab[pos]] = 10.0
    log = torch.zeros(layout.points.shape[0], 4)
    log[pos] = encode_ltrb(layout.points[pos], box[pos], layout.strides[pos]).log()
    ctr_logit = torch.where(pos, torch.full_like(ctr, 10.0), torch.full_like(ctr, -10.0))
    y = torch.cat((cls, log, ctr_logit[:, None]), 1)
    flat, start = [], 0
    for n in layout.sizes:
        flat.append(y[start:start + n].T.reshape(-1))
        start += n
    out = torch.cat(flat)[None]
    assert out.shape == (1, layout.outputs)
    det = layout.detect(out)[0]
    assert sorted(det.labels.tolist()) == [0, 1]
    got = det.boxes[torch.argsort(det.labels)]
    assert torch.allclose(got, boxes, atol=1e-2)


def test_coco_ap_of_perfect_and_constant_predictions() -> None:
    pytest.importorskip("faster_coco_eval", reason="COCO AP needs faster-coco-eval")
    from archspace.estimators.detect.coco_eval import coco_ap, ground_truth

    rng = np.random.default_rng(0)
    boxes, labels = [], []
    for _ in range(20):
        k = int(rng.integers(1, 4))
        xy = rng.uniform(0, 80, (k, 2))
        wh = rng.uniform(8, 40, (k, 2))
        boxes.append(np.concatenate((xy, wh), 1))
        labels.append(rng.integers(0, 3, k))
    gt = ground_truth(boxes, labels, 3, [(128, 128)] * 20)
    perfect = coco_ap(gt, boxes, [np.ones(len(b)) for b in boxes], labels)
    assert perfect == {"ap": pytest.approx(100.0), "ap50": pytest.approx(100.0),
                       "ap75": pytest.approx(100.0)}
    const = coco_ap(gt, [np.array([[32.0, 32, 64, 64]] * 3)] * 20, [np.ones(3)] * 20,
                    [np.arange(3)] * 20)
    assert const["ap"] < 5.0 and const["ap50"] < 20.0
    assert coco_ap(gt, [np.zeros((0, 4))] * 20, [np.zeros(0)] * 20,
                   [np.zeros(0)] * 20)["ap"] == 0.0
