"""SQLite persistence of a study: its configuration and every trial, written as it completes.

One file holds one study. The file uses WAL journaling, so readers (``archspace report``, a
notebook) can open it while a search writes. Each trial is written in one transaction the
moment it finishes, so a killed process loses at most the trial it was evaluating.

Thread-safety follows Optuna's storage contract in its simplest form: there is a single writer,
the study driver, owning one :class:`StudyStorage`; a connection is used only from the thread
that opened it. Any number of readers may open their own :class:`StudyStorage` on the same file.
Reads return frozen records (:class:`StudyConfig`, :class:`TrialRecord`), never live rows.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from archspace.errors import ArchspaceError
from archspace.study.objectives import as_number, pareto_front

__all__ = ["STATUSES", "StorageError", "StudyConfig", "StudyStorage", "TrialRecord"]

#: Trial statuses: ``running`` rows exist only while (or if killed while) a trial evaluates.
STATUSES = ("complete", "failed", "infeasible", "running")
SCHEMA_VERSION = 1

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


class StorageError(ArchspaceError):
    """A missing study file, or a file that is not an archspace study."""


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


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _numbers(value: Any) -> tuple[float, ...] | None:
    """A stored objectives list, or None if it is not a list of numbers (a foreign row)."""
    numbers = [as_number(v) for v in value] if isinstance(value, list) else [None]
    return None if None in numbers else tuple(n for n in numbers if n is not None)


def _trial(row: sqlite3.Row) -> TrialRecord:
    return TrialRecord(
        number=row["number"], arch=row["arch"], arch_json=json.loads(row["arch_json"]),
        status=row["status"], metrics=_loads(row["metrics"]), cost=_loads(row["cost"]),
        score=as_number(row["score"]), objectives=_numbers(_loads(row["objectives"])),
        error=row["error"], duration=row["duration"], started=row["started"],
        finished=row["finished"], tell_order=row["tell_order"],
        asked=row["asked"] if "asked" in row.keys() else None,  # noqa: SIM118 (Row: in = values)
        schedule=_schedule(row))


def _schedule(row: sqlite3.Row) -> Mapping[str, Any] | None:
    """A trial's schedule column: an object, or None (no column, null, or a foreign value)."""
    text = row["schedule"] if "schedule" in row.keys() else None  # noqa: SIM118
    try:
        value = _loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class StudyStorage:
    """A study file. Use :meth:`create` for a new study and :meth:`open` for an existing one."""

    def __init__(self, path: str | os.PathLike[str], conn: sqlite3.Connection) -> None:
        self.path = Path(path)
        self._conn = conn
        self._study_id = 0
        self._recorded: tuple[int, int] | None = None  # (data_version, finished trials)

    # -- opening -----------------------------------------------------------------------------
    @staticmethod
    def _connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
        conn = sqlite3.connect(os.fspath(path), timeout=30.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        return conn

    @classmethod
    def check_new(cls, path: str | os.PathLike[str]) -> None:
        """Raise :class:`StorageError` unless a new study may be created in ``path`` (it must
        not exist or be empty: recorded trials are never overwritten)."""
        p = Path(path)
        if p.is_dir():
            raise StorageError(f"{p} is a directory; give a study file such as study.db")
        if p.exists() and p.stat().st_size > 0:
            try:
                existing = cls.open(p)
            except StorageError:
                raise StorageError(f"{p} exists and is not an archspace study; choose another "
                                   "--study file") from None
            existing.close()
            raise StorageError(f"{p} already holds a study; continue it with `archspace resume "
                               f"{p}` or choose another --study file")
        if not p.parent.is_dir():
            raise StorageError(f"cannot create study file {p}: directory {p.parent} does not exist")

    @classmethod
    def create(cls, path: str | os.PathLike[str], config: StudyConfig,
               meta: Mapping[str, Any] | None = None) -> StudyStorage:
        """Create the study in ``path``; refuses a file that already holds one. ``meta``
        (JSON values, see :meth:`set_meta`) is written in the same transaction."""
        p = Path(path)
        cls.check_new(p)
        try:
            conn = cls._connect(p)
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as e:
            raise StorageError(f"cannot create study file {p}: {e}") from None
        store = cls(p, conn)
        conn.executescript("BEGIN IMMEDIATE;" + _SCHEMA)  # schema and study row commit together
        with store._transaction(begun=True) as c:
            c.execute("INSERT INTO meta VALUES ('archspace_schema', ?)", (str(SCHEMA_VERSION),))
            for key, value in (meta or {}).items():
                c.execute("INSERT INTO meta VALUES (?, ?)", (key, _dumps(value)))
            cur = c.execute(
                "INSERT INTO study (space, space_params, estimator, estimator_options, strategy, "
                "strategy_options, seed, budget, constraints, objectives, reward, created, status) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (config.space, _dumps(dict(config.space_params)), config.estimator,
                 _dumps(dict(config.estimator_options)), config.strategy,
                 _dumps(dict(config.strategy_options)), config.seed, config.budget,
                 _dumps(list(config.constraints)), _dumps(list(config.objectives)), config.reward,
                 config.created or time.time(), "created"))
            store._study_id = int(cur.lastrowid or 0)
        return store

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> StudyStorage:
        """Open an existing study file (read and write)."""
        p = Path(path)
        if not p.is_file():
            raise StorageError(f"study file {p} does not exist")
        try:
            conn = cls._connect(p)
            ok = conn.execute("SELECT value FROM meta WHERE key='archspace_schema'").fetchone()
            row = conn.execute("SELECT id FROM study ORDER BY id LIMIT 1").fetchone()
        except sqlite3.DatabaseError:
            conn.close()
            raise StorageError(f"{p} is not an archspace study (not a study database)") from None
        if ok is None or row is None:
            conn.close()
            raise StorageError(f"{p} is not an archspace study (no study recorded in it)")
        if int(ok["value"]) > SCHEMA_VERSION:
            conn.close()
            raise StorageError(f"{p} was written by a newer archspace (schema {ok['value']}); "
                               f"this one reads schema {SCHEMA_VERSION}")
        columns = {r["name"] for r in conn.execute("PRAGMA table_info(trials)")}
        for column, kind in (("asked", "INTEGER"), ("schedule", "TEXT")):
            if column not in columns:  # a file from before the column existed
                with suppress(sqlite3.OperationalError):  # read-only: rows then read None
                    conn.execute(f"ALTER TABLE trials ADD COLUMN {column} {kind}")
        store = cls(p, conn)
        store._study_id = int(row["id"])
        return store

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> StudyStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self, begun: bool = False) -> Iterator[sqlite3.Connection]:
        if not begun:
            self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # -- reads -------------------------------------------------------------------------------
    def load_config(self) -> StudyConfig:
        """The study's configuration."""
        r = self._conn.execute("SELECT * FROM study WHERE id=?", (self._study_id,)).fetchone()
        return StudyConfig(
            space=r["space"], space_params=json.loads(r["space_params"]),
            estimator=r["estimator"], estimator_options=json.loads(r["estimator_options"]),
            strategy=r["strategy"], strategy_options=json.loads(r["strategy_options"]),
            seed=r["seed"], budget=r["budget"], constraints=tuple(json.loads(r["constraints"])),
            objectives=tuple(json.loads(r["objectives"])), reward=r["reward"],
            created=r["created"], status=r["status"], id=r["id"])

    def trials(self, status: str | Sequence[str] | None = None) -> list[TrialRecord]:
        """Trials in ask order, optionally only those with the given status(es)."""
        rows = self._conn.execute("SELECT * FROM trials WHERE study_id=? ORDER BY number",
                                  (self._study_id,)).fetchall()
        wanted = {status} if isinstance(status, str) else set(status or STATUSES)
        return [_trial(r) for r in rows if r["status"] in wanted]

    def recorded(self) -> list[TrialRecord]:
        """Finished trials (complete, failed, infeasible) in the order they were told."""
        done = self.trials(("complete", "failed", "infeasible"))
        return sorted(done, key=lambda t: (t.tell_order if t.tell_order is not None else t.number))

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

    # -- writes (the single writer: the study driver) ----------------------------------------
    def set_status(self, status: str) -> None:
        """Mark the study ``created``, ``running``, ``interrupted`` or ``finished``."""
        with self._transaction() as c:
            c.execute("UPDATE study SET status=? WHERE id=?", (status, self._study_id))

    def meta(self, key: str) -> Any:
        """A JSON value kept beside the study (e.g. the executor it last ran on), or None."""
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else json.loads(row["value"])

    def set_meta(self, key: str, value: Any) -> None:
        """Keep ``value`` (JSON) under ``key``; ``archspace_schema`` is reserved."""
        if key == "archspace_schema":
            raise ValueError("the schema version is not a user meta key")
        with self._transaction() as c:
            c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, _dumps(value)))

    def set_budget(self, budget: int) -> None:
        """Change the study's budget (``archspace resume --budget``)."""
        with self._transaction() as c:
            c.execute("UPDATE study SET budget=? WHERE id=?", (budget, self._study_id))

    def start_trial(self, number: int, arch: str, arch_json: Mapping[str, Any]) -> None:
        """Record that trial ``number`` started evaluating (status ``running``)."""
        with self._transaction() as c:
            c.execute("INSERT INTO trials (study_id, number, arch, arch_json, status, started) "
                      "VALUES (?,?,?,?,'running',?)",
                      (self._study_id, number, arch, _dumps(dict(arch_json)), time.time()))

    def finish_trial(self, record: TrialRecord) -> TrialRecord:
        """Write a finished trial (inserting or replacing its running row) in one transaction;
        its ``tell_order`` is assigned here and the stored record returned."""
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
        return rec

    def drop_running(self) -> int:
        """Delete trials left ``running`` by a killed process (they are re-asked); returns how
        many."""
        with self._transaction() as c:
            cur = c.execute("DELETE FROM trials WHERE study_id=? AND status='running'",
                            (self._study_id,))
        return cur.rowcount
