"""Where images come from, besides CIFAR (:mod:`.cifar`) and image folders (:mod:`.imagefolder`):
scikit-learn's digits and torchvision's MNIST and Fashion-MNIST.

Each loader returns :class:`~archspace.datasets.raw.Images` at the source's native size.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from archspace.datasets.core import DatasetError
from archspace.datasets.raw import Images

__all__ = ["TORCHVISION", "default_root", "download_cifar", "load_digits", "load_torchvision"]

#: archspace name -> torchvision.datasets class name (the datasets only torchvision reads).
TORCHVISION = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


def load_digits() -> Images:
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes; no download).

    Alpaydin & Kaynak, "Optical Recognition of Handwritten Digits", UCI ML repository, 1998.
    """
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    images = np.asarray(bunch.images, dtype=np.float32)[:, None] / np.float32(16.0)
    return Images(images, np.asarray(bunch.target, dtype=np.int64),
                  tuple(str(c) for c in bunch.target_names))


def default_root() -> Path:
    """Where downloaded datasets are looked for: ``$ARCHSPACE_DATA`` or
    ``~/.cache/archspace/data``."""
    env = os.environ.get("ARCHSPACE_DATA")
    return Path(env) if env else Path.home() / ".cache" / "archspace" / "data"


def _torchvision_datasets(name: str) -> Any:
    try:
        import torchvision.datasets as tvd
    except ImportError:
        raise DatasetError(f"dataset {name!r} needs torchvision, which is not installed; "
                           "install the extra: pip install 'archspace[vision]' (or use "
                           "dataset=digits, cifar10, cifar100 or imagefolder:PATH)") from None
    return tvd


def load_torchvision(name: str, root: Path, download: bool) -> Images:
    """The training split of a torchvision dataset (validation is carved from it, so the
    official test set is never seen during search)."""
    cls: Any = getattr(_torchvision_datasets(name), TORCHVISION[name])
    try:
        ds = cls(root=str(root), train=True, download=download)
    except RuntimeError as e:
        hint = "" if download else "; pass the option download=true to fetch it"
        raise DatasetError(f"dataset {name!r} not found under {root} ({e}){hint}, or set "
                           "root=DIR / $ARCHSPACE_DATA to where it is") from None
    x = np.asarray(ds.data, dtype=np.uint8)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    return Images(np.ascontiguousarray(x), np.asarray(ds.targets, dtype=np.int64),
                  tuple(str(c) for c in ds.classes))


def download_cifar(name: str, root: Path) -> None:
    """Fetch the official CIFAR archive into ``root`` with torchvision's downloader (which
    checks its MD5); archspace then reads the files itself."""
    cls: Any = getattr(_torchvision_datasets(name), {"cifar10": "CIFAR10",
                                                      "cifar100": "CIFAR100"}[name])
    try:
        cls(root=str(root), train=True, download=True)
    except (RuntimeError, OSError) as e:
        raise DatasetError(f"dataset {name!r}: download into {root} failed ({e})") from None
