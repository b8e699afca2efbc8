"""Image classification datasets for the training estimators, loaded once per process.

``digits`` (scikit-learn's bundled 8x8 digits) works offline with no extra; ``mnist``,
``fashion-mnist``, ``cifar10`` and ``cifar100`` need the ``archspace[vision]`` extra
(torchvision) and the data under ``root`` (or ``download=True``); ``imagefolder:PATH`` reads a
directory of class subfolders with Pillow. Every dataset is split once, with a fixed seed and
per class, into train and validation parts of its *training* images, standardised with the
train part's per-channel statistics, and kept as tensors; :func:`load_dataset` returns it resized
to a resolution, with grayscale repeated to the network's channels, on a device. Each of those
steps is cached, so a search that trains hundreds of networks loads and resizes the data once.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from archspace.datasets.core import Dataset, DatasetError, from_images
from archspace.datasets.sources import TORCHVISION, load_digits, load_folder, load_torchvision

__all__ = ["DATASETS", "Dataset", "DatasetError", "dataset_names", "load_dataset", "native", "prepared"]

#: Every dataset name with a one-line description.
DATASETS: dict[str, str] = {
    "digits": "scikit-learn's 8x8 handwritten digits, 1,797 images, 10 classes (offline)",
    "mnist": "MNIST 28x28 handwritten digits, 10 classes (torchvision)",
    "fashion-mnist": "Fashion-MNIST 28x28 clothing, 10 classes (torchvision)",
    "cifar10": "CIFAR-10 32x32 colour images, 10 classes (torchvision)",
    "cifar100": "CIFAR-100 32x32 colour images, 100 classes (torchvision)",
    "imagefolder:PATH": "a directory PATH with one subfolder of images per class (Pillow)",
}


def dataset_names() -> list[str]:
    """The accepted dataset names (``imagefolder:PATH`` with a path of your choice)."""
    return list(DATASETS)


def _canonical(name: str, root: str | None) -> tuple[str, str | None]:
    """(kind, location): the dataset kind and the folder it comes from (None: built in)."""
    kind, colon, path = name.partition(":")
    kind = kind.strip().lower()
    if kind == "imagefolder":
        where = path if colon and path else root
        if not where:
            raise DatasetError("dataset imagefolder needs a directory: dataset=imagefolder:PATH "
                               "(or root=PATH)")
        return kind, str(Path(where).expanduser().resolve())
    if colon or (kind not in DATASETS):
        raise DatasetError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    return kind, (root if kind in TORCHVISION else None)


@lru_cache(maxsize=4)
def _native(kind: str, where: str | None, download: bool, val_fraction: float) -> Dataset:
    if kind == "digits":
        images, labels, classes = load_digits()
    elif kind == "imagefolder":
        assert where is not None  # _canonical guarantees it
        images, labels, classes = load_folder(where)
    else:
        images, labels, classes = load_torchvision(kind, where, download)
    label = f"imagefolder:{where}" if kind == "imagefolder" else kind
    return from_images(label, images, labels, classes, val_fraction)


def native(name: str, root: str | None = None, download: bool = False,
           val_fraction: float = 0.2) -> Dataset:
    """Dataset ``name`` at its native resolution and channels, on the CPU."""
    if not 0.0 < val_fraction < 1.0:
        raise DatasetError(f"val_fraction={val_fraction!r} must be a number in (0, 1)")
    kind, where = _canonical(name, root)
    return _native(kind, where, download, val_fraction)


@lru_cache(maxsize=4)
def _prepared(base: Dataset, resolution: int, channels: int, device: str) -> Dataset:
    return base.resized(resolution).with_channels(channels).to(device)


def prepared(base: Dataset, resolution: int, channels: int, device: str = "cpu") -> Dataset:
    """``base`` (a :func:`native` dataset) at ``resolution`` with ``channels`` on ``device``
    (cached)."""
    if resolution < 1:
        raise DatasetError(f"resolution {resolution} must be a positive integer")
    return _prepared(base, resolution, channels, str(device))


def load_dataset(name: str, resolution: int | None = None, channels: int | None = None,
                 device: str = "cpu", root: str | None = None, download: bool = False,
                 val_fraction: float = 0.2) -> Dataset:
    """Dataset ``name`` at ``resolution`` (default: native) with ``channels`` (default: native;
    grayscale is repeated to 3 for RGB networks) on ``device``."""
    base = native(name, root, download, val_fraction)
    r = base.resolution if resolution is None else resolution
    return prepared(base, r, base.in_channels if channels is None else channels, device)
