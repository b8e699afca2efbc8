"""Super-resolution data: pairs of HR patches and their bicubic-downsampled LR patches.

Sources (``dataset=...`` of the ``superres`` estimator):

* ``photos`` (the default, offline): the photographs scikit-learn (``china.jpg``,
  ``flower.jpg``, 640x427) and matplotlib (``grace_hopper.jpg``, 512x600) bundle. Training
  patches come from the left three quarters of each photo, validation patches from the right
  quarter (a region never seen in training);
* ``div2k:PATH``: the DIV2K layout (Agustsson & Timofte, CVPRW 2017): ``DIV2K_train_HR/`` and
  ``DIV2K_valid_HR/`` (without it, a ``val_fraction`` share of the training images validates),
  and, when present, the official LR images ``DIV2K_train_LR_bicubic/X{s}/NNNNx{s}.png`` (and
  ``DIV2K_valid_LR_bicubic/X{s}/``), used instead of degrading the HR images here;
* ``srfolder:PATH``: a folder of HR images, with ``train/`` and ``val/`` subfolders, or else
  split by image, a seeded ``val_fraction`` share of them validating.

HR patches of ``lr_patch * scale`` pixels are cropped at seeded positions (multiples of the
scale, so that official LR images line up), spread evenly over the images, flat crops redrawn
(:data:`FLAT_STD`); the LR patch is the
HR patch downsampled by Pillow's antialiased bicubic filter (as MATLAB's ``imresize``, the SR
literature's degradation) and quantised to 8 bits. An image smaller than a patch is an error
naming it. The patches are cached on disk per source content (:mod:`.cache`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from archspace.datasets.cache import cached_arrays, listing_digest
from archspace.datasets.core import DatasetError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["SR_DATASETS", "SRData", "check_sr_name", "load_superres"]

#: Every super-resolution source with a one-line description.
SR_DATASETS: dict[str, str] = {
    "photos": "patches of the photographs scikit-learn and matplotlib bundle (offline)",
    "div2k:PATH": "a DIV2K folder: DIV2K_train_HR/, DIV2K_valid_HR/ and optional "
                  "DIV2K_*_LR_bicubic/X{2,3,4}/",
    "srfolder:PATH": "a folder of HR images (train/ and val/ subfolders, or split by "
                     "val_fraction)",
}
_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")
#: Share of each photo's width (from the left) that training patches come from.
TRAIN_REGION = 0.75
_VERSION = 2
#: A crop whose pixels' standard deviation (0..255) is below this is flat (sky, a wall):
#: another place is drawn, up to :data:`FLAT_TRIES` times, as SR training pipelines skip them.
FLAT_STD = 8.0
FLAT_TRIES = 10

#: One HR image: a name for messages, a reader of its RGB pixels, and of its official LR
#: image when the source has one.
_Reader = Callable[[], np.ndarray]


@dataclass(frozen=True)
class _Image:
    name: str
    read: _Reader
    read_lr: _Reader | None = None
    #: the columns patches may come from, as shares of the width
    region: tuple[float, float] = (0.0, 1.0)


@dataclass(frozen=True, eq=False)
class SRData:
    """LR/HR patch pairs as float tensors in [0, 1]: LR ``(N, 3, p, p)``, HR
    ``(N, 3, p * scale, p * scale)``."""

    name: str
    scale: int
    lr_train: Tensor
    hr_train: Tensor
    lr_val: Tensor
    hr_val: Tensor

    #: Input statistics, for export's preprocessing note: pixels are used as they are.
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    in_channels: int = 3

    @property
    def lr_patch(self) -> int:
        """Side of the LR patches (the network's input resolution)."""
        return int(self.lr_train.shape[-1])


def _kind(name: str) -> tuple[str, str | None]:
    kind, colon, path = name.partition(":")
    kind = kind.strip().lower()
    if kind in ("div2k", "srfolder"):
        if not colon or not path:
            raise DatasetError(f"dataset {kind} needs a folder: dataset={kind}:PATH")
        return kind, str(Path(path).expanduser().resolve())
    if colon or kind != "photos":
        raise DatasetError(f"unknown super-resolution dataset {name!r}; allowed: "
                           f"{', '.join(SR_DATASETS)}")
    return kind, None


def check_sr_name(name: str) -> str:
    """``name`` if it names a super-resolution source (its files are not looked at)."""
    _kind(name)
    return name


def _rgb(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as e:
        raise DatasetError(f"cannot read image {path}: {e}") from None


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES)


_PHOTOS = (("scikit-learn", "china.jpg"), ("scikit-learn", "flower.jpg"),
           ("matplotlib", "grace_hopper.jpg"))


def _bundled(package: str, name: str) -> np.ndarray:
    if package == "scikit-learn":
        from sklearn.datasets import load_sample_image

        return np.asarray(load_sample_image(name), dtype=np.uint8)
    import matplotlib.cbook as cbook

    return _rgb(Path(str(cbook.get_sample_data(name, asfileobj=False))))


def _photos() -> tuple[list[_Image], list[_Image], dict[str, Any]]:
    def reader(package: str, name: str) -> _Reader:
        return lambda: _bundled(package, name)

    train = [_Image(n, reader(p, n), None, (0.0, TRAIN_REGION)) for p, n in _PHOTOS]
    val = [_Image(n, reader(p, n), None, (TRAIN_REGION, 1.0)) for p, n in _PHOTOS]
    return train, val, {"photos": [n for _, n in _PHOTOS], "train_region": TRAIN_REGION}


def _split(files: list[Path], val_fraction: float, seed: int, where: str
           ) -> tuple[list[Path], list[Path]]:
    if len(files) < 2:
        raise DatasetError(f"{where} has {len(files)} image(s); allowed: at least 2 (one to "
                           "train on, one to validate), or train/ and val/ subfolders")
    order = list(files)
    random.Random(seed).shuffle(order)
    n_val = min(max(1, round(val_fraction * len(order))), len(order) - 1)
    return sorted(order[n_val:]), sorted(order[:n_val])


def _srfolder(root: Path, val_fraction: float, seed: int
              ) -> tuple[list[_Image], list[_Image], dict[str, Any]]:
    if not root.is_dir():
        raise DatasetError(f"srfolder: {str(root)!r} is not a directory; allowed: a folder of "
                           "HR images, or one with train/ and val/ subfolders of them")
    if (root / "train").is_dir() and (root / "val").is_dir():
        train, val = _images_in(root / "train"), _images_in(root / "val")
        if not train or not val:
            raise DatasetError(f"srfolder: {root}/train and {root}/val must each hold images "
                               f"({', '.join(_SUFFIXES)})")
    else:
        train, val = _split(_images_in(root), val_fraction, seed, f"srfolder {root}")
    files = train + val
    key = {"listing": listing_digest(root, files), "train": len(train)}
    return ([_Image(str(p.relative_to(root)), _reader(p)) for p in train],
            [_Image(str(p.relative_to(root)), _reader(p)) for p in val], key)


def _reader(path: Path) -> _Reader:
    return lambda: _rgb(path)


def _div2k_part(root: Path, part: str, scale: int) -> list[_Image]:
    hr = root / f"DIV2K_{part}_HR"
    lr = root / f"DIV2K_{part}_LR_bicubic" / f"X{scale}"
    out = []
    for p in _images_in(hr):
        lr_file = lr / f"{p.stem}x{scale}{p.suffix}"
        out.append(_Image(f"DIV2K_{part}_HR/{p.name}", _reader(p),
                          _reader(lr_file) if lr_file.is_file() else None))
    return out


def _div2k(root: Path, scale: int, val_fraction: float, seed: int
           ) -> tuple[list[_Image], list[_Image], dict[str, Any]]:
    if not (root / "DIV2K_train_HR").is_dir():
        raise DatasetError(f"div2k: {root} has no DIV2K_train_HR/ folder; allowed: the DIV2K "
                           "layout (DIV2K_train_HR/, DIV2K_valid_HR/, optional "
                           "DIV2K_train_LR_bicubic/X2/ ...)")
    train = _div2k_part(root, "train", scale)
    if not train:
        raise DatasetError(f"div2k: {root}/DIV2K_train_HR holds no images")
    if (root / "DIV2K_valid_HR").is_dir() and _images_in(root / "DIV2K_valid_HR"):
        val = _div2k_part(root, "valid", scale)
    else:
        names = {im.name: im for im in train}
        tr, va = _split([Path(n) for n in names], val_fraction, seed, f"div2k {root}")
        train, val = [names[str(p)] for p in tr], [names[str(p)] for p in va]
    files = [p for d in root.iterdir() if d.is_dir() and d.name.startswith("DIV2K_")
             for p in d.rglob("*") if p.is_file()]
    return train, val, {"listing": listing_digest(root, files), "train": len(train)}


def _crops(images: Sequence[_Image], count: int, lr_patch: int, scale: int, seed: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """``count`` HR patches (and their LR) spread evenly over ``images`` at seeded places."""
    from PIL import Image

    hr_side = lr_patch * scale
    rng = random.Random(seed)
    hrs, lrs = [], []
    per = [count // len(images) + (k < count % len(images)) for k in range(len(images))]
    for im, n in zip(images, per, strict=True):
        if n == 0:
            continue
        pixels = im.read()
        h, w = pixels.shape[:2]
        x0, x1 = round(im.region[0] * w), round(im.region[1] * w)
        lo, hi = -(-x0 // scale), (x1 - hr_side) // scale  # LR columns a patch may start at
        if h < hr_side or hi < lo:
            part = "" if im.region == (0.0, 1.0) else \
                f" (the {x1 - x0}-pixel-wide part patches come from)"
            raise DatasetError(f"HR image {im.name} is {w}x{h}{part}, smaller than the "
                               f"{hr_side}x{hr_side} HR patch (lr_patch={lr_patch} x scale "
                               f"{scale}); allowed: images of at least the patch size, or a "
                               "smaller lr_patch")
        official = im.read_lr() if im.read_lr is not None else None
        if official is not None and official.shape[:2] != (h // scale, w // scale):
            raise DatasetError(f"LR image of {im.name} is {official.shape[1]}x"
                               f"{official.shape[0]}, not the HR size / {scale} "
                               f"({w // scale}x{h // scale})")
        for _ in range(n):
            for _try in range(FLAT_TRIES):
                ly = rng.randrange((h - hr_side) // scale + 1)
                lx = rng.randrange(lo, hi + 1)
                y, x = ly * scale, lx * scale
                hr = pixels[y:y + hr_side, x:x + hr_side]
                if float(hr.std()) >= FLAT_STD:
                    break
            if official is not None:
                lr = official[ly:ly + lr_patch, lx:lx + lr_patch]
            else:
                lr = np.asarray(Image.fromarray(hr).resize((lr_patch, lr_patch),
                                                           Image.Resampling.BICUBIC))
            hrs.append(hr.transpose(2, 0, 1))
            lrs.append(lr.transpose(2, 0, 1))
    return np.stack(hrs), np.stack(lrs)


def _sources(kind: str, where: str | None, scale: int, val_fraction: float, seed: int
             ) -> tuple[list[_Image], list[_Image], dict[str, Any]]:
    if kind == "photos":
        return _photos()
    assert where is not None
    if kind == "div2k":
        return _div2k(Path(where), scale, val_fraction, seed)
    return _srfolder(Path(where), val_fraction, seed)


@lru_cache(maxsize=4)
def _load(kind: str, where: str | None, scale: int, lr_patch: int, train_patches: int,
          val_patches: int, val_fraction: float, seed: int) -> SRData:
    import torch

    train, val, content = _sources(kind, where, scale, val_fraction, seed)
    key = {"loader": f"superres-{kind}", "version": _VERSION, **content, "scale": scale,
           "lr_patch": lr_patch, "train_patches": train_patches, "val_patches": val_patches,
           "val_fraction": val_fraction, "seed": seed}

    def decode() -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
        hr, lr = _crops(train, train_patches, lr_patch, scale, seed)
        hr_v, lr_v = _crops(val, val_patches, lr_patch, scale, seed + 1)
        return {"x": hr, "lr": lr, "x_test": hr_v, "lr_test": lr_v}, ()

    a, _ = cached_arrays(key, decode, where or kind)

    def t(name: str) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(a[name])).float().div_(255.0)

    label = f"{kind}:{where}" if where else kind
    return SRData(label, scale, t("lr"), t("x"), t("lr_test"), t("x_test"))


def load_superres(name: str, scale: int = 2, lr_patch: int = 16, train_patches: int = 512,
                  val_patches: int = 64, val_fraction: float = 0.2, seed: int = 0) -> SRData:
    """The LR/HR patch pairs of source ``name`` (see the module doc) at ``scale``, on the CPU
    (cached in memory and on disk)."""
    if scale not in (2, 3, 4):
        raise DatasetError(f"scale {scale!r}; allowed: 2, 3, 4")
    for what, v in (("lr_patch", lr_patch), ("train_patches", train_patches),
                    ("val_patches", val_patches)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise DatasetError(f"{what}={v!r} must be a positive integer")
    if not 0.0 < val_fraction < 1.0:
        raise DatasetError(f"val_fraction={val_fraction!r} must be a number in (0, 1)")
    kind, where = _kind(name)
    return _load(kind, where, scale, lr_patch, train_patches, val_patches, val_fraction, seed)
