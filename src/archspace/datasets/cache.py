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
from pathlib import Path
from typing import Any

import numpy as np

from archspace.datasets.raw import Images

__all__ = ["LOADER_VERSION", "cache_dir", "cached", "file_digest", "listing_digest"]

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


def _write(entry: Path, key: dict[str, Any], images: Images) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    stage = entry.parent / f".tmp-{entry.name}-{secrets.token_hex(4)}"
    stage.mkdir()
    try:
        arrays = images.arrays()
        for name, a in arrays.items():
            np.save(stage / f"{name}.npy", np.ascontiguousarray(a), allow_pickle=False)
        meta = {"key": key, "classes": list(images.classes), "arrays": list(arrays),
                "loader_version": LOADER_VERSION}
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


def cached(key: dict[str, Any], decode: Callable[[], Images]) -> Images:
    """The images cached under ``key`` (JSON-able: what they were decoded from and how), or
    ``decode()``'s, stored for next time. A cache that can't be written only costs the
    next process a decode (a warning says so)."""
    entry = _entry(key)
    hit = _read(entry)
    if hit is not None:
        return hit
    images = decode()
    try:
        _write(entry, key, images)
    except OSError as e:
        warnings.warn(f"archspace: cannot cache decoded dataset in {entry.parent}: "
                      f"{e.strerror or e}", stacklevel=2)
    return images
