"""Image classification datasets for the training estimators, loaded once per process.

``digits`` (scikit-learn's bundled 8x8 digits) works offline with no extra; ``cifar10`` and
``cifar100`` read the official python-format files under ``root`` (:mod:`.cifar`, no
torchvision); ``imagefolder:PATH`` reads a folder of class subfolders, or a ``.tar``,
``.tar.gz`` or ``.zip`` of one, with Pillow (:mod:`.imagefolder`); ``mnist`` and
``fashion-mnist`` need the ``archspace[vision]`` extra (torchvision). Decoded images are cached
on disk once per file content (:mod:`.cache`), so trials and workers don't decode them again.

Validation images are the source's own held-out split when it has one (an image folder's
``test/`` or ``val/``, CIFAR's test batch), else a seeded, per-class share of its training
images; both parts are standardised with the training part's per-channel statistics and kept
as tensors. :func:`load_dataset` returns a dataset resized to a resolution, with grayscale
repeated to the network's channels, on a device. Each of those steps is cached, so a search
that trains hundreds of networks loads and resizes the data once.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from archspace.datasets.cache import cache_dir
from archspace.datasets.core import VAL_SPLITS, Dataset, DatasetError, from_images
from archspace.datasets.raw import Images

__all__ = ["DATASETS", "VAL_SPLITS", "Dataset", "DatasetError", "cache_dir", "check_name",
           "dataset_names", "load_dataset", "native", "prepared"]

#: Every dataset name with a one-line description.
DATASETS: dict[str, str] = {
    "digits": "scikit-learn's 8x8 handwritten digits, 1,797 images, 10 classes (offline)",
    "mnist": "MNIST 28x28 handwritten digits, 10 classes (torchvision)",
    "fashion-mnist": "Fashion-MNIST 28x28 clothing, 10 classes (torchvision)",
    "cifar10": "CIFAR-10 32x32 colour images, 10 classes (official python files under root)",
    "cifar100": "CIFAR-100 32x32 colour images, 100 classes (official python files under root)",
    "imagefolder:PATH": "a folder with one subfolder of images per class, or a .tar, .tar.gz or "
                        ".zip of one (Pillow)",
}
_ROOTED = ("mnist", "fashion-mnist", "cifar10", "cifar100")


def dataset_names() -> list[str]:
    """The accepted dataset names (``imagefolder:PATH`` with a path of your choice)."""
    return list(DATASETS)


def _canonical(name: str, root: str | None) -> tuple[str, str | None]:
    """(kind, location): the dataset kind and the folder or file it comes from (None: built
    in)."""
    from archspace.datasets.sources import default_root

    kind, colon, path = name.partition(":")
    kind = kind.strip().lower()
    if kind == "imagefolder":
        where = path if colon and path else root
        if not where:
            raise DatasetError("dataset imagefolder needs a directory or archive: "
                               "dataset=imagefolder:PATH (or root=PATH)")
        return kind, str(Path(where).expanduser().resolve())
    if colon or (kind not in DATASETS):
        raise DatasetError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    if kind in _ROOTED:
        return kind, str(Path(root).expanduser() if root else default_root())
    return kind, None


def check_name(name: str) -> str:
    """``name`` if it names a dataset (its files are not looked at), else DatasetError."""
    _canonical(name, ".")
    return name


def _images(kind: str, where: str | None, download: bool, image_size: int | None) -> Images:
    from archspace.datasets import sources

    if kind == "digits":
        return sources.load_digits()
    assert where is not None  # _canonical gives every other kind a location
    if kind == "imagefolder":
        from archspace.datasets.imagefolder import load_imagefolder

        return load_imagefolder(Path(where), image_size)
    if kind in sources.TORCHVISION:
        return sources.load_torchvision(kind, Path(where), download)
    from archspace.datasets.cifar import find_cifar, load_cifar

    if download and find_cifar(kind, Path(where)) is None:
        sources.download_cifar(kind, Path(where))
    return load_cifar(kind, Path(where))


@lru_cache(maxsize=4)
def _native(kind: str, where: str | None, download: bool, val_fraction: float, val_split: str,
            image_size: int | None) -> Dataset:
    label = f"imagefolder:{where}" if kind == "imagefolder" else kind
    return from_images(label, _images(kind, where, download, image_size), val_fraction, val_split)


def native(name: str, root: str | None = None, download: bool = False,
           val_fraction: float = 0.2, val_split: str = "auto",
           image_size: int | None = None) -> Dataset:
    """Dataset ``name`` at its native resolution and channels, on the CPU. Validation images
    are the source's own held-out split when it has one (``val_split=auto`` or ``test``), else
    (or with ``val_split=train``) a ``val_fraction`` share of each class's training images.
    ``image_size`` is the side images of differing sizes are resized to (image folders)."""
    if not 0.0 < val_fraction < 1.0:
        raise DatasetError(f"val_fraction={val_fraction!r} must be a number in (0, 1)")
    if val_split not in VAL_SPLITS:
        raise DatasetError(f"val_split={val_split!r}; allowed: {', '.join(VAL_SPLITS)}")
    if image_size is not None and image_size < 1:
        raise DatasetError(f"image_size={image_size!r} must be a positive integer")
    kind, where = _canonical(name, root)
    return _native(kind, where, download, val_fraction, val_split, image_size)


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
                 val_fraction: float = 0.2, val_split: str = "auto",
                 image_size: int | None = None) -> Dataset:
    """Dataset ``name`` at ``resolution`` (default: native) with ``channels`` (default: native;
    grayscale is repeated to 3 for RGB networks) on ``device``."""
    base = native(name, root, download, val_fraction, val_split, image_size)
    r = base.resolution if resolution is None else resolution
    return prepared(base, r, base.in_channels if channels is None else channels, device)
