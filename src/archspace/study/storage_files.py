"""Opening and creating study files safely: read-only readers, checked writers, atomic creation.

* A reader opens the file read-only (SQLite ``mode=ro``), so ``report`` and ``export`` work on a
  study in a read-only folder or file; where SQLite cannot make the ``-shm`` it needs beside a
  WAL database and there is no ``-wal`` to read, the file is opened ``immutable``.
* A writer checks that the file and its folder are writable before it starts.
* A new study is written into a hidden temporary file in the same folder and moved into place
  only once its schema and settings are in it: an interrupted, full or failed creation leaves
  nothing at the path (at worst a hidden ``.FILE.db.*.tmp``).
* A file that is no study says what it is instead (see :mod:`archspace.study.storage_errors`).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable, Mapping
from contextlib import suppress
from pathlib import Path

from archspace.study.locking import check_not_in_use
from archspace.study.storage_errors import (
    StorageError,
    not_a_study,
    storage_failure,
    wal_path,
)

__all__ = ["check_new", "check_schema", "check_writable", "connect", "create_atomically"]

TIMEOUT_S = 30.0


def _connect(target: str, uri: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(target, timeout=TIMEOUT_S, isolation_level=None, uri=uri)
    conn.row_factory = sqlite3.Row
    conn.text_factory = _text  # a damaged page may hold bytes that are no UTF-8
    return conn


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]


def connect(path: Path, readonly: bool) -> tuple[sqlite3.Connection, list[str] | None]:
    """A connection to ``path`` and its tables (None when it is not an SQLite database)."""
    if not readonly:
        conn = _connect(os.fspath(path), False)
        return conn, _read_tables(conn, path)
    uri = path.absolute().as_uri() + "?mode=ro"
    conn = _connect(uri, True)
    try:
        return conn, _read_tables(conn, path)
    except sqlite3.OperationalError as e:  # a WAL file whose -shm cannot be made (read-only)
        conn.close()
        if "readonly" not in str(e) and "unable to open" not in str(e):
            raise storage_failure(path, e, "read") from None
        wal = wal_path(path)
        if wal.exists() and wal.stat().st_size > 0:
            raise StorageError(f"cannot read study {path}: its write-ahead log {wal.name} holds "
                               f"trials not yet in {path.name}, and SQLite cannot create "
                               f"{path.name}-shm in {path.parent} to read it ({e}); copy "
                               f"{path.name} and {wal.name} to a writable folder") from None
    except BaseException:
        conn.close()
        raise
    conn = _connect(uri + "&immutable=1", True)
    try:
        return conn, _read_tables(conn, path)
    except BaseException:
        conn.close()
        raise


def _read_tables(conn: sqlite3.Connection, path: Path) -> list[str] | None:
    try:
        return _tables(conn)
    except UnicodeDecodeError as e:  # SQLite's message quotes a damaged schema
        raise storage_failure(path, e, "read") from None
    except sqlite3.DatabaseError as e:
        if "not a database" in str(e) or "encrypted" in str(e):
            return None
        if isinstance(e, sqlite3.OperationalError) and "malformed" not in str(e):
            raise
        raise storage_failure(path, e, "read") from None


def check_schema(conn: sqlite3.Connection, path: Path, tables: list[str] | None,
                 schema_version: int, columns: Mapping[str, set[str]]) -> int:
    """The study id in ``conn``, or :class:`StorageError` saying what ``path`` is instead;
    ``columns``: the columns each table must have."""
    if tables is None or not set(columns) <= set(tables):
        raise not_a_study(path, tables)
    try:
        for table, wanted in columns.items():
            have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            if not wanted <= have:
                missing = ", ".join(sorted(wanted - have))
                raise StorageError(f"study {path} is damaged or not an archspace study: its "
                                   f"{table} table has no column {missing}; restore a copy")
        ok = conn.execute("SELECT value FROM meta WHERE key='archspace_schema'").fetchone()
        row = conn.execute("SELECT id FROM study ORDER BY id LIMIT 1").fetchone()
    except (sqlite3.DatabaseError, UnicodeDecodeError) as e:
        raise storage_failure(path, e, "read") from None
    if ok is None or row is None:
        raise not_a_study(path, tables)
    try:
        version = int(ok["value"])
    except ValueError:
        raise StorageError(f"{path} is not an archspace study (its schema version "
                           f"{ok['value']!r} is not a number)") from None
    if version > schema_version:
        raise StorageError(f"{path} was written by a newer archspace (schema {version}); "
                           f"this one reads schema {schema_version}")
    return int(row["id"])


def check_writable(path: Path) -> None:
    """Refuse, before anything runs, a study whose file or folder cannot be written."""
    folder = path.parent if path.parent != Path("") else Path(".")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StorageError(f"cannot write study {path}: its folder {folder} is read-only (SQLite "
                           f"writes {path.name}-wal beside it); `archspace report` and `export` "
                           "can read it as it is; copy it to a writable folder to continue it")
    if not os.access(path, os.W_OK):
        raise StorageError(f"cannot write study {path}: the file is read-only; `archspace "
                           f"report` and `export` can read it as it is; make it writable "
                           f"(chmod u+w {path}) to continue it")


def check_new(path: Path, describe: Callable[[Path], str], probe: bool = True) -> None:
    """Raise :class:`StorageError` unless a new study may be created in ``path``: it must not
    exist or be empty (recorded trials are never overwritten), no other process may hold it, and
    no write-ahead log of an older file may lie beside it. ``describe`` says what an existing
    non-empty file holds. ``probe=False``: the caller holds the study's lock itself."""
    if path.is_dir():
        raise StorageError(f"{path} is a directory; give a study file such as study.db")
    if probe:
        check_not_in_use(path)
    if path.exists() and path.stat().st_size > 0:
        raise StorageError(describe(path))
    if not path.parent.is_dir():
        raise StorageError(f"cannot create study file {path}: directory {path.parent} does not "
                           "exist")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise StorageError(f"cannot create study file {path}: directory {path.parent} is "
                           "read-only; choose a --study file in a writable folder")
    wal = wal_path(path)
    if wal.exists() and wal.stat().st_size > 0:
        raise StorageError(f"cannot create study file {path}: {wal} is the write-ahead log of an "
                           f"earlier {path.name} (it may hold its trials); move it away (with "
                           f"{path.name}-shm) or choose another --study file")


