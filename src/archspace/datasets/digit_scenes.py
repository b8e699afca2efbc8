"""Digit scenes: offline dense-prediction data composed of scikit-learn's 8x8 digits.

Each scene is an RGB canvas (``size`` x ``size``, default 96) with a textured background (a
smooth colour gradient, low-frequency blobs and pixel noise) and 2-5 (fewer on small canvases)
digits of scikit-learn's bundled set (Alpaydin & Kaynak, UCI 1998), each upsampled bilinearly to
its own side (between ``size/6`` and ``size/2.5``, at least 8 px), painted in a colour that
contrasts with the background, at a place that overlaps no earlier digit. Per scene:

* ``images``: uint8 ``(size, size, 3)``;
* ``masks``: uint8 per-pixel labels: 0 background, ``d + 1`` for digit ``d`` where the digit's
  upsampled intensity (in [0, 1]) is at least 0.5, 255 (ignore) on its anti-aliased border
  (intensity in [0.15, 0.5));
* ``boxes``: COCO ``[x, y, w, h]``, tight on the pixels labelled with the digit, with
  ``box_labels`` ``d + 1`` (the mask's ids; COCO ``category_id``).

The 1,797 digit images are split by index before any scene is drawn: every fifth image
(index % 5 == 0, 360 images) is reserved for ``split="val"`` scenes, the rest for ``"train"``,
so validation scenes never reuse a training digit. Scenes are a pure function of
``(n, size, seed, split)`` and cached on disk (:func:`archspace.datasets.cache.cached_arrays`).
"""

from __future__ import annotations

import numpy as np

from archspace.datasets.cache import cached_arrays
from archspace.datasets.core import DatasetError
from archspace.datasets.dense import IGNORE_INDEX, DenseDataset

__all__ = ["CLASS_NAMES", "SPLITS", "VAL_EVERY", "digit_pool", "make_digit_scenes"]

SPLITS = ("train", "val")
#: Digit image ``i`` is a validation digit when ``i % VAL_EVERY == 0``.
VAL_EVERY = 5
CLASS_NAMES = ("background", *(str(d) for d in range(10)))
_VERSION = 2  # 2: images cached as (N, 3, H, W)
_MIN_SIZE, _MAX_SIZE = 16, 1024
_FG, _BORDER = 0.5, 0.15


