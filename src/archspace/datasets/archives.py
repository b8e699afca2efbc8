"""The files of an image folder, a ``.tar`` / ``.tar.gz`` or a ``.zip``, as (path parts, bytes).

An archive is streamed once and never extracted. A member whose path leaves the archive's root
(absolute, ``..``, a drive letter), a link (symbolic or hard) or a device is refused: an
archive that holds one was not made as a plain image folder. Hidden entries (``.DS_Store``,
``__MACOSX/``) are skipped.
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from archspace.datasets.core import DatasetError

__all__ = ["ARCHIVE_SUFFIXES", "Member", "folder_files", "is_archive", "read_archive"]

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")

#: A file inside the tree: its path relative to the root, split into parts, and its bytes.
Member = tuple[tuple[str, ...], bytes]


def is_archive(path: Path) -> bool:
    """Whether ``path`` names an archive kind archspace reads (by its suffix)."""
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _parts(name: str, source: Path) -> tuple[str, ...]:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or re.match(r"[A-Za-z]:", name):
        raise DatasetError(f"imagefolder: archive {source} has a member {name!r} outside its "
                           "root; allowed: relative paths inside the archive")
    return tuple(p for p in path.parts if p not in ("", "."))


def _refuse(source: Path, name: str, what: str) -> DatasetError:
    return DatasetError(f"imagefolder: archive {source} has a member {name!r} that is {what}; "
                        "allowed: regular files and folders")


def _tar_members(source: Path, wanted: tuple[str, ...]) -> Iterator[Member]:
    with tarfile.open(source, "r|*") as tar:
        for m in tar:
            parts = _parts(m.name, source)
            if m.issym() or m.islnk():
                raise _refuse(source, m.name, f"a link to {m.linkname!r}")
            if m.isdir():
                continue
            if not m.isfile():
                raise _refuse(source, m.name, "a device or pipe")
            if parts and not _hidden(parts) and parts[-1].lower().endswith(wanted):
                f = tar.extractfile(m)
                yield parts, (f.read() if f is not None else b"")


def _zip_members(source: Path, wanted: tuple[str, ...]) -> Iterator[Member]:
    with zipfile.ZipFile(source) as z:
        for info in z.infolist():
            parts = _parts(info.filename, source)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise _refuse(source, info.filename, "a symbolic link")
            if info.is_dir():
                continue
            if parts and not _hidden(parts) and parts[-1].lower().endswith(wanted):
                yield parts, z.read(info)


def read_archive(source: Path, wanted: tuple[str, ...]) -> list[Member]:
    """Every member of ``source`` whose name ends with one of ``wanted`` (lower case)."""
    try:
        if source.name.lower().endswith(".zip"):
            return list(_zip_members(source, wanted))
        return list(_tar_members(source, wanted))
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as e:
        raise DatasetError(f"imagefolder: cannot read archive {source}: {e}; allowed: a .tar, "
                           ".tar.gz or .zip of an image folder") from None


def folder_files(root: Path, wanted: tuple[str, ...]) -> list[Path]:
    """The files under ``root`` whose name ends with one of ``wanted``, sorted (hidden ones
    skipped; links to files are followed, as a folder's owner made them)."""
    out = []
    for here, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not _hidden((d,))]
        out += [Path(here) / f for f in files
                if not _hidden((f,)) and f.lower().endswith(wanted)]
    return sorted(out)