def create_atomically(path: Path, fill: Callable[[sqlite3.Connection], None]) -> None:
    """Write a new study file at ``path``: ``fill`` writes schema and settings into a temporary
    file beside it (one transaction), which is then switched to WAL mode, flushed to disk and
    moved to ``path`` (never over a study that appeared meanwhile)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        conn = _connect(os.fspath(tmp), False)
        try:
            conn.execute("BEGIN IMMEDIATE")
            fill(conn)
            conn.execute("COMMIT")
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        _place(tmp, path)
    except (sqlite3.Error, OverflowError, OSError) as e:
        raise storage_failure(path, e, "create") from None
    finally:
        for leftover in (tmp, *(tmp.with_name(tmp.name + s) for s in ("-journal", "-wal", "-shm"))):
            with suppress(OSError):
                leftover.unlink()
    with suppress(OSError):  # the rename itself reaches the disk
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _place(tmp: Path, path: Path) -> None:
    if path.exists():  # empty (checked under the lock): replace it
        if path.stat().st_size > 0:
            raise StorageError(f"{path} appeared while the study was being created; choose "
                               "another --study file")
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if a file appeared meanwhile: never overwrite one
    except FileExistsError:
        raise StorageError(f"{path} appeared while the study was being created; choose another "
                           "--study file") from None
    except OSError:  # a filesystem without hard links
        os.replace(tmp, path)
