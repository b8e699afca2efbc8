"""Decoded datasets cached on disk, once per file content, so a study decodes them once.

A key is the sha256 of what the arrays were decoded from (an archive's bytes, or a folder's
listing of relative path, size and modification time), the loader and :data:`LOADER_VERSION`:
an edited file or a new loader makes a new entry, an unchanged one is found by every trial and
worker. An entry is a folder of uint8/int64 ``.npy`` files (read with ``allow_pickle=False``:
data, never code) and a ``meta.json``; it is written in a temporary folder renamed into place,
so a reader sees a whole entry or none, and two processes filling the same key both succeed.

The folder is ``$ARCHSPACE_CACHE_DIR``, else ``$XDG_CACHE_HOME/archspace``, else
``~/.cache/archspace``; entries live under its ``datasets/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from archspace.datasets.raw import Images

__all__ = ["LOADER_VERSION", "CacheEntry", "cache_dir", "cache_entries", "cached", "cached_arrays",
           "file_digest", "listing_digest", "lookup"]

#: Bump when a loader's output changes for the same input (old entries are then ignored).
LOADER_VERSION = 1
_ARRAYS = ("x", "y", "x_test", "y_test")


def cache_dir() -> Path:
    """The user's archspace cache folder (not created here)."""
    env = os.environ.get("ARCHSPACE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "archspace"


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def listing_digest(root: Path, files: Iterable[Path]) -> str:
    """sha256 of ``files``' (path relative to ``root``, size, mtime) listing."""
    h = hashlib.sha256()
    for f in sorted(files):
        st = f.stat()
        h.update(f"{f.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _entry(key: dict[str, Any]) -> Path:
    text = json.dumps({**key, "loader_version": LOADER_VERSION}, sort_keys=True)
    return cache_dir() / "datasets" / hashlib.sha256(text.encode()).hexdigest()[:40]


def _read(entry: Path) -> Images | None:
    try:
        meta = json.loads((entry / "meta.json").read_text())
        arrays = {n: np.load(entry / f"{n}.npy", allow_pickle=False) for n in meta["arrays"]}
        return Images(classes=tuple(meta["classes"]), **arrays)
    except (OSError, ValueError, KeyError, TypeError):  # missing or damaged: decode again
        return None


def _read_arrays(entry: Path) -> tuple[dict[str, np.ndarray], tuple[str, ...]] | None:
    try:
        meta = json.loads((entry / "meta.json").read_text())
        arrays = {n: np.load(entry / f"{n}.npy", allow_pickle=False) for n in meta["arrays"]}
        return arrays, tuple(str(c) for c in meta["classes"])
    except (OSError, ValueError, KeyError, TypeError):  # missing or damaged: decode again
        return None


def _write(entry: Path, key: dict[str, Any], images: Images, source: str | None = None) -> None:
    _write_arrays(entry, key, images.arrays(), images.classes, source)


def _write_arrays(entry: Path, key: dict[str, Any], arrays: dict[str, np.ndarray],
                  classes: tuple[str, ...], source: str | None = None) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    stage = entry.parent / f".tmp-{entry.name}-{secrets.token_hex(4)}"
    stage.mkdir()
    try:
        for name, a in arrays.items():
            np.save(stage / f"{name}.npy", np.ascontiguousarray(a), allow_pickle=False)
        meta = {"key": key, "classes": list(classes), "arrays": list(arrays),
                "loader_version": LOADER_VERSION, "source": source}
        (stage / "meta.json").write_text(json.dumps(meta, indent=1))
        if entry.exists():  # a damaged entry (a whole one would have been read)
            shutil.rmtree(entry, ignore_errors=True)
        try:
            stage.rename(entry)
        except OSError:
            if not entry.is_dir():  # else another process filled it meanwhile: keep theirs
                raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def cached(key: dict[str, Any], decode: Callable[[], Images], source: str | None = None
           ) -> Images:
    """The images cached under ``key`` (JSON-able: what they were decoded from and how), or
    ``decode()``'s, stored for next time (with ``source``, where they came from, for
    :func:`cache_entries`). A cache that can't be written only costs the next process a
    decode (a warning says so)."""
    entry = _entry(key)
    hit = _read(entry)
    if hit is not None:
        return hit
    images = decode()
    try:
        _write(entry, key, images, source)
    except OSError as e:
        warnings.warn(f"archspace: cannot cache decoded dataset in {entry.parent}: "
                      f"{e.strerror or e}", stacklevel=2)
    return images


def cached_arrays(key: dict[str, Any],
                  decode: Callable[[], tuple[dict[str, np.ndarray], tuple[str, ...]]],
                  source: str | None = None) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """Named arrays and class names cached under ``key``, or ``decode()``'s, stored for next
    time: :func:`cached` for data that isn't one labelled image batch (dense tasks' masks and
    boxes). The arrays should include ``x`` (the images) so :func:`cache_entries` can list
    the entry; they are read back with ``allow_pickle=False`` (numeric arrays only)."""
    entry = _entry(key)
    hit = _read_arrays(entry)
    if hit is not None:
        return hit
    arrays, classes = decode()
    try:
        _write_arrays(entry, key, arrays, classes, source)
    except OSError as e:
        warnings.warn(f"archspace: cannot cache decoded dataset in {entry.parent}: "
                      f"{e.strerror or e}", stacklevel=2)
    return arrays, classes


@dataclass(frozen=True)
class CacheEntry:
    """What one cache entry holds, read from its ``meta.json`` and array headers."""

    path: Path
    loader: str
    source: str | None
    classes: int
    #: array name -> shape (``x``: training images (N, C, H, W); ``x_test``: held-out ones)
    shapes: dict[str, tuple[int, ...]]
    bytes: int

    @property
    def train(self) -> int:
        """Training images."""
        return self.shapes["x"][0]

    @property
    def test(self) -> int | None:
        """Held-out images (None: the source has no split of its own)."""
        shape = self.shapes.get("x_test")
        return shape[0] if shape is not None else None


def _describe(entry: Path) -> CacheEntry | None:
    try:
        meta = json.loads((entry / "meta.json").read_text())
        if meta.get("loader_version") != LOADER_VERSION:
            return None
        shapes = {n: tuple(int(d) for d in np.load(entry / f"{n}.npy", mmap_mode="r",
                                                      allow_pickle=False).shape)
                  for n in meta["arrays"]}
        size = sum(f.stat().st_size for f in entry.iterdir() if f.is_file())
        return CacheEntry(entry, str(meta["key"]["loader"]), meta.get("source"),
                          len(meta["classes"]), shapes, size)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def lookup(key: dict[str, Any]) -> CacheEntry | None:
    """The entry cached under ``key`` (its shapes, not its arrays), or None."""
    return _describe(_entry(key))


def cache_entries() -> list[CacheEntry]:
    """Every readable entry of this loader version in the cache (damaged or old ones are
    skipped: the next load replaces them)."""
    root = cache_dir() / "datasets"
    if not root.is_dir():
        return []
    found = (_describe(e) for e in sorted(root.iterdir()) if not e.name.startswith("."))
    return [e for e in found if e is not None]
