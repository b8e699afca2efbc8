"""What datasets this machine has: for each name the estimators accept, where it is looked for,
whether it is there and in what form, and what the cache holds (``archspace datasets``).

Looking is cheap: paths are checked and cache keys computed (a folder's listing, an archive's
sha256), nothing is decoded. A dataset's images, classes and resolution come from its cache
entry when it was decoded before, or from decoding it now when asked (``load=True``, which
then caches it as a training run would).
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archspace.datasets import DATASETS
from archspace.datasets.cache import CacheEntry, cache_dir, cache_entries, lookup
from archspace.datasets.core import DatasetError
from archspace.datasets.raw import Images

__all__ = ["ROOT_ENV", "DatasetInfo", "cache_summary", "describe", "describe_all"]

#: The environment variable naming the default ``root`` (see :func:`.sources.default_root`).
ROOT_ENV = "ARCHSPACE_DATA"
#: torchvision's folder under root for the datasets only it reads.
_TORCHVISION_FOLDER = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


@dataclass
class DatasetInfo:
    """One dataset as this machine has it (module doc)."""

    name: str
    summary: str
    #: bundled, folder or archive (None: not found here)
    form: str | None = None
    path: str | None = None
    looked_for: list[str] = field(default_factory=list)
    #: why it can't be read here (a missing extra, a tree without classes), if so
    problem: str | None = None
    train: int | None = None
    test: int | None = None
    classes: int | None = None
    resolution: int | None = None
    channels: int | None = None
    #: whether its decoded arrays are in the cache (None: not cached on disk, e.g. bundled)
    cached: bool | None = None

    @property
    def found(self) -> bool:
        """Whether it is here (in a readable place; ``problem`` may still say it is unfit)."""
        return self.form is not None

    def as_json(self) -> dict[str, Any]:
        """Its fields and ``found``, as JSON-ready values."""
        return {**asdict(self), "found": self.found}

    def _fill(self, images: Images) -> None:
        self.train, self.classes = int(images.x.shape[0]), len(images.classes)
        self.test = int(images.x_test.shape[0]) if images.x_test is not None else None
        self.channels, self.resolution = int(images.x.shape[1]), int(images.x.shape[-1])

    def _fill_cached(self, entry: CacheEntry | None) -> None:
        self.cached = entry is not None
        if entry is not None:
            x = entry.shapes["x"]
            self.train, self.test, self.classes = entry.train, entry.test, entry.classes
            self.channels, self.resolution = int(x[1]), int(x[-1])


def describe(name: str, root: str | None = None, load: bool = False) -> DatasetInfo:
    """Dataset ``name`` (``imagefolder:PATH`` with its path) as found here; ``root`` as the
    estimators' option of that name (default ``$ARCHSPACE_DATA`` or
    ``~/.cache/archspace/data``). An unknown name is a :class:`DatasetError`."""
    from archspace.datasets import _canonical

    kind, where = _canonical(name, root)
    label = f"imagefolder:{where}" if kind == "imagefolder" else kind
    info = DatasetInfo(label, DATASETS["imagefolder:PATH" if kind == "imagefolder" else kind])
    if kind == "digits":
        from archspace.datasets.sources import load_digits

        info.form = "bundled"
        info.looked_for = ["scikit-learn's bundled copy"]
        info._fill(load_digits())
        return info
    assert where is not None  # every other kind has a location
    if kind in _TORCHVISION_FOLDER:
        _torchvision(info, kind, Path(where))
    elif kind == "imagefolder":
        _imagefolder(info, Path(where), load)
    else:
        _cifar(info, kind, Path(where), load)
    return info


def describe_all(root: str | None = None, names: list[str] | None = None,
                 load: bool = False) -> list[DatasetInfo]:
    """:func:`describe` of each of ``names`` (default: every dataset with a fixed name, and
    ``imagefolder:PATH`` as a placeholder)."""
    if names:
        return [describe(n, root, load) for n in names]
    out = [describe(n, root, load) for n in DATASETS if n != "imagefolder:PATH"]
    out.append(DatasetInfo("imagefolder:PATH", DATASETS["imagefolder:PATH"],
                           looked_for=["PATH, as given"]))
    return out


def _cifar(info: DatasetInfo, kind: str, root: Path, load: bool) -> None:
    from archspace.datasets.cifar import cache_key, candidates, find_cifar, load_cifar

    info.looked_for = [str(p) for p in candidates(kind, root)]
    where = find_cifar(kind, root)
    if where is None:
        return
    info.form, info.path = ("folder" if where.is_dir() else "archive"), str(where)
    try:
        info._fill_cached(lookup(cache_key(kind, where)))
        if load and not info.cached:
            info._fill(load_cifar(kind, root))
    except DatasetError as e:
        info.problem = str(e)


def _imagefolder(info: DatasetInfo, path: Path, load: bool) -> None:
    from archspace.datasets.archives import is_archive
    from archspace.datasets.imagefolder import cache_key, load_imagefolder

    info.looked_for = [str(path)]
    if path.is_dir():
        info.form = "folder"
    elif path.is_file() and is_archive(path):
        info.form = "archive"
    else:
        return
    info.path = str(path)
    try:
        info._fill_cached(lookup(cache_key(path)))
        if load and not info.cached:
            info._fill(load_imagefolder(path))
    except DatasetError as e:
        info.problem = str(e)


def _torchvision(info: DatasetInfo, kind: str, root: Path) -> None:
    folder = root / _TORCHVISION_FOLDER[kind]
    info.looked_for = [str(folder)]
    if importlib.util.find_spec("torchvision") is None:
        info.problem = ("needs torchvision, which is not installed: pip install "
                        "'archspace[vision]'")
    if folder.is_dir():
        info.form, info.path = "folder", str(folder)


def cache_summary() -> dict[str, Any]:
    """The cache folder, how it is chosen, and its entries."""
    entries = cache_entries()
    return {"dir": str(cache_dir() / "datasets"), "env": "ARCHSPACE_CACHE_DIR",
            "bytes": sum(e.bytes for e in entries),
            "entries": [{"loader": e.loader, "source": e.source, "train": e.train,
                         "test": e.test, "classes": e.classes,
                         "resolution": int(e.shapes["x"][-1]),
                         "channels": int(e.shapes["x"][1]), "bytes": e.bytes,
                         "path": str(e.path)} for e in entries]}
