"""Checkpoints of trained networks: written atomically, read as data only.

A checkpoint is one ``torch.save`` file holding plain containers and tensors: the network's
``state_dict``, the optimiser's state, the schedule (its base learning rates and horizon), the
batch generator's state and, mid-epoch, that epoch's batch order, plus what was trained (arch,
space, options, seed, epochs reached) and its metrics. That is everything
:meth:`~archspace.estimators.train.TrainEstimator.evaluate_at` needs to continue training
exactly where it stopped, and everything ``archspace export`` needs to skip re-training.

It is written to a temporary file in the target's folder and renamed over the target, so a
reader never sees half a file; it is read with ``torch.load(weights_only=True)``, which builds
tensors and containers and runs no code from the file.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archspace.estimators.base import EstimatorError

__all__ = ["FORMAT", "load_checkpoint", "save_checkpoint"]

#: The ``format`` field of every checkpoint this version writes.
FORMAT = "archspace-train-checkpoint/1"


def save_checkpoint(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` (with :data:`FORMAT`) to ``path`` atomically; its folder is created."""
    import torch

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({**payload, "format": FORMAT}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint in ``path`` (tensors on the CPU); :class:`EstimatorError` naming the file
    if it is missing, not a checkpoint, or holds anything but data (refused before any of it
    is built: nothing in the file runs)."""
    import pickle
    import warnings

    import torch

    p = Path(path)
    if not p.is_file():
        raise EstimatorError(f"checkpoint {p} does not exist; allowed: a file written with "
                             "keep=best or keep=all")
    try:
        with warnings.catch_warnings():  # e.g. torch's note on a pickle protocol: the error says it
            warnings.simplefilter("ignore")
            data = torch.load(p, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, TypeError,
            AttributeError, IndexError, KeyError, MemoryError) as e:
        raise EstimatorError(f"checkpoint {p} {_why_unreadable(e)}; allowed: an archspace "
                             "training checkpoint (tensors and plain containers)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise EstimatorError(f"checkpoint {p} is not an archspace training checkpoint "
                             f"(format {FORMAT!r} expected)")
    return data


def _why_unreadable(e: BaseException) -> str:
    """What ``torch.load(weights_only=True)``'s error says about the file, in a few words (its
    own text advises loading without ``weights_only``, which would run the file's code)."""
    text = str(e)
    named = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if named:
        return f"names {named.group(1)}, not data: refused unrun"
    if "WeightsUnpickler error" in text or "Weights only load failed" in text:
        op = re.search(r"Unsupported operand (\S+)", text)
        detail = f" (pickle opcode {op.group(1)} is not allowed)" if op else ""
        return f"is not a file of tensors and containers{detail}: refused unrun"
    first = (text.strip().splitlines() or [type(e).__name__])[0].split(". ")[0]
    return f"is corrupt or truncated ({type(e).__name__}: {first[:120]})"
