"""A study file that cannot be corrupted or left half-made, and says what is wrong with it.

Atomic creation (an interrupted, full or overflowing creation leaves nothing at the path), one
``archspace: error:`` line for every storage failure (a full disk, a read-only file or folder, a
damaged page, a foreign SQLite file, a file that is no SQLite at all, damaged JSON in a row),
read-only readers, WAL checkpoints, and a WAL database whose log is missing. The studies are
nb201 + the NAS-Bench-201 table + random search: a trial is a dict lookup.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archspace
from archspace.cli import cli
from archspace.study import StorageError, StudyStorage, storage_files
from archspace.study import storage as storage_module
from archspace.study.storage_errors import journal_is_wal
from test_study_support import config

NB201 = ["--space", "nb201", "--estimator", "nasbench201", "--strategy", "random"]
ROOT_REASON = "runs as root, which file permissions do not stop"


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _one_line(res: Any, needle: str) -> None:
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("archspace: error:") and res.stderr.count("\n") == 1, res.stderr
    assert needle in res.stderr, res.stderr


def _search(path: Path, budget: int = 8) -> None:
    res = _run("search", *NB201, "--budget", str(budget), "--study", str(path), "--no-progress")
    assert res.exit_code == 0, res.output


def _numbers(path: Path) -> list[int]:
    with StudyStorage.open(path) as s:
        return [t.number for t in s.trials()]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 12-trial study; tests copy it (the file alone: it is checkpointed)."""
    path = tmp_path_factory.mktemp("made") / "s.db"
    _search(path, 12)
    return path


