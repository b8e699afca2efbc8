"""SQLite persistence of a study: its configuration and every trial, written as it completes.

One file holds one study. The file uses WAL journaling, so readers (``archspace report``, a
notebook) can open it while a search writes. Each trial is written in one transaction the
moment it finishes, so a killed process loses at most the trial it was evaluating; the log is
copied into the file itself (checkpointed) every :data:`CHECKPOINT_EVERY` trials and at close,
so a killed study leaves little in ``FILE.db-wal``.

Thread-safety follows Optuna's storage contract in its simplest form: there is a single writer,
the study driver, owning one :class:`StudyStorage` opened with ``write=True`` (or made by
:meth:`StudyStorage.create`); it holds the study's lock (:mod:`archspace.study.locking`), so a
second writing process is refused, and a connection is used only from the thread that opened
it. Any number of readers may open their own read-only :class:`StudyStorage` on the same file.
Reads return frozen records (:class:`StudyConfig`, :class:`TrialRecord`), never live rows.

Every failure of the file (missing, not a study, damaged, full disk, read-only) is a
:class:`StorageError` naming the file and what to do (see :mod:`archspace.study.storage_errors`);
what is recorded is never lost. A trial row whose JSON is damaged is skipped with a warning by a
reader and refused by a writer (a resume cannot replay it).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from archspace.study.locking import StudyLock, check_not_in_use
from archspace.study.objectives import as_number, pareto_front
from archspace.study.storage_errors import StorageError, StudyInUseError, storage_failure
from archspace.study.storage_files import (
    check_new,
    check_schema,
    check_writable,
    connect,
    create_atomically,
)

__all__ = ["CHECKPOINT_EVERY", "STATUSES", "StorageError", "StudyConfig", "StudyInUseError",
           "StudyStorage", "TrialRecord"]

#: Trial statuses: ``running`` rows exist only while (or if killed while) a trial evaluates.
STATUSES = ("complete", "failed", "infeasible", "running")
SCHEMA_VERSION = 1
#: Trials written between two checkpoints of the write-ahead log into the study file.
CHECKPOINT_EVERY = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS study (
    id INTEGER PRIMARY KEY,
    space TEXT NOT NULL, space_params TEXT NOT NULL,
    estimator TEXT NOT NULL, estimator_options TEXT NOT NULL,
    strategy TEXT NOT NULL, strategy_options TEXT NOT NULL,
    seed INTEGER NOT NULL, budget INTEGER NOT NULL,
    constraints TEXT NOT NULL, objectives TEXT NOT NULL, reward TEXT,
    created REAL NOT NULL, status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    study_id INTEGER NOT NULL REFERENCES study(id),
    number INTEGER NOT NULL,
    arch TEXT NOT NULL, arch_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('complete', 'failed', 'infeasible', 'running')),
    metrics TEXT, cost TEXT, score REAL, objectives TEXT, error TEXT,
    duration REAL, started REAL NOT NULL, finished REAL,
    tell_order INTEGER, asked INTEGER, schedule TEXT,
    PRIMARY KEY (study_id, number)
);
"""
#: The columns a study file's tables must have (``asked`` and ``schedule`` are added to older files on write).
_COLUMNS = {
    "meta": {"key", "value"},
    "study": {"id", "space", "space_params", "estimator", "estimator_options", "strategy",
              "strategy_options", "seed", "budget", "constraints", "objectives", "reward",
              "created", "status"},
    "trials": {"study_id", "number", "arch", "arch_json", "status", "metrics", "cost", "score",
               "objectives", "error", "duration", "started", "finished", "tell_order"},
}


@dataclass(frozen=True)
class StudyConfig:
    """Everything needed to rebuild a study's space, estimator and strategy."""

    space: str
    space_params: Mapping[str, Any]
    estimator: str
    estimator_options: Mapping[str, Any]
    strategy: str
    strategy_options: Mapping[str, Any]
    seed: int
    budget: int
    constraints: tuple[str, ...] = ()
    objectives: tuple[str, ...] = ()
    reward: str | None = None
    created: float = 0.0
    status: str = "created"
    id: int = 0


