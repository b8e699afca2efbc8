"""Writing outputs at once: a file or a folder is made under a temporary name first.

:func:`write_file_atomic` (and :func:`write_text_atomic`) write one file through a temporary
file beside it, flushed to disk and renamed over the target, so a reader or a kill sees the old
file or the new one, never half of one.

``export -o DIR`` and ``report -o DIR`` write through :func:`staged_output`. The files are
produced in a fresh temporary folder; only when all of them are written does the folder take
their place, so a failure (an error, a full disk, Ctrl-C) leaves no partial output:

* ``DIR`` missing: the temporary folder, made beside it, is renamed to ``DIR`` (one atomic
  rename).
* ``DIR`` a folder already: only the caller's own file names (``owned``) are touched. Each new
  file is moved in with :func:`os.replace`, and an owned file the new output lacks (a stale one
  of an earlier run) is removed; every other file in ``DIR`` is left alone. The temporary folder
  is made inside ``DIR``, so the moves never cross a file system.

No write follows a symbolic link: files are created only inside the fresh temporary folder, and
:func:`os.replace` and :func:`os.unlink` replace or remove a link planted at ``DIR/name`` itself,
never the file it points to.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from archspace.errors import ArchspaceError

__all__ = ["check_output", "staged_output", "write_file_atomic", "write_text_atomic"]

_PREFIX = ".archspace-tmp-"


def write_file_atomic(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Write ``path`` by calling ``write`` on a temporary file beside it, then rename it over
    ``path``; its folder is created. On any error the temporary file is removed and ``path`` is
    untouched."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """:func:`write_file_atomic` of ``text`` in UTF-8."""
    return write_file_atomic(path, lambda f: f.write(text.encode("utf-8")))


def check_output(target: Path, owned: Sequence[str], what: str) -> None:
    """Refuse, before any work, an output ``target`` that cannot hold the folder: a file (or
    a link to one), or a folder whose entry for one of ``owned`` is a folder. ``what`` names
    the output in the message (e.g. ``"report folder"``)."""
    if (target.exists() or target.is_symlink()) and not target.is_dir():
        raise ArchspaceError(f"{what} {target} is a file; give a folder (created if missing)")
    if target.is_dir():
        for name in owned:
            entry = target / name
            if entry.is_dir() and not entry.is_symlink():
                raise ArchspaceError(f"{what} {target} holds a folder {name!r} where the file "
                                     "goes; remove it or give another folder")


def _mkdir_fresh(parent: Path, stem: str) -> Path:
    for _ in range(100):
        path = parent / f"{stem}{secrets.token_hex(4)}"
        try:
            path.mkdir()  # mode 0o777 less the umask, as the folder a user makes
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"no free temporary folder name in {parent}")


@contextmanager
def staged_output(target: str | os.PathLike[str], owned: Sequence[str], what: str) -> Iterator[Path]:
    """A fresh empty folder to write the output in; on leaving the block without an error its
    files take their place in ``target`` (see the module doc), else it is removed and
    ``target`` is untouched. ``owned`` lists every file name the output may have, in the order
    they are moved in (put the file that marks a complete output last). Failing to write is
    :class:`~archspace.errors.ArchspaceError` naming ``what`` and ``target``."""
    out = Path(target)
    check_output(out, owned, what)
    existed = out.is_dir()
    try:
        if existed:
            stage = _mkdir_fresh(out, _PREFIX)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            stage = _mkdir_fresh(out.parent, f".{out.name}{_PREFIX}")
    except OSError as e:
        raise ArchspaceError(f"cannot write {what} {out}: {e.strerror or e}") from None
    try:
        yield stage
        made = {p.name for p in stage.iterdir()}
        stray = sorted(made - set(owned))
        if stray:
            raise RuntimeError(f"{what}: unexpected files {stray} (not in {list(owned)})")
        if not existed:
            try:
                stage.rename(out)
                return
            except OSError:  # made meanwhile: merge into it like an existing folder
                if not out.is_dir():
                    raise
        for name in owned:
            if name not in made:
                (out / name).unlink(missing_ok=True)
        for name in owned:
            if name in made:
                os.replace(stage / name, out / name)
        stage.rmdir()
    except OSError as e:
        raise ArchspaceError(f"cannot write {what} {out}: {e.strerror or e}") from None
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
