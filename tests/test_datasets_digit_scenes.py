"""Digit scenes and the shared dense dataset."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archspace.datasets.cache import cache_entries
from archspace.datasets.core import DatasetError
from archspace.datasets.dense import DenseDataset
from archspace.datasets.digit_scenes import VAL_EVERY, digit_pool, make_digit_scenes


def test_scenes_have_consistent_masks_and_tight_boxes() -> None:
    d = make_digit_scenes(6, 48, seed=3, split="train", cache=False)
    assert d.images.shape == (6, 48, 48, 3) and d.images.dtype == np.uint8
    assert d.num_classes == 11 and d.class_names[0] == "background"
    d.check_masks()
    d.check_boxes()
    assert sum(len(b) for b in d.boxes or ()) >= 6
    for mask, boxes, labels in zip(d.masks, d.boxes, d.box_labels, strict=True):  # type: ignore
        for (x, y, w, h), lab in zip(boxes.astype(int), labels, strict=True):
            inside = mask[y:y + h, x:x + w] == lab
            # tight: the labelled pixels touch all four sides of the box
            assert inside[0].any() and inside[-1].any() and inside[:, 0].any() and inside[:, -1].any()
            outside = mask.copy()
            outside[y:y + h, x:x + w] = 0
            assert not (outside == lab).any() or (labels == lab).sum() > 1


def test_scenes_are_seeded_and_cached() -> None:
    a = make_digit_scenes(3, 32, seed=1)
    b = make_digit_scenes(3, 32, seed=1)
    c = make_digit_scenes(3, 32, seed=2)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.masks, b.masks)  # type: ignore
    assert not np.array_equal(a.images, c.images)
    assert any(e.loader == "digit-scenes" and e.train == 3 and e.shapes["x"] == (3, 3, 32, 32)
               for e in cache_entries())
    fresh = make_digit_scenes(3, 32, seed=1, cache=False)
    assert np.array_equal(fresh.images, a.images)
    assert all(np.array_equal(x, y) for x, y in zip(fresh.boxes, a.boxes, strict=True))  # type: ignore


def test_validation_digits_are_never_training_digits() -> None:
    train, _ = digit_pool("train")
    val, _ = digit_pool("val")
    assert len(train) + len(val) == 1797 and len(val) == len(range(0, 1797, VAL_EVERY))
    flat_train = {t.tobytes() for t in train}
    assert not any(v.tobytes() in flat_train for v in val)


def test_bad_arguments() -> None:
    with pytest.raises(DatasetError, match="split"):
        make_digit_scenes(2, 32, split="test")
    with pytest.raises(DatasetError, match="size"):
        make_digit_scenes(2, 8)


def test_dense_dataset_checks() -> None:
    img = np.zeros((1, 8, 8, 3), np.uint8)
    bad = DenseDataset(img, 2, ("bg", "x"), masks=np.full((1, 8, 8), 7, np.uint8))
    with pytest.raises(DatasetError, match="outside"):
        bad.check_masks()
    with pytest.raises(DatasetError, match="no masks"):
        DenseDataset(img, 2, ("bg", "x")).check_masks()
    boxed = DenseDataset(img, 2, ("bg", "x"), boxes=(np.array([[4, 4, 6, 2]], np.float32),),
                         box_labels=(np.array([1]),))
    with pytest.raises(DatasetError, match="outside"):
        boxed.check_boxes()
    flat = DenseDataset.from_arrays(boxed.arrays(), boxed.class_names)
    assert np.array_equal(flat.boxes[0], boxed.boxes[0])  # type: ignore[index]


@settings(max_examples=8, deadline=None)
@given(size=st.integers(16, 72), seed=st.integers(0, 2**31), split=st.sampled_from(["train", "val"]))
def test_any_scene_has_valid_masks_and_boxes_inside_it(size: int, seed: int, split: str) -> None:
    d = make_digit_scenes(1, size, seed, split, cache=False)
    d.check_masks()
    d.check_boxes()
    assert d.masks is not None and d.boxes is not None and d.box_labels is not None
    labelled = set(np.unique(d.masks).tolist()) - {0, 255}
    assert labelled == set(d.box_labels[0].tolist())