@dataclass(frozen=True)
class TrialRecord:
    """One trial as stored. ``number`` is the order it was asked in, ``tell_order`` the order
    its result was recorded (and told to the strategy); equal for a sequential study.
    ``asked`` is how many trials the strategy had been asked for when this one was told
    (``number + 1`` for a sequential study): with it a resume replays asks and tells in their
    original interleaving, whatever the executor. ``schedule`` is where a multi-fidelity
    scheduler placed the trial (``bracket``, ``rung``, ``resource``, the ``parent`` trial it
    was promoted from; see :mod:`archspace.study.scheduled`), None in an unscheduled study."""

    number: int
    arch: str
    arch_json: Mapping[str, Any]
    status: str
    metrics: Mapping[str, float] | None
    cost: Mapping[str, float] | None
    score: float | None
    objectives: tuple[float, ...] | None
    error: str | None
    duration: float | None
    started: float
    finished: float | None
    tell_order: int | None
    asked: int | None = None
    schedule: Mapping[str, Any] | None = None


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _dumps(obj: Any) -> str:
    """Strict JSON (NaN and infinities stored as null, so any JSON reader, and SQLite's json
    functions, can read every column)."""
    return json.dumps(_finite(obj), sort_keys=True, allow_nan=False)


class _BadValue(Exception):
    """A stored column that does not hold what archspace wrote there."""

    def __init__(self, column: str, why: str) -> None:
        super().__init__(f"{column} {why}")
        self.column, self.why = column, why


def _json(row: sqlite3.Row, column: str, kind: type | None = None, optional: bool = False) -> Any:
    text = row[column]
    if text is None and optional:
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError) as e:
        raise _BadValue(column, f"is not valid JSON ({type(e).__name__}: {str(e)[:80]})") from None
    if kind is not None and not isinstance(value, kind):
        raise _BadValue(column, f"holds a JSON {type(value).__name__}, not a {kind.__name__}")
    return value


def _numbers(value: Any) -> tuple[float, ...] | None:
    """A stored objectives list, or None if it is not a list of numbers (a foreign row)."""
    numbers = [as_number(v) for v in value] if isinstance(value, list) else [None]
    return None if None in numbers else tuple(n for n in numbers if n is not None)


def _trial(row: sqlite3.Row) -> TrialRecord:
    return TrialRecord(
        number=row["number"], arch=row["arch"], arch_json=_json(row, "arch_json", dict),
        status=row["status"], metrics=_json(row, "metrics", dict, True),
        cost=_json(row, "cost", dict, True), score=as_number(row["score"]),
        objectives=_numbers(_json(row, "objectives", None, True)),
        error=row["error"], duration=row["duration"], started=row["started"],
        finished=row["finished"], tell_order=row["tell_order"],
        asked=row["asked"] if "asked" in row.keys() else None,  # noqa: SIM118 (Row: in = values)
        schedule=_schedule(row))


