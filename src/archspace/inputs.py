"""Text and JSON a user hands over (an ``@FILE`` argument, an arch given as JSON), read safely.

A file is data: it is read as UTF-8 text of at most :data:`~archspace.limits.MAX_FILE_BYTES`
(a directory, a binary file, a NUL byte or an endless device is refused with one line), and
JSON is refused when nested deeper than :data:`~archspace.limits.MAX_JSON_DEPTH` (Python's
parser would hit its recursion limit) or when it holds a number Python will not convert.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from archspace.errors import ArchspaceError
from archspace.limits import MAX_FILE_BYTES, MAX_JSON_DEPTH

__all__ = ["check_json_depth", "load_json", "read_text_file"]

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def read_text_file(path: str, what: str, error: type[ArchspaceError] = ArchspaceError) -> str:
    """The UTF-8 text of file ``path`` (``what`` names it in errors, e.g. ``arch file``)."""
    shown = repr(path)
    if not path:
        raise error(f"{what} name is empty; give @FILE with a path")
    try:
        is_dir = os.path.isdir(path)
    except ValueError:  # e.g. a NUL in the path
        is_dir = False
    if is_dir:
        raise error(f"cannot read {what} {shown}: it is a directory; give a text file")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise error(f"cannot read {what} {shown}: {e.strerror or e}") from None
    except ValueError as e:  # e.g. a NUL in the path
        raise error(f"cannot read {what} {shown}: {e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise error(f"{what} {shown} is larger than {MAX_FILE_BYTES // 2**20} MiB; allowed: a "
                    "text file up to that size")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{what} {shown} is not UTF-8 text (byte {e.start} is {data[e.start]:#04x}); "
                    "allowed: a text file") from None
    if "\x00" in text:
        raise error(f"{what} {shown} holds NUL bytes (a binary file?); allowed: a text file")
    return text


def check_json_depth(text: str, what: str, error: type[ArchspaceError] = ArchspaceError) -> None:
    """Refuse JSON ``text`` nested deeper than :data:`~archspace.limits.MAX_JSON_DEPTH`."""
    depth = 0
    for m in _BRACKET.finditer(_STRING.sub('""', text)):
        depth += 1 if m.group() in "[{" else -1
        if depth > MAX_JSON_DEPTH:
            raise error(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels; allowed: JSON "
                        f"nested at most {MAX_JSON_DEPTH} deep")


def load_json(text: str, what: str, error: type[ArchspaceError] = ArchspaceError) -> Any:
    """``json.loads(text)`` with one-line errors (``what`` names the input)."""
    check_json_depth(text, what, error)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"{what} is malformed JSON: {e.msg} at line {e.lineno} column {e.colno}") \
            from None
    except (ValueError, RecursionError) as e:  # a number past Python's digit limit, say
        raise error(f"{what} cannot be read as JSON: {' '.join(str(e).split())[:120]}") from None
