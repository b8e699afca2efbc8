"""One writer per study: an OS lock on ``FILE.db.lock`` beside the study file.

The process that writes a study (``search``, ``resume``, :func:`archspace.search` /
:func:`archspace.resume`) holds an exclusive ``flock`` on the lock file for as long as it has the
study open; a second writer is refused at once with :class:`StudyInUseError`, naming the holder
(pid, host, command and start, which the holder writes into the lock file). The operating
system drops the lock when the holder exits, however it exits (a SIGKILL too), so a dead
writer never blocks a study; readers (``report``, ``export``, :func:`archspace.load_study`)
take no lock. A clean release removes the lock file; a killed holder's file stays and is
simply taken over. Where ``fcntl`` is missing (Windows), ``msvcrt`` locks the file's first byte.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import warnings
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

from archspace.study.storage_errors import StorageError, StudyInUseError

__all__ = ["StudyLock", "check_not_in_use", "lock_path"]

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


def lock_path(study: Path) -> Path:
    """The lock file of the study in ``study``: ``FILE.db.lock``."""
    return study.with_name(study.name + ".lock")


def _try_lock(f: IO[bytes]) -> bool:
    if fcntl is not None:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    import msvcrt  # pragma: no cover (Windows)

    try:  # pragma: no cover
        msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
    except OSError:  # pragma: no cover
        return False
    return True  # pragma: no cover


def _command() -> str:
    args = list(sys.argv) or ["python"]
    prog = os.path.basename(args[0]) or "python"
    if prog in ("__main__.py", "archspace"):
        prog = "archspace"
    elif prog.endswith(".py") or prog in ("-c", "-m", ""):
        prog = f"python {prog}"
    text = " ".join([prog, *args[1:]])
    return text if len(text) <= 120 else text[:117] + "..."


def _holder(f: IO[bytes]) -> dict[str, Any]:
    with suppress(OSError, ValueError):
        f.seek(0)
        info = json.loads(f.read(4096).decode("utf-8", "replace"))
        if isinstance(info, dict):
            return info
    return {}


def _in_use(study: Path, info: dict[str, Any]) -> StudyInUseError:
    pid, host = info.get("pid"), info.get("host")
    if not isinstance(pid, int):
        who = f"another process (it holds {lock_path(study).name})"
        stop = "wait for it to finish or stop it"
    else:
        command, since = info.get("command"), info.get("since")
        when = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since))
                if isinstance(since, int | float) else "?")
        where = f" on host {host}" if isinstance(host, str) and host != socket.gethostname() else ""
        who = f"pid {pid}{where} ({command or '?'}, since {when})"
        stop = f"wait for it to finish or stop it (kill {pid})"
        if not where and pid == os.getpid():
            who = f"this process (pid {pid}, since {when})"
            stop = "close the study object that has it open first (its close())"
        elif not where and not _alive(pid):
            stop = (f"pid {pid} has exited but a process it started still holds the lock: stop "
                    "that process")
    return StudyInUseError(f"study {study} is in use by {who}; one process at a time may write a "
                           f"study: {stop}, then `archspace resume {study}`; `archspace report` "
                           "and `export` can read it meanwhile")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def check_not_in_use(study: Path) -> None:
    """Raise :class:`StudyInUseError` if another process holds ``study``'s lock (a probe: the
    lock is not kept, and no file is created)."""
    try:
        f = lock_path(study).open("rb")
    except OSError:
        return  # no lock file: nobody holds it (or it cannot be read: acquire will say)
    with f:
        try:
            free = _try_lock(f)
        except OSError:  # locks unsupported here (acquire says so)
            return
        if not free:
            raise _in_use(study, _holder(f))


class StudyLock:
    """The exclusive lock of one study, held from :meth:`acquire` to :meth:`release`."""

    def __init__(self, study: Path, file: IO[bytes]) -> None:
        self.study = study
        self.path = lock_path(study)
        self._file: IO[bytes] | None = file

    @classmethod
    def acquire(cls, study: Path) -> StudyLock:
        """Take ``study``'s lock, or raise :class:`StudyInUseError` naming its holder (or
        :class:`StorageError` if the lock file cannot be made, e.g. a read-only folder)."""
        path = lock_path(study)
        for _ in range(100):
            try:
                f = path.open("a+b")
            except OSError as e:
                raise StorageError(f"cannot write study {study}: cannot create its lock file "
                                   f"{path} ({e.strerror or e}); the study's folder must be "
                                   "writable to continue it (`archspace report` and `export` "
                                   "can read it as it is)") from None
            try:
                free = _try_lock(f)
            except OSError as e:  # a filesystem without locks: go on, but say so
                warnings.warn(f"cannot lock study {study} ({e.strerror or e}): this filesystem "
                              "does not support file locks; make sure no other process writes "
                              "the study meanwhile", RuntimeWarning, stacklevel=3)
                free = True
            if not free:
                info = _holder(f)
                f.close()
                raise _in_use(study, info)
            try:  # a releasing holder may have removed the file we locked: lock the new one
                same = os.path.samestat(os.fstat(f.fileno()), os.stat(path))
            except OSError:
                same = False
            if same:
                break
            f.close()
        else:  # pragma: no cover (a lock file that keeps being replaced)
            raise StorageError(f"cannot lock study {study}: its lock file {path} keeps changing")
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": _command(),
                "since": time.time()}
        with suppress(OSError):
            f.seek(0)
            f.truncate()
            f.write(json.dumps(info).encode())
            f.flush()
        return cls(study, f)

    @property
    def held(self) -> bool:
        """Whether this lock is still held."""
        return self._file is not None

    def release(self) -> None:
        """Let the lock go (and remove the lock file); idempotent."""
        f, self._file = self._file, None
        if f is None:
            return
        if fcntl is not None:  # removed while still held, so no one locks a file about to go
            with suppress(OSError):
                os.unlink(self.path)
        f.close()

    def __enter__(self) -> StudyLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