def digit_pool(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The digit images (float32 ``(K, 8, 8)`` in [0, 1]) and classes split ``split`` may use."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    index = np.arange(len(bunch.target))
    keep = (index % VAL_EVERY == 0) if split == "val" else (index % VAL_EVERY != 0)
    images = np.asarray(bunch.images, np.float32)[keep] / np.float32(16.0)
    return images, np.asarray(bunch.target, np.int64)[keep]


def _upsample(digit: np.ndarray, side: int) -> np.ndarray:
    """``digit`` (8x8 in [0, 1]) bilinearly resized to ``side`` x ``side`` (Pillow)."""
    from PIL import Image

    im = Image.fromarray(digit.astype(np.float32), mode="F")
    return np.clip(np.asarray(im.resize((side, side), Image.Resampling.BILINEAR)), 0.0, 1.0)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A float (size, size, 3) texture in [0, 255]: gradient + blobs (the digits' colours are
    chosen against its mean)."""
    from PIL import Image

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    c0, c1 = rng.uniform(30, 200, 3), rng.uniform(30, 200, 3)
    t = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1))
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    bg = c0 * (1 - t[..., None]) + c1 * t[..., None]
    coarse = rng.normal(0, 25, (4, 4, 3)).astype(np.float32)
    blobs = np.stack([np.asarray(Image.fromarray(coarse[..., c], mode="F").resize(
        (size, size), Image.Resampling.BICUBIC)) for c in range(3)], axis=-1)
    return np.asarray(bg + blobs, np.float32)


def _scene(rng: np.random.Generator, size: int, pool: np.ndarray, classes: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    img = _background(rng, size)
    mask = np.zeros((size, size), np.uint8)
    taken = np.zeros((size, size), bool)
    lo, hi = max(8, size // 6), max(9, int(size / 2.5))
    count = int(rng.integers(2, 6)) if size >= 64 else int(rng.integers(1, 4))
    boxes: list[list[float]] = []
    labels: list[int] = []
    for _ in range(count):
        for _try in range(20):
            side = int(rng.integers(lo, min(hi, size) + 1))
            x0, y0 = (int(v) for v in rng.integers(0, size - side + 1, 2))
            if not taken[y0:y0 + side, x0:x0 + side].any():
                break
        else:
            continue
        k = int(rng.integers(len(pool)))
        alpha = _upsample(pool[k], side)
        fg = alpha >= _FG
        if not fg.any():
            continue
        mean = img[y0:y0 + side, x0:x0 + side].reshape(-1, 3).mean(0)
        colour = np.where(mean > 127, rng.uniform(0, 60, 3), rng.uniform(195, 255, 3))
        patch = img[y0:y0 + side, x0:x0 + side]
        img[y0:y0 + side, x0:x0 + side] = patch * (1 - alpha[..., None]) + colour * alpha[..., None]
        sub = mask[y0:y0 + side, x0:x0 + side]
        sub[(alpha >= _BORDER) & ~fg] = IGNORE_INDEX
        sub[fg] = classes[k] + 1
        taken[y0:y0 + side, x0:x0 + side] = True
        ys, xs = np.nonzero(fg)
        boxes.append([x0 + xs.min(), y0 + ys.min(), xs.max() - xs.min() + 1,
                      ys.max() - ys.min() + 1])
        labels.append(int(classes[k]) + 1)
    img = img + rng.normal(0, 6, img.shape)
    return (np.clip(np.rint(img), 0, 255).astype(np.uint8), mask,
            np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(labels, np.int64))


def _generate(n: int, size: int, seed: int, split: str) -> DenseDataset:
    pool, classes = digit_pool(split)
    rng = np.random.default_rng([seed, SPLITS.index(split), size])
    scenes = [_scene(rng, size, pool, classes) for _ in range(n)]
    return DenseDataset(
        np.stack([s[0] for s in scenes]) if scenes else np.zeros((0, size, size, 3), np.uint8),
        len(CLASS_NAMES), CLASS_NAMES,
        np.stack([s[1] for s in scenes]) if scenes else np.zeros((0, size, size), np.uint8),
        tuple(s[2] for s in scenes), tuple(s[3] for s in scenes), IGNORE_INDEX,
        f"digit-scenes/{split}")


def make_digit_scenes(n: int = 512, size: int = 96, seed: int = 0, split: str = "train",
                      cache: bool = True) -> DenseDataset:
    """``n`` digit scenes of ``size`` x ``size`` pixels for ``split`` (``train`` or ``val``),
    seeded by ``seed``: masks (11 classes, 0 background) and COCO boxes. Cached on disk unless
    ``cache=False``."""
    if split not in SPLITS:
        raise DatasetError(f"digit scenes split {split!r}; allowed: {', '.join(SPLITS)}")
    if not _MIN_SIZE <= size <= _MAX_SIZE:
        raise DatasetError(f"digit scenes size={size!r} must be an integer in "
                           f"{_MIN_SIZE}..{_MAX_SIZE}")
    if n < 1:
        raise DatasetError(f"digit scenes n={n!r} must be a positive integer")
    if not cache:
        return _generate(n, size, seed, split)
    key = {"loader": "digit-scenes", "n": n, "size": size, "seed": seed, "split": split,
           "version": _VERSION}

    def decode() -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
        return _generate(n, size, seed, split).arrays(), CLASS_NAMES

    arrays, names = cached_arrays(key, decode, source=f"digit-scenes {split} {size}px")
    return DenseDataset.from_arrays(arrays, names, f"digit-scenes/{split}")
