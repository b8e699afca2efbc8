"""Where latency tables live: one small JSON file per device in the user's data folder.

The folder is ``$ARCHSPACE_DATA_DIR``, else ``$XDG_DATA_HOME/archspace``, else
``~/.local/share/archspace``; tables are ``latency/<device>.json`` under it. A device name is
letters, digits, ``-``, ``_`` and ``.`` (at most 64, not starting with a dot), so it is always a
plain file name. Loading checks the file is a table (:meth:`LatencyTable.from_json`), names the
same device, and was measured on this machine (the fingerprint of
:func:`~archspace.cost.latency_measure.machine_fingerprint`): a table measures one machine.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from archspace._atomic import write_text_atomic
from archspace.cost.latency_measure import machine_fingerprint
from archspace.cost.latency_table import LatencyError, LatencyTable

__all__ = ["MAX_TABLE_BYTES", "check_device_name", "data_dir", "devices", "load_table",
           "save_table", "table_path"]

_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")
#: Largest table file read (a table of 10,000 layers is about 1 MB).
MAX_TABLE_BYTES = 32 * 1024 * 1024
_tables: dict[tuple[str, int, int], LatencyTable] = {}


def data_dir() -> Path:
    """The user's archspace data folder (not created here)."""
    env = os.environ.get("ARCHSPACE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share") / "archspace"


def check_device_name(name: str) -> str:
    """``name`` if it can name a device, else a :class:`LatencyError`."""
    if not isinstance(name, str) or not _NAME.match(name):
        shown = name if isinstance(name, str) and len(name) <= 40 else f"{str(name)[:37]}..."
        raise LatencyError(f"bad device name {shown!r}; allowed: 1-64 letters, digits, '-', '_' "
                           "or '.', not starting with '.'")
    return name


def table_path(device: str) -> Path:
    """The table file of ``device``."""
    return data_dir() / "latency" / f"{check_device_name(device)}.json"


def devices() -> list[str]:
    """The devices with a table file, sorted."""
    folder = data_dir() / "latency"
    try:
        return sorted(p.stem for p in folder.glob("*.json") if _NAME.match(p.stem))
    except OSError:
        return []


def _calibrated() -> str:
    names = devices()
    return ", ".join(names) if names else "none (run 'archspace latency calibrate --device NAME')"


def load_table(device: str, check_machine: bool = True) -> LatencyTable:
    """The table of ``device``; :class:`LatencyError` when there is none (naming the calibrated
    devices), when it is damaged, names another device or (with ``check_machine``) was
    measured on another machine."""
    path = table_path(device)
    try:
        st = path.stat()
    except OSError:
        raise LatencyError(f"unknown device {device!r}: no latency table in {path.parent}; "
                           f"calibrated: {_calibrated()}") from None
    key = (os.fspath(path), st.st_mtime_ns, st.st_size)
    table = _tables.get(key)
    if table is None:
        if st.st_size > MAX_TABLE_BYTES:
            raise LatencyError(f"latency table {path} is damaged: {st.st_size} bytes, more than "
                               f"{MAX_TABLE_BYTES}")
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
            raise LatencyError(f"latency table {path} is damaged: not JSON ({type(e).__name__}); "
                               "recalibrate with 'archspace latency calibrate --device "
                               f"{device}'") from None
        table = LatencyTable.from_json(obj, os.fspath(path))
        _tables.clear()
        _tables[key] = table
    if table.device != device:
        raise LatencyError(f"latency table {path} was calibrated for device {table.device!r}, "
                           f"not {device!r}; use --device {table.device} or recalibrate")
    if check_machine and table.fingerprint != machine_fingerprint():
        cpu = table.machine.get("cpu", "?")
        raise LatencyError(f"latency table of device {device!r} was measured on another machine "
                           f"(fingerprint {table.fingerprint}, cpu {cpu!r}; this machine is "
                           f"{machine_fingerprint()}); recalibrate with 'archspace latency "
                           f"calibrate --device {device}'")
    return table


def save_table(table: LatencyTable) -> Path:
    """Write ``table`` as its device's file (atomically); returns the path."""
    return write_text_atomic(table_path(table.device), json.dumps(table.to_json(), indent=1) + "\n")