def _schedule(row: sqlite3.Row) -> Mapping[str, Any] | None:
    """A trial's schedule column: an object, or None (no column, null, or a foreign value)."""
    text = row["schedule"] if "schedule" in row.keys() else None  # noqa: SIM118
    if text is None:
        return None
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _fill(conn: sqlite3.Connection, config: StudyConfig, meta: Mapping[str, Any]) -> None:
    """Write the schema, the settings and ``meta`` of a new study (inside one transaction)."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('archspace_schema', ?)", (str(SCHEMA_VERSION),))
    for key, value in meta.items():
        conn.execute("INSERT INTO meta VALUES (?, ?)", (key, _dumps(value)))
    conn.execute(
        "INSERT INTO study (space, space_params, estimator, estimator_options, strategy, "
        "strategy_options, seed, budget, constraints, objectives, reward, created, status) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (config.space, _dumps(dict(config.space_params)), config.estimator,
         _dumps(dict(config.estimator_options)), config.strategy,
         _dumps(dict(config.strategy_options)), config.seed, config.budget,
         _dumps(list(config.constraints)), _dumps(list(config.objectives)), config.reward,
         config.created or time.time(), "created"))


F = TypeVar("F", bound=Callable[..., Any])


def _guarded(doing: str) -> Callable[[F], F]:
    """SQLite's errors (and numbers too large for it) raised by a method, as a
    :class:`StorageError` naming the file and what to do."""
    def wrap(method: F) -> F:
        @wraps(method)
        def guarded(self: StudyStorage, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except (sqlite3.Error, OverflowError, UnicodeDecodeError) as e:
                raise storage_failure(self.path, e, doing) from None
        return guarded  # type: ignore[return-value]
    return wrap


class StudyStorage:
    """A study file. Use :meth:`create` for a new study and :meth:`open` for an existing one
    (read-only unless ``write=True``)."""

    def __init__(self, path: str | os.PathLike[str], conn: sqlite3.Connection, *,
                 readonly: bool = False, lock: StudyLock | None = None) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._conn = conn
        self._lock = lock
        self._study_id = 0
        self._recorded: tuple[int, int] | None = None  # (data_version, finished trials)
        self._since_checkpoint = 0
        self._warned: set[tuple[Any, str]] = set()

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def check_new(cls, path: str | os.PathLike[str]) -> None:
        """Raise :class:`StorageError` unless a new study may be created in ``path`` (it must
        not exist or be empty: recorded trials are never overwritten; and no other process may
        be writing it)."""
        check_new(Path(path), _describe_existing)

    @staticmethod
    def check_writer(path: str | os.PathLike[str]) -> None:
        """Refuse, before any work, to continue the study in ``path``: :class:`StudyInUseError`
        if another process writes it, :class:`StorageError` if it or its folder is read-only
        (:meth:`open` with ``write=True`` checks again when it takes the lock)."""
        p = Path(path)
        check_not_in_use(p)
        if p.is_file():
            check_writable(p)

    @classmethod
    def create(cls, path: str | os.PathLike[str], config: StudyConfig,
               meta: Mapping[str, Any] | None = None) -> StudyStorage:
        """Create the study in ``path`` and open it for writing (holding its lock); refuses a
        file that already holds one. The file appears at ``path`` only once its schema,
        ``config`` and ``meta`` (JSON values, see :meth:`set_meta`) are written."""
        p = Path(path)
        check_new(p, _describe_existing)
        lock = StudyLock.acquire(p)
        try:
            check_new(p, _describe_existing, probe=False)  # again, under the lock
            create_atomically(p, lambda conn: _fill(conn, config, meta or {}))
            try:
                return cls._open(p, readonly=False, lock=lock)
            except BaseException:  # e.g. no room for its -shm: the new file holds no trial yet
                for made in (p, *(p.with_name(p.name + s) for s in ("-wal", "-shm"))):
                    with suppress(OSError):
                        made.unlink()
                raise
        except BaseException:
            lock.release()
            raise

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, write: bool = False) -> StudyStorage:
        """Open an existing study file: read-only (a reader: ``report``, ``export``, a notebook;
        it works in a read-only folder), or with ``write=True`` for the one process that
        continues the study (it takes the study's lock: :class:`StudyInUseError` if another
        process has it)."""
        p = Path(path)
        if not p.is_file():
            what = "is a directory, not a study file" if p.is_dir() else "does not exist"
            raise StorageError(f"study file {p} {what}")
        if not os.access(p, os.R_OK):
            raise StorageError(f"cannot read study {p}: permission denied")
        if not write:
            return cls._open(p, readonly=True, lock=None)
        check_writable(p)
        lock = StudyLock.acquire(p)
        try:
            return cls._open(p, readonly=False, lock=lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def _open(cls, p: Path, readonly: bool, lock: StudyLock | None) -> StudyStorage:
        try:
            conn, tables = connect(p, readonly)
        except sqlite3.Error as e:
            raise storage_failure(p, e, "open") from None
        try:
            study_id = check_schema(conn, p, tables, SCHEMA_VERSION, _COLUMNS)
            columns = {r["name"] for r in conn.execute("PRAGMA table_info(trials)")}
            if not readonly:
                for column, kind in (("asked", "INTEGER"), ("schedule", "TEXT")):
                    if column not in columns:  # a file from before the column existed
                        conn.execute(f"ALTER TABLE trials ADD COLUMN {column} {kind}")
        except (sqlite3.Error, UnicodeDecodeError) as e:
            conn.close()
            raise storage_failure(p, e, "open") from None
        except BaseException:
            conn.close()
            raise
        store = cls(p, conn, readonly=readonly, lock=lock)
        store._study_id = study_id
        return store

    def checkpoint(self, mode: str = "PASSIVE") -> None:
        """Copy the write-ahead log into the study file (``PASSIVE``: as far as readers allow,
        without waiting; ``TRUNCATE``: all of it, then empty the log). A failure is harmless:
        the log keeps what the file has not taken."""
        if self.readonly:
            return
        with suppress(sqlite3.Error):
            self._conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
        self._since_checkpoint = 0

    def close(self) -> None:
        """Checkpoint (a writer), close the connection and release the study's lock."""
        try:
            if not self.readonly:
                with suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA busy_timeout = 2000")
                self.checkpoint("TRUNCATE")
            self._conn.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    def __enter__(self) -> StudyStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise StorageError(f"study {self.path} is open for reading only (as `archspace "
                               "report`, `export` and archspace.load_study open it); continue "
                               f"it with `archspace resume {self.path}` or archspace.resume()")
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            with suppress(sqlite3.Error):  # SQLite may have rolled back already (a full disk)
                self._conn.execute("ROLLBACK")
            raise
        try:
            self._conn.execute("COMMIT")
        except BaseException:
            with suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            raise

    def _bad_row(self, row: sqlite3.Row, bad: _BadValue) -> None:
        number = row["number"]
        if not self.readonly:
            raise StorageError(
                f"trial {number} in study {self.path} is damaged: its {bad.column} {bad.why}; "
                f"it cannot be replayed to continue the study: restore a copy, or delete the row "
                f"(sqlite3 {self.path} 'DELETE FROM trials WHERE number={number}'; the trial is "
                "then evaluated again); `archspace report` and `export` skip it")
        if (number, bad.column) not in self._warned:
            self._warned.add((number, bad.column))
            warnings.warn(f"study {self.path}: trial {number} is skipped: its {bad.column} "
                          f"{bad.why}", RuntimeWarning, stacklevel=4)

    # -- reads -------------------------------------------------------------------------------
    @_guarded("read")
    def load_config(self) -> StudyConfig:
        """The study's configuration."""
        r = self._conn.execute("SELECT * FROM study WHERE id=?", (self._study_id,)).fetchone()
        try:
            return StudyConfig(
                space=r["space"], space_params=_json(r, "space_params", dict),
                estimator=r["estimator"], estimator_options=_json(r, "estimator_options", dict),
                strategy=r["strategy"], strategy_options=_json(r, "strategy_options", dict),
                seed=r["seed"], budget=r["budget"],
                constraints=tuple(_json(r, "constraints", list)),
                objectives=tuple(_json(r, "objectives", list)), reward=r["reward"],
                created=r["created"], status=r["status"], id=r["id"])
        except _BadValue as bad:
            raise StorageError(f"the settings of study {self.path} are damaged: its "
                               f"{bad.column} {bad.why}; restore a copy of the file") from None

    @_guarded("read")
    def trials(self, status: str | Sequence[str] | None = None) -> list[TrialRecord]:
        """Trials in ask order, optionally only those with the given status(es). A row whose
        stored JSON is damaged is skipped with a RuntimeWarning (a reader) or refused with a
        :class:`StorageError` (a writer)."""
        rows = self._conn.execute("SELECT * FROM trials WHERE study_id=? ORDER BY number",
                                  (self._study_id,)).fetchall()
        wanted = {status} if isinstance(status, str) else set(status or STATUSES)
        out = []
        for r in rows:
            if r["status"] in wanted:
                try:
                    out.append(_trial(r))
                except _BadValue as bad:
                    self._bad_row(r, bad)
        return out

    def recorded(self) -> list[TrialRecord]:
        """Finished trials (complete, failed, infeasible) in the order they were told."""
        done = self.trials(("complete", "failed", "infeasible"))
        return sorted(done, key=lambda t: (t.tell_order if t.tell_order is not None else t.number))

    @_guarded("read")
    def n_recorded(self) -> int:
        """How many trials have finished (the count the budget is measured against).

        Counted once, then kept up to date by :meth:`finish_trial`; counted again only when
        another connection has written to the file since (SQLite's ``data_version``), so a long
        study does not rescan its trials for every new one.
        """
        version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        if self._recorded is None or self._recorded[0] != version:
            row = self._conn.execute("SELECT COUNT(*) FROM trials WHERE study_id=? AND "
                                     "status!='running'", (self._study_id,)).fetchone()
            self._recorded = (version, int(row[0]))
        return self._recorded[1]

    def best_trial(self) -> TrialRecord | None:
        """The complete trial with the highest score (earliest on ties), or None."""
        best = None
        for t in self.trials("complete"):
            if t.score is not None and (best is None or t.score > best.score):  # type: ignore[operator]
                best = t
        return best

    def pareto_trials(self) -> list[TrialRecord]:
        """Complete trials whose objectives no other complete trial dominates, in ask order."""
        done = [t for t in self.trials("complete") if t.objectives]
        return [done[i] for i in pareto_front([t.objectives or () for t in done])]

    @_guarded("read")
    def meta(self, key: str) -> Any:
        """A JSON value kept beside the study (e.g. the executor it last ran on), or None."""
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        try:
            return None if row is None else _json(row, "value")
        except _BadValue as bad:
            raise StorageError(f"the {key!r} entry of study {self.path} is damaged: its value "
                               f"{bad.why.removeprefix('value ')}; restore a copy of the file") from None

    # -- writes (the single writer: the study driver) ----------------------------------------
    @_guarded("write")
    def set_status(self, status: str) -> None:
        """Mark the study ``created``, ``running``, ``interrupted`` or ``finished``."""
        with self._transaction() as c:
            c.execute("UPDATE study SET status=? WHERE id=?", (status, self._study_id))

    @_guarded("write")
    def set_meta(self, key: str, value: Any) -> None:
        """Keep ``value`` (JSON) under ``key``; ``archspace_schema`` is reserved."""
        if key == "archspace_schema":
            raise ValueError("the schema version is not a user meta key")
        with self._transaction() as c:
            c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, _dumps(value)))

    @_guarded("write")
    def set_budget(self, budget: int) -> None:
        """Change the study's budget (``archspace resume --budget``)."""
        with self._transaction() as c:
            c.execute("UPDATE study SET budget=? WHERE id=?", (budget, self._study_id))

    @_guarded("write")
    def start_trial(self, number: int, arch: str, arch_json: Mapping[str, Any]) -> None:
        """Record that trial ``number`` started evaluating (status ``running``)."""
        with self._transaction() as c:
            c.execute("INSERT INTO trials (study_id, number, arch, arch_json, status, started) "
                      "VALUES (?,?,?,?,'running',?)",
                      (self._study_id, number, arch, _dumps(dict(arch_json)), time.time()))

    @_guarded("write")
    def finish_trial(self, record: TrialRecord) -> TrialRecord:
        """Write a finished trial (inserting or replacing its running row) in one transaction;
        its ``tell_order`` is assigned here and the stored record returned. Every
        :data:`CHECKPOINT_EVERY` trials the log is checkpointed into the file."""
        if record.status not in STATUSES[:3]:
            raise ValueError(f"finish_trial needs a final status, got {record.status!r}")
        with self._transaction() as c:
            n = self.n_recorded()
            old = c.execute("SELECT status FROM trials WHERE study_id=? AND number=?",
                            (self._study_id, record.number)).fetchone()
            rec = replace(record, tell_order=n, finished=record.finished or time.time())
            c.execute(
                "INSERT OR REPLACE INTO trials (study_id, number, arch, arch_json, status, metrics, "
                "cost, score, objectives, error, duration, started, finished, tell_order, asked, "
                "schedule) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (self._study_id, rec.number, rec.arch, _dumps(dict(rec.arch_json)), rec.status,
                 None if rec.metrics is None else _dumps(dict(rec.metrics)),
                 None if rec.cost is None else _dumps(dict(rec.cost)), rec.score,
                 None if rec.objectives is None else _dumps(list(rec.objectives)), rec.error,
                 rec.duration, rec.started, rec.finished, rec.tell_order, rec.asked,
                 None if rec.schedule is None else _dumps(dict(rec.schedule))))
        if self._recorded is not None and (old is None or old["status"] == "running"):
            self._recorded = (self._recorded[0], n + 1)
        self._since_checkpoint += 1
        if self._since_checkpoint >= CHECKPOINT_EVERY:
            self.checkpoint()
        return rec

    @_guarded("write")
    def drop_running(self) -> int:
        """Delete trials left ``running`` by a killed process (they are re-asked); returns how
        many."""
        with self._transaction() as c:
            cur = c.execute("DELETE FROM trials WHERE study_id=? AND status='running'",
                            (self._study_id,))
        return cur.rowcount


def _describe_existing(path: Path) -> str:
    """Why a new study may not be created over the non-empty file ``path``."""
    try:
        StudyStorage.open(path).close()
    except StudyInUseError:
        raise
    except StorageError as e:
        text = str(e)
        if "is not an archspace study" in text or "may be incomplete" in text:
            return f"{text}; or give another --study file"
        return f"{path} exists and cannot be read as a study ({text}); choose another --study file"
    return (f"{path} already holds a study; continue it with `archspace resume {path}` or choose "
            "another --study file")
