"""Checkpoints of trained networks: written atomically, read as data only.

A checkpoint is one ``torch.save`` file holding plain containers and tensors: the network's
``state_dict``, the optimiser's state, the schedule (its base learning rates and horizon), the
batch generator's state and, mid-epoch, that epoch's batch order, plus what was trained (arch,
space, options, seed, epochs reached) and its metrics. That is everything
:meth:`~archspace.estimators.train.TrainEstimator.evaluate_at` needs to continue training
exactly where it stopped, and everything ``archspace export`` needs to skip re-training.

It is written to a temporary file in the target's folder and renamed over the target, so a
reader never sees half a file; it is read with ``torch.load(weights_only=True)``, which builds
tensors and containers and runs no code from the file (:mod:`archspace._torch_files`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archspace._torch_files import UnreadableTorchFile, load_torch_data, save_torch_atomic
from archspace.estimators.base import EstimatorError

__all__ = ["FORMAT", "load_checkpoint", "save_checkpoint"]

#: The ``format`` field of every checkpoint this version writes.
FORMAT = "archspace-train-checkpoint/1"


def save_checkpoint(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` (with :data:`FORMAT`) to ``path`` atomically; its folder is created."""
    return save_torch_atomic(path, {**payload, "format": FORMAT})


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint in ``path`` (tensors on the CPU); :class:`EstimatorError` naming the file
    if it is missing, not a checkpoint, or holds anything but data (refused before any of it
    is built: nothing in the file runs)."""
    p = Path(path)
    if not p.is_file():
        raise EstimatorError(f"checkpoint {p} does not exist; allowed: a file written with "
                             "keep=best or keep=all")
    try:
        data = load_torch_data(p)
    except UnreadableTorchFile as e:
        raise EstimatorError(f"checkpoint {p} {e.reason}; allowed: an archspace "
                             "training checkpoint (tensors and plain containers)") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise EstimatorError(f"checkpoint {p} is not an archspace training checkpoint "
                             f"(format {FORMAT!r} expected)")
    return data
