"""CIFAR-10 and CIFAR-100 from their official python-format files, without torchvision.

Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", tech. report, 2009
(https://www.cs.toronto.edu/~kriz/cifar.html). Each is looked for under a root folder as the
extracted folder (``cifar-10-batches-py``, ``cifar-100-python``) or its archive
(``cifar-10-python.tar.gz``, ``cifar-100-python.tar.gz``); the root may also be either itself.
The batches are pickles, read by :mod:`archspace.datasets.safe_pickle` (data, never code): a
dict with ``data`` (uint8, one 3x32x32 image per row) and ``labels`` (CIFAR-100:
``fine_labels``), and a meta file naming the classes. The training batches are the training
images, the test batch the source's held-out split.
"""

from __future__ import annotations

import pickle
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from archspace.datasets.cache import cached, file_digest, listing_digest
from archspace.datasets.core import DatasetError
from archspace.datasets.raw import Images
from archspace.datasets.safe_pickle import RefusedGlobal, load_data_pickle

__all__ = ["CIFAR", "CifarFormat", "cache_key", "candidates", "find_cifar", "load_cifar"]


@dataclass(frozen=True)
class CifarFormat:
    """Where one CIFAR variant keeps its batches and which keys hold what."""

    folder: str
    archive: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    meta: str
    labels: str
    names: str

    @property
    def files(self) -> tuple[str, ...]:
        """Every file read, relative to :attr:`folder`."""
        return (*self.train, *self.test, self.meta)


CIFAR = {
    "cifar10": CifarFormat("cifar-10-batches-py", "cifar-10-python.tar.gz",
                           tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",),
                           "batches.meta", "labels", "label_names"),
    "cifar100": CifarFormat("cifar-100-python", "cifar-100-python.tar.gz", ("train",), ("test",),
                            "meta", "fine_labels", "fine_label_names"),
}


def candidates(kind: str, root: Path) -> list[Path]:
    """Where ``kind`` is looked for under ``root``, in order."""
    fmt = CIFAR[kind]
    return [root / fmt.folder, root / fmt.archive, root]


def find_cifar(kind: str, root: Path) -> Path | None:
    """The folder or archive of ``kind`` under ``root`` (or ``root`` itself), or None."""
    fmt = CIFAR[kind]
    for p in candidates(kind, root):
        if p.is_dir() and (p / fmt.meta).is_file():
            return p
        if p.is_file() and p.name.endswith((".tar.gz", ".tgz", ".tar")):
            return p
    return None


def load_cifar(kind: str, root: Path) -> Images:
    """The training and test images of ``kind`` found under ``root`` (decoded once per file
    content, then read from the cache)."""
    where = find_cifar(kind, root)
    if where is None:
        looked = " or ".join(str(p) for p in candidates(kind, root)[:2])
        raise DatasetError(f"dataset {kind!r} not found: looked for {looked}; allowed: root=DIR "
                           f"holding the python version of {kind} (folder {CIFAR[kind].folder} or "
                           f"archive {CIFAR[kind].archive}, from "
                           "https://www.cs.toronto.edu/~kriz/cifar.html)")
    return cached(cache_key(kind, where), lambda: _decode(kind, where), str(where))


def cache_key(kind: str, where: Path) -> dict[str, str]:
    """The cache key of ``kind``'s folder or archive ``where`` (see :func:`find_cifar`)."""
    if where.is_dir():
        files = [where / f for f in CIFAR[kind].files]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise DatasetError(f"dataset {kind!r}: {where} lacks {', '.join(missing)}; allowed: "
                               f"a folder with {', '.join(CIFAR[kind].files)}")
        return {"loader": kind, "folder": listing_digest(where, files)}
    return {"loader": kind, "archive": file_digest(where)}


def _decode(kind: str, where: Path) -> Images:
    return _decode_folder(kind, where) if where.is_dir() else _decode_archive(kind, where)


def _decode_folder(kind: str, folder: Path) -> Images:
    return _assemble(kind, str(folder), lambda name: (folder / name).read_bytes())


def _decode_archive(kind: str, archive: Path) -> Images:
    fmt = CIFAR[kind]
    wanted = {f"{fmt.folder}/{f}": f for f in fmt.files}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:  # only the expected regular files are read; nothing is extracted
                name = wanted.get(member.name.removeprefix("./"))
                if name is not None and member.isfile():
                    f = tar.extractfile(member)
                    found[name] = f.read() if f is not None else b""
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DatasetError(f"dataset {kind!r}: cannot read archive {archive}: {e}; allowed: the "
                           f"official {fmt.archive}") from None
    missing = [f for f in fmt.files if f not in found]
    if missing:
        raise DatasetError(f"dataset {kind!r}: archive {archive} lacks "
                           f"{', '.join(f'{fmt.folder}/{m}' for m in missing)}; allowed: the "
                           f"official {fmt.archive}")
    return _assemble(kind, str(archive), found.__getitem__)


def _assemble(kind: str, source: str, read: Callable[[str], bytes]) -> Images:
    fmt = CIFAR[kind]
    meta = _unpickle(kind, source, fmt.meta, read(fmt.meta))
    classes = _names(kind, source, fmt, meta)
    train = [_batch(kind, source, f, read(f), len(classes)) for f in fmt.train]
    test = [_batch(kind, source, f, read(f), len(classes)) for f in fmt.test]
    return Images(np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]),
                  classes, np.concatenate([x for x, _ in test]),
                  np.concatenate([y for _, y in test]))


def _unpickle(kind: str, source: str, name: str, data: bytes) -> dict[str, object]:
    where = f"dataset {kind!r}: {source}: {name}"
    try:
        obj = load_data_pickle(data)
    except RefusedGlobal as e:
        raise DatasetError(f"{where} is not a CIFAR data file: it names {e.qualified}, refused "
                           "unrun; allowed: dicts, lists, bytes and numpy arrays") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError,
            KeyError, AttributeError, MemoryError) as e:
        raise DatasetError(f"{where} is corrupt ({type(e).__name__}: {e}); allowed: the "
                           f"official file") from None
    if not isinstance(obj, dict):
        raise DatasetError(f"{where} holds a {type(obj).__name__}, not a CIFAR dict")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _names(kind: str, source: str, fmt: CifarFormat, meta: dict[str, object]) -> tuple[str, ...]:
    names = meta.get(fmt.names)
    if not isinstance(names, list) or not names:
        raise DatasetError(f"dataset {kind!r}: {source}: {fmt.meta} has no {fmt.names!r} list")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def _batch(kind: str, source: str, name: str, data: bytes, classes: int
           ) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle(kind, source, name, data)
    x, y = d.get("data"), d.get(CIFAR[kind].labels)
    where = f"dataset {kind!r}: {source}: {name}"
    if not (isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim == 2
            and x.shape[1] == 3 * 32 * 32):
        raise DatasetError(f"{where}: 'data' is not a uint8 array of 3072-pixel rows")
    try:
        labels = np.asarray(y if isinstance(y, list | np.ndarray) else [], dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        labels = np.zeros(0, dtype=np.int64)
    if labels.shape != (x.shape[0],) or (labels.size and not 0 <= labels.min() <= labels.max()
                                         < classes):
        raise DatasetError(f"{where}: {CIFAR[kind].labels!r} is not one label in [0, {classes}) "
                           "per image")
    return x.reshape(-1, 3, 32, 32), labels
