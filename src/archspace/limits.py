"""Caps on the numbers and files a user gives, checked before any work.

A typo such as ``--budget 1000000000000000000000`` or ``-s population=10000000000000`` must fail
with one line naming the option and its range, not overflow SQLite or a C integer halfway
through a study, nor hang. Each cap sits far above what a real study uses; the command line
(click types in :mod:`archspace.cli._common`), the plugin options (:mod:`archspace.options`)
and the Python API all check against the constants here, so a cap is changed in one place.

================  =============================================================
``MAX_BUDGET``     trials of one study (``--budget``), trial numbers, ``--top``
``MAX_SEED``       seeds are 0 .. 2**32 - 1 (what numpy and optuna accept)
``MAX_WORKERS``    trials evaluated at once (``--workers``), CPUs/GPUs per trial
``MAX_RETRIES``    re-runs of a trial whose worker died (``--max-retries``)
``MAX_ARCHS``      archs printed by ``sample -n``
``MAX_PROFILED``   archs profiled or scored per space (``profile --sample``,
                   ``analyze --samples``)
``MAX_BOOTSTRAP``  bootstrap resamples (``analyze edf --bootstrap``)
``MAX_BINS``       complexity bins (``analyze edf --bins``)
``MAX_GRID``       spaces on an ``analyze flops`` grid
``MAX_RESOLUTION`` input resolution (``--resolution``, ``-p resolution=``)
``MAX_EPOCHS``     training epochs (``-e epochs=``, ``-e horizon=``)
``MAX_SECONDS``    a training time budget in seconds (``-e max_seconds=``)
``MAX_BATCH``      a batch size (``-e batch_size=``)
``MAX_HIDDEN``     a controller's hidden size (``-s hidden=``)
``MAX_CANDIDATES`` candidates a sampler draws per proposal (``-s candidates=``)
``MAX_REFERENCE``  archs of a zero-cost suite's reference sample (``-e reference=``)
``MAX_OPTION_INT`` an integer plugin option that declares no maximum of its own
``MAX_FILE_BYTES`` an ``@FILE`` argument's size
``MAX_JSON_DEPTH`` nesting of JSON read from the command line or an ``@FILE``
================  =============================================================
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from archspace.errors import ArchspaceError

__all__ = ["MAX_ARCHS", "MAX_BATCH", "MAX_BINS", "MAX_BOOTSTRAP", "MAX_BUDGET", "MAX_CANDIDATES",
           "MAX_EPOCHS", "MAX_FILE_BYTES", "MAX_GRID", "MAX_HIDDEN", "MAX_JSON_DEPTH", "MAX_OPTION_INT",
           "MAX_PROFILED", "MAX_REFERENCE", "MAX_RESOLUTION", "MAX_RETRIES", "MAX_SECONDS", "MAX_SEED",
           "MAX_WORKERS", "check_int", "check_number", "check_seed", "int_range"]

MAX_BUDGET = 10_000_000
MAX_SEED = 2**32 - 1
MAX_WORKERS = 4096
MAX_RETRIES = 1000
MAX_ARCHS = 10_000_000
MAX_PROFILED = 1_000_000
MAX_BOOTSTRAP = 100_000
MAX_BINS = 1000
MAX_GRID = 1000
MAX_RESOLUTION = 8192
MAX_EPOCHS = 10_000
MAX_SECONDS = 10_000_000
MAX_BATCH = 65_536
MAX_HIDDEN = 4096
MAX_CANDIDATES = 100_000
MAX_REFERENCE = 10_000
MAX_OPTION_INT = 1_000_000_000
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_JSON_DEPTH = 64


def int_range(low: int, high: int) -> str:
    """``an integer in LOW..HIGH`` (the words every range error uses)."""
    return f"an integer in {low}..{high}"


def check_int(value: Any, what: str, low: int, high: int,
              error: type[ArchspaceError] = ArchspaceError) -> int:
    """``value`` if it is a whole number (not a bool) in ``low..high``; else ``error`` naming
    ``what`` and the range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or not low <= int(value) <= high:
        raise error(f"{what} must be {int_range(low, high)}, got {_show(value)}")
    return int(value)


def check_seed(value: Any, what: str = "seed",
               error: type[ArchspaceError] = ArchspaceError) -> int:
    """A seed: a whole number in ``0..MAX_SEED``."""
    return check_int(value, what, 0, MAX_SEED, error)


def check_number(value: Any, what: str, low: float, high: float,
                 error: type[ArchspaceError] = ArchspaceError) -> float:
    """``value`` if it is a finite real number in ``[low, high]``."""
    try:
        ok = (not isinstance(value, bool) and isinstance(value, numbers.Real)
              and math.isfinite(float(value)) and low <= float(value) <= high)
    except OverflowError:
        ok = False
    if not ok:
        raise error(f"{what} must be a number in [{low:g}, {high:g}], got {_show(value)}")
    return float(value)


def _show(value: Any) -> str:
    """``repr`` of ``value``, short (an integer of thousands of digits stays readable)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."
