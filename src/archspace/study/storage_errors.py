"""What goes wrong with a study file, said in one line that names the file and what to do.

:class:`StorageError` is the one error a study file raises (the CLI prints it as
``archspace: error: ...``, exit 2). SQLite's own errors (a full disk, a read-only file, a damaged
page) are turned into one by :func:`storage_failure`; :func:`not_a_study` says what a file that
is no study is instead (text, a foreign SQLite database, an empty one, one missing its
write-ahead log).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from archspace.errors import ArchspaceError

__all__ = ["SQLITE_MAGIC", "StorageError", "StudyInUseError", "journal_is_wal", "not_a_study",
           "storage_failure", "wal_path"]

SQLITE_MAGIC = b"SQLite format 3\x00"
_TABLES = ("meta", "study", "trials")


class StorageError(ArchspaceError):
    """A study file that is missing, not a study, damaged, or cannot be written."""


class StudyInUseError(StorageError):
    """Another process writes the study (it holds the study's lock)."""


def wal_path(path: Path) -> Path:
    """The write-ahead log SQLite keeps beside ``path`` (``FILE.db-wal``)."""
    return path.with_name(path.name + "-wal")


def _header(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(100)
    except OSError:
        return b""


def journal_is_wal(path: Path) -> bool:
    """Whether ``path``'s SQLite header says it is in WAL mode (header bytes 18 and 19 are 2)."""
    head = _header(path)
    return head.startswith(SQLITE_MAGIC) and len(head) >= 20 and head[18] == head[19] == 2


def _wal_missing(path: Path) -> str | None:
    """The "may be incomplete" message when ``path`` is a WAL database without its ``-wal``."""
    wal = wal_path(path)
    if not journal_is_wal(path) or (wal.exists() and wal.stat().st_size > 0):
        return None  # (a reader may have made an empty -wal meanwhile)
    return (f"study {path} may be incomplete: its write-ahead log {wal} is missing (the file is "
            f"in WAL mode and holds no study without it): if you copied or moved {path.name}, "
            f"bring {wal.name} beside it; if its creation was interrupted, it holds no trials "
            "and may be deleted")


def not_a_study(path: Path, tables: list[str] | None) -> StorageError:
    """Why ``path`` is not an archspace study: not SQLite (``tables`` None), an SQLite database
    without tables (possibly missing its write-ahead log), or one with other tables."""
    if path.stat().st_size == 0:
        return StorageError(f"{path} is not an archspace study: the file is empty (0 bytes); "
                            f"it holds nothing, so `archspace search --study {path}` may create "
                            "a study there")
    if tables is None or not _header(path).startswith(SQLITE_MAGIC):
        return StorageError(f"{path} is not an archspace study: it is not an SQLite database "
                            "(a study file is one, made by `archspace search --study FILE.db`); "
                            "check the path")
    missing = _wal_missing(path) if not set(_TABLES) <= set(tables) else None
    if missing:
        return StorageError(missing)
    if not tables:
        return StorageError(f"{path} is not an archspace study: it is an empty SQLite database "
                            f"(no tables, so no trials); delete it to create a study there")
    if not set(_TABLES) <= set(tables):
        shown = ", ".join(sorted(tables)[:8]) + (", ..." if len(tables) > 8 else "")
        return StorageError(f"{path} is not an archspace study: it is an SQLite database of "
                            f"another program (tables {shown}; a study has tables "
                            f"{', '.join(_TABLES)}); check the path")
    return StorageError(f"{path} is not an archspace study (no study recorded in it)")


def storage_failure(path: Path, error: BaseException, doing: str) -> StorageError:
    """``error`` (an SQLite error, or an overflow) met while ``doing`` something to the study in
    ``path``, as one line naming the file and what to do; what is recorded is kept."""
    text = str(error)
    low = text.lower()
    kept = "every trial recorded before is kept" if doing == "write" else "nothing was changed"
    if isinstance(error, OverflowError):
        return StorageError(f"cannot {doing} study {path}: a number is too large to store "
                            f"({text}); SQLite keeps whole numbers below 2**63")
    if "disk is full" in low:
        then = (f"continue with `archspace resume {path}`" if doing == "write" else "try again")
        return StorageError(f"cannot {doing} study {path}: the disk is full ({text}); {kept}: "
                            f"free some space, then {then}")
    if "readonly" in low or "read-only" in low:
        return StorageError(f"cannot {doing} study {path}: the file or its folder is read-only "
                            f"({text}); `archspace report` and `export` can still read it; make "
                            "both writable to continue it")
    if isinstance(error, UnicodeDecodeError):
        text = "database disk image is malformed: it holds text that is not UTF-8"
        low = "malformed"
    if "malformed" in low or "not a database" in low or "corrupt" in low:
        return StorageError(f"study {path} is damaged ({text}); restore a copy, or save what "
                            f"SQLite can still read with `sqlite3 {path} .recover | sqlite3 "
                            "recovered.db`")
    if "locked" in low or "busy" in low:
        return StorageError(f"cannot {doing} study {path}: another program keeps the file locked "
                            f"({text}); close it and try again")
    if "disk i/o error" in low or "unable to open" in low:
        return StorageError(f"cannot {doing} study {path}: the disk refused ({text}); check "
                            f"that the disk has space, the quota is not exceeded and the file "
                            f"and its folder are writable; {kept}")
    if isinstance(error, sqlite3.DatabaseError):
        return StorageError(f"cannot {doing} study {path}: {text}")
    return StorageError(f"cannot {doing} study {path}: {type(error).__name__}: {text}")
