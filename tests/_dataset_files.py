"""Small dataset files in the real formats, made by the tests themselves.

:func:`write_cifar` writes CIFAR's python-format batches as the official files are: Python 2
pickles (protocol 2) of dicts with byte-string keys (``SHORT_BINSTRING``, read back as bytes
with ``encoding="bytes"``) and numpy arrays through ``numpy.core.multiarray._reconstruct``.
"""

from __future__ import annotations

import io
import pickle
import struct
import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from archspace.datasets.safe_pickle import ALLOWED_GLOBALS


class _OfficialArray:
    """Pickles as numpy 1.x on Python 2 pickled an ndarray."""

    def __init__(self, a: np.ndarray) -> None:
        self.a = a

    def __reduce__(self) -> Any:
        rec = ALLOWED_GLOBALS[("numpy.core.multiarray", "_reconstruct")]
        return (rec, (np.ndarray, (0,), b"b"),
                (1, self.a.shape, self.a.dtype, False, self.a.tobytes()))


class _Py2Pickler(pickle._Pickler):  # type: ignore[misc]  # the pure-Python pickler, to extend
    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def save_py2_str(self, obj: bytes) -> None:
        n = len(obj)
        head = pickle.SHORT_BINSTRING + bytes([n]) if n < 256 else \
            pickle.BINSTRING + struct.pack("<i", n)
        self.write(head + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def py2_pickle(obj: Any) -> bytes:
    """``obj`` pickled as Python 2's cPickle wrote the CIFAR files (bytes are ``str``)."""
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    # the array constructor under the module name numpy 1.x had
    return buf.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def cifar_batch(n: int, classes: int, seed: int, labels_key: bytes = b"labels") -> dict[bytes, Any]:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    return {b"batch_label": b"training batch", labels_key: [int(i % classes) for i in range(n)],
            b"data": _OfficialArray(data), b"filenames": [f"img_{seed}_{i}.png".encode()
                                                          for i in range(n)]}


def cifar_files(kind: str, n: int = 4) -> dict[str, bytes]:
    """file name -> bytes of a small CIFAR-10 (5 train batches, test, meta) or CIFAR-100."""
    if kind == "cifar10":
        files = {f"data_batch_{i}": cifar_batch(n, 10, i) for i in range(1, 6)}
        files["test_batch"] = cifar_batch(n, 10, 9)
        files["batches.meta"] = {b"num_cases_per_batch": n, b"num_vis": 3072,
                                 b"label_names": [f"c{i}".encode() for i in range(10)]}
    else:
        files = {"train": cifar_batch(5 * n, 100, 1, b"fine_labels"),
                 "test": cifar_batch(n, 100, 9, b"fine_labels"),
                 "meta": {b"fine_label_names": [f"f{i}".encode() for i in range(100)],
                          b"coarse_label_names": [f"k{i}".encode() for i in range(20)]}}
    return {name: py2_pickle(obj) for name, obj in files.items()}


FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
ARCHIVES = {"cifar10": "cifar-10-python.tar.gz", "cifar100": "cifar-100-python.tar.gz"}


def write_cifar(root: Path, kind: str, archive: bool = False, n: int = 4,
                replace: dict[str, bytes] | None = None) -> Path:
    """The official folder (or ``.tar.gz``) of a small ``kind`` under ``root``."""
    files = {**cifar_files(kind, n), **(replace or {})}
    root.mkdir(parents=True, exist_ok=True)
    if archive:
        path = root / ARCHIVES[kind]
        with tarfile.open(path, "w:gz") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(f"{FOLDERS[kind]}/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return path
    folder = root / FOLDERS[kind]
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def png_bytes(side: int, mode: str = "RGB", seed: int = 0, width: int | None = None) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    shape = (side, width or side) + ((3,) if mode == "RGB" else ())
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(buf, "PNG")
    return buf.getvalue()


def tree(splits: dict[str, dict[str, int]], side: int = 8) -> dict[str, bytes]:
    """relative path -> PNG bytes: ``{"train": {"cat": 3}}`` gives train/cat/0.png..2.png
    (split ``""``: no split folder)."""
    out = {}
    for split, classes in splits.items():
        for k, (cls, n) in enumerate(classes.items()):
            for i in range(n):
                path = f"{split}/{cls}/{i}.png" if split else f"{cls}/{i}.png"
                out[path] = png_bytes(side, seed=100 * k + i + len(split))
    return out


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root