@pytest.fixture
def copy(study: Path, tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    shutil.copy(study, path)
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- creation ------------------------------------------------------------------------------------
def test_an_interrupted_creation_leaves_nothing_at_the_path(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.db"
    fill = storage_module._fill

    def interrupted(conn: sqlite3.Connection, *args: Any) -> None:
        fill(conn, *args)  # schema and settings written, not yet committed
        raise KeyboardInterrupt

    monkeypatch.setattr(storage_module, "_fill", interrupted)
    with pytest.raises(KeyboardInterrupt):
        StudyStorage.create(path, config())
    assert _leftovers(tmp_path) == []  # no study, no temporary file, no lock file
    monkeypatch.undo()
    _search(path, 3)
    assert _numbers(path) == [0, 1, 2]


def test_a_full_disk_during_creation_is_one_line_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    connect = storage_files._connect

    def tiny_disk(target: str, uri: bool) -> sqlite3.Connection:
        conn = connect(target, uri)
        conn.execute("PRAGMA max_page_count = 2")  # the schema needs more pages: SQLITE_FULL
        return conn

    monkeypatch.setattr(storage_files, "_connect", tiny_disk)
    path = tmp_path / "s.db"
    res = _run("search", *NB201, "--budget", "3", "--study", str(path), "--no-progress")
    _one_line(res, f"cannot create study {path}: the disk is full")
    assert _leftovers(tmp_path) == []


def test_a_number_too_large_to_store_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with pytest.raises(StorageError, match=r"too large to store.*below 2\*\*63"):
        StudyStorage.create(path, config(seed=2**70))
    assert _leftovers(tmp_path) == []


def test_a_new_study_file_is_complete_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with StudyStorage.create(path, config()) as s:
        assert s.load_config().status == "created" and not s.readonly
        assert journal_is_wal(path)
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert _leftovers(tmp_path) == ["s.db"]  # checkpointed and closed: no -wal, no lock file


def test_an_empty_file_may_be_replaced_by_a_new_study(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    path.touch()
    res = _run("resume", str(path))
    _one_line(res, "the file is empty (0 bytes)")
    _search(path, 3)
    assert _numbers(path) == [0, 1, 2]


def test_a_stale_write_ahead_log_is_never_replayed_into_a_new_study(tmp_path: Path,
                                                                    copy: Path) -> None:
    path = tmp_path / "new.db"
    (tmp_path / "new.db-wal").write_bytes(b"\x37\x7f\x06\x82" + b"\0" * 60)
    res = _run("search", *NB201, "--budget", "3", "--study", str(path), "--no-progress")
    _one_line(res, "new.db-wal is the write-ahead log of an earlier new.db")
    assert not path.exists()


def _old_half_made(path: Path) -> None:
    """What an older archspace left when killed while creating a study: a 4 KB file in WAL
    mode whose schema was only in the write-ahead log, which is gone."""
    code = ("import os, sqlite3, sys\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('PRAGMA journal_mode=WAL'); c.execute('BEGIN IMMEDIATE')\n"
            "c.execute('CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)')\n"
            "c.execute('COMMIT'); os._exit(0)\n")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink()
    assert path.stat().st_size == 4096 and journal_is_wal(path)


def test_a_wal_study_without_its_log_may_be_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_half_made(path)
    for args in (("resume", str(path)), ("report", str(path), "-o", str(tmp_path / "r")),
                 ("search", *NB201, "--budget", "3", "--study", str(path))):
        res = _run(*args)
        _one_line(res, f"study {path} may be incomplete: its write-ahead log {path}-wal is "
                       "missing")
        assert "not an archspace study" not in res.stderr
        assert "creation was interrupted, it holds no trials" in res.stderr
    with pytest.raises(StorageError, match="may be incomplete"):
        archspace.load_study(path)
    path.unlink()
    _search(path, 3)  # deleted as the message says: the path is free


# -- files that are no study -------------------------------------------------------------------
def _foreign(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE photos (name TEXT)")
        db.execute("CREATE TABLE albums (name TEXT)")


def _empty_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
        db.execute("DROP TABLE t")


@pytest.mark.parametrize("make, needle", [
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20),
     "is not an archspace study: it is not an SQLite database"),
    (lambda p: p.write_text("a,b\n1,2\n" * 300), "it is not an SQLite database"),
    (_foreign, "an SQLite database of another program (tables albums, photos; a study has "
               "tables meta, study, trials)"),
    (_empty_sqlite, "it is an empty SQLite database (no tables, so no trials)"),
], ids=["binary", "text", "foreign-sqlite", "empty-sqlite"])
def test_files_that_are_no_study_say_what_they_are(tmp_path: Path, make: Any, needle: str) -> None:
    path = tmp_path / "x.db"
    make(path)
    before = path.read_bytes()
    for args in (("resume", str(path)), ("report", str(path), "-o", str(tmp_path / "r")),
                 ("export", str(path), "-o", str(tmp_path / "e")),
                 ("search", *NB201, "--budget", "2", "--study", str(path))):
        _one_line(_run(*args), needle)
    with pytest.raises(StorageError, match="not an archspace study"):
        archspace.load_study(path)
    assert path.read_bytes() == before  # nothing ever writes into someone else's file
    assert not (tmp_path / "r").exists() and not (tmp_path / "e").exists()


def test_a_damaged_page_is_one_line_with_how_to_recover(copy: Path, tmp_path: Path) -> None:
    with copy.open("r+b") as f:  # the trials table's pages follow the schema's
        f.seek(2 * 4096)
        f.write(b"\xff" * 64)
    for args in (("resume", str(copy), "--budget", "20"),
                 ("report", str(copy), "-o", str(tmp_path / "r"))):
        _one_line(_run(*args), f"study {copy} is damaged (database disk image is malformed); "
                               f"restore a copy, or save what SQLite can still read with "
                               f"`sqlite3 {copy} .recover")
    with pytest.raises(StorageError, match="is damaged"):
        _ = archspace.load_study(copy).trials


# -- damaged values in rows ----------------------------------------------------------------------
def test_a_row_with_damaged_json_is_skipped_by_readers_and_refused_by_resume(copy: Path,
                                                                             tmp_path: Path) -> None:
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE trials SET metrics = '{\"acc\": 9' WHERE number = 3")
        db.execute("UPDATE trials SET arch_json = '[1, 2]' WHERE number = 5")
    handle = archspace.load_study(copy)
    with pytest.warns(RuntimeWarning) as caught:
        trials = handle.trials
    assert [str(w.message).split(": ", 1)[1] for w in caught] == [
        "trial 3 is skipped: its metrics is not valid JSON (JSONDecodeError: Expecting ',' "
        "delimiter: line 1 column 10 (char 9))",
        "trial 5 is skipped: its arch_json holds a JSON list, not a dict"]
    assert [t.number for t in trials] == [0, 1, 2, 4, 6, 7, 8, 9, 10, 11]
    res = _run("export", str(copy), "-o", str(tmp_path / "e"), "-f", "json")
    assert res.exit_code == 0, res.output
    assert "warning: study" in res.stderr and "trial 5 is skipped: its arch_json holds a JSON " \
        "list, not a dict" in res.stderr
    res = _run("resume", str(copy), "--budget", "20")
    _one_line(res, f"trial 3 in study {copy} is damaged: its metrics is not valid JSON")
    assert "DELETE FROM trials WHERE number=3" in res.stderr
    with sqlite3.connect(copy) as db:  # what the message says to do
        db.execute("DELETE FROM trials WHERE number IN (3, 5)")
    res = _run("resume", str(copy), "--budget", "14", "--no-progress")
    assert res.exit_code == 0, res.output
    assert len(_numbers(copy)) == 14


def test_damaged_settings_are_one_line(copy: Path) -> None:
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE study SET space_params = 'not json'")
    _one_line(_run("resume", str(copy)), f"the settings of study {copy} are damaged: its "
                                         "space_params is not valid JSON")
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE study SET space_params = '{}'")
        db.execute("UPDATE meta SET value = '[[[' WHERE key = 'executor'")
    _one_line(_run("resume", str(copy)), f"the 'executor' entry of study {copy} is damaged")


def test_deeply_nested_json_in_a_row_is_a_damaged_row(copy: Path) -> None:
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE trials SET cost = ? WHERE number = 0", ("[" * 100_000 + "]" * 100_000,))
    with pytest.warns(RuntimeWarning, match="trial 0 is skipped: its cost is not valid JSON"):
        assert len(archspace.load_study(copy).trials) == 11


# -- writing fails ---------------------------------------------------------------------------------
def test_a_full_disk_while_running_is_one_line_and_keeps_every_trial(
        copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    connect = storage_files._connect

    def filling_disk(target: str, uri: bool) -> sqlite3.Connection:
        conn = connect(target, uri)
        if not uri:  # the writer: room for a few more trials only
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages + 1}")
        return conn

    monkeypatch.setattr(storage_files, "_connect", filling_disk)
    res = _run("resume", str(copy), "--budget", "400", "--no-progress")
    started, error = res.stderr.splitlines()  # "resuming ...", then the error, no traceback
    assert res.exit_code == 2 and started.startswith(f"resuming {copy}: 12/400")
    assert error.startswith(f"archspace: error: cannot write study {copy}: the disk is full "
                            "(database or disk is full); every trial recorded before is kept")
    assert error.endswith(f"then continue with `archspace resume {copy}`")
    kept = _numbers(copy)
    assert len(kept) >= 12 and kept == sorted(set(kept))
    monkeypatch.undo()  # space freed: the study goes on where it stopped
    res = _run("resume", str(copy), "--budget", "30", "--no-progress")
    assert res.exit_code == 0, res.output
    assert _numbers(copy)[:len(kept)] == kept and len(_numbers(copy)) == 30


def test_a_reader_refuses_to_write(copy: Path) -> None:
    with StudyStorage.open(copy) as s:
        assert s.readonly
        with pytest.raises(StorageError, match=r"open for reading only.*archspace resume"):
            s.set_status("finished")
        with pytest.raises(StorageError, match="open for reading only"):
            s.drop_running()


@pytest.mark.skipif(os.geteuid() == 0, reason=ROOT_REASON)
def test_a_read_only_file_is_read_but_not_resumed(copy: Path, tmp_path: Path) -> None:
    copy.chmod(0o444)
    _one_line(_run("resume", str(copy), "--budget", "20"),
              f"cannot write study {copy}: the file is read-only")
    handle = archspace.load_study(copy)
    assert len(handle.trials) == 12 and handle.best is not None
    res = _run("export", str(copy), "-o", str(tmp_path / "e"), "-f", "json")
    assert res.exit_code == 0, res.output
    with pytest.raises(StorageError, match="the file is read-only"):
        archspace.resume(copy, budget=20)


@pytest.mark.skipif(os.geteuid() == 0, reason=ROOT_REASON)
def test_a_study_in_a_read_only_folder_is_reported_and_exported(study: Path,
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "s.db"
    shutil.copy(study, path)
    folder.chmod(0o555)
    try:
        handle = archspace.load_study(path)
        assert len(handle.trials) == 12 and handle.n_trials == 12
        res = _run("export", str(path), "-o", str(tmp_path / "e"), "-f", "json")
        assert res.exit_code == 0, res.output
        _one_line(_run("resume", str(path), "--budget", "20"),
                  f"cannot write study {path}: its folder {folder} is read-only")
        _one_line(_run("search", *NB201, "--budget", "2", "--study", str(folder / "n.db")),
                  f"directory {folder} is read-only")
        assert _leftovers(folder) == ["s.db"]
    finally:
        folder.chmod(0o755)


# -- the write-ahead log ----------------------------------------------------------------------------
def test_the_log_is_checkpointed_every_few_trials(tmp_path: Path) -> None:
    from archspace.study.storage import CHECKPOINT_EVERY, TrialRecord

    path = tmp_path / "s.db"
    wal = tmp_path / "s.db-wal"
    with StudyStorage.create(path, config()) as s:
        for n in range(CHECKPOINT_EVERY):
            s.finish_trial(TrialRecord(n, f"w0={n}", {}, "failed", None, None, None, None, "x",
                                       0.0, 0.0, None, None))
        # the file alone (as a copy without its -wal would be) has every trial
        shutil.copy(path, tmp_path / "copy.db")
        assert wal.exists()
    with sqlite3.connect(tmp_path / "copy.db") as db:
        assert db.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == CHECKPOINT_EVERY
    assert not wal.exists()  # closed: all of it in the file


# -- fuzz: any bytes, any damage ----------------------------------------------------------------
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 12 * 4096 - 1), st.binary(min_size=1, max_size=16)),
                      min_size=1, max_size=6))
def test_a_damaged_study_file_is_read_or_refused_in_one_line(study: Path, tmp_path: Path,
                                                             edits: list[tuple[int, bytes]]) -> None:
    """Bytes of a real study overwritten anywhere (its header, schema, pages): reading it gives
    the trials SQLite can still read (warning about rows it cannot decode) or a StorageError;
    never another exception."""
    data = bytearray(study.read_bytes())
    for offset, chunk in edits:
        data[offset:offset + len(chunk)] = chunk
    path = tmp_path / f"fuzz-{os.getpid()}-{hash(bytes(data)) & 0xffffffff}.db"
    path.write_bytes(bytes(data[:12 * 4096]))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            handle = archspace.load_study(path)
            for t in handle.trials:
                assert isinstance(t.number, int | str | float | bytes | type(None))
            _ = handle.best, handle.pareto, handle.counts, handle.config
    except StorageError:
        pass
    finally:
        for p in tmp_path.glob(path.name + "*"):
            p.unlink()
