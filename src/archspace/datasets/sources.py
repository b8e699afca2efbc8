"""Where images come from: scikit-learn's digits, torchvision's datasets, a folder of images.

Each loader returns ``(images, labels, classes)``: images ``(N, C, H, W)`` as float32 in [0, 1],
square, at the source's native size.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from archspace.datasets.core import DatasetError

__all__ = ["IMAGE_SUFFIXES", "TORCHVISION", "load_digits", "load_folder", "load_torchvision"]

Loaded = tuple[Tensor, Tensor, tuple[str, ...]]

#: archspace name -> torchvision.datasets class name.
TORCHVISION = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "CIFAR10",
               "cifar100": "CIFAR100"}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".pgm", ".tif",
                  ".tiff")


def load_digits() -> Loaded:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes; no download).

    Alpaydin & Kaynak, "Optical Recognition of Handwritten Digits", UCI ML repository, 1998.
    """
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    images = torch.as_tensor(np.asarray(bunch.images), dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.as_tensor(np.asarray(bunch.target), dtype=torch.int64)
    return images, labels, tuple(str(c) for c in bunch.target_names)


def default_root() -> Path:
    """Where torchvision datasets are looked for: ``$ARCHSPACE_DATA`` or
    ``~/.cache/archspace/data``."""
    env = os.environ.get("ARCHSPACE_DATA")
    return Path(env) if env else Path.home() / ".cache" / "archspace" / "data"


def load_torchvision(name: str, root: str | None, download: bool) -> Loaded:
    """The training split of a torchvision dataset (the validation split is carved from it, so
    the official test set is never seen during search)."""
    try:
        import torchvision.datasets as tvd
    except ImportError:
        raise DatasetError(f"dataset {name!r} needs torchvision, which is not installed; "
                           "install the extra: pip install 'archspace[vision]' (or use "
                           "dataset=digits, or imagefolder:PATH)") from None
    where = Path(root) if root else default_root()
    cls: Any = getattr(tvd, TORCHVISION[name])
    try:
        ds = cls(root=str(where), train=True, download=download)
    except RuntimeError as e:
        hint = "" if download else "; pass the option download=true to fetch it"
        raise DatasetError(f"dataset {name!r} not found under {where} ({e}){hint}, or set "
                           "root=DIR / $ARCHSPACE_DATA to where it is") from None
    x = torch.as_tensor(np.asarray(ds.data))
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)
    return x.to(torch.float32).div_(255.0).contiguous(), labels, tuple(str(c) for c in ds.classes)


def _image_files(root: Path) -> list[tuple[str, list[Path]]]:
    if not root.is_dir():
        raise DatasetError(f"imagefolder: {str(root)!r} is not a directory; expected a directory "
                           "with one subfolder of images per class")
    out = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(f for f in sub.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            out.append((sub.name, files))
    if len(out) < 2:
        raise DatasetError(f"imagefolder: {str(root)!r} has {len(out)} class folder(s) with "
                           f"images; need at least 2 (image types: {', '.join(IMAGE_SUFFIXES)})")
    return out


def load_folder(root: str) -> Loaded:
    """A directory of class subfolders (``root/cat/1.png``, ``root/dog/x.jpg``, ...), read with
    Pillow. Images become RGB unless every one is grayscale; each is resized to a square whose side
    is the median of the images' shorter sides (the folder's native resolution)."""
    try:
        from PIL import Image
    except ImportError:
        raise DatasetError("dataset imagefolder needs Pillow: pip install pillow") from None
    classes = _image_files(Path(root))
    opened = []
    for label, (_, files) in enumerate(classes):
        for f in files:
            try:
                im = Image.open(f)
                im.load()
            except OSError as e:
                raise DatasetError(f"imagefolder: cannot read image {str(f)!r}: {e}") from None
            opened.append((im, label))
    gray = all(im.mode in ("1", "L", "I", "I;16", "F") for im, _ in opened)
    side = int(np.median([min(im.size) for im, _ in opened]))
    arrays = []
    for im, _ in opened:
        sq = im.convert("L" if gray else "RGB").resize((side, side), Image.Resampling.BILINEAR)
        a = np.asarray(sq, dtype=np.float32) / 255.0
        arrays.append(a[None] if gray else a.transpose(2, 0, 1))
    images = torch.from_numpy(np.stack(arrays))
    labels = torch.tensor([lab for _, lab in opened], dtype=torch.int64)
    return images, labels, tuple(name for name, _ in classes)
