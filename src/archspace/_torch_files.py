"""Files of tensors and plain containers: saved atomically, loaded as data only.

Training checkpoints (:mod:`archspace.estimators.checkpoint`) and supernet files
(:mod:`archspace.supernet.checkpoint`) are one ``torch.save`` each. They are written through
:func:`archspace._atomic.write_file_atomic` and read with ``torch.load(weights_only=True)``,
which builds tensors and containers and runs no code from the file; what it refuses is said in a
few words (:class:`UnreadableTorchFile`), for the caller's one-line error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from archspace._atomic import write_file_atomic

__all__ = ["UnreadableTorchFile", "load_torch_data", "save_torch_atomic"]


class UnreadableTorchFile(Exception):
    """``torch.load(weights_only=True)`` refused a file; ``reason`` says why in a few words
    (e.g. ``"is corrupt or truncated (EOFError: ...)"``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def save_torch_atomic(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> Path:
    """``torch.save(dict(payload))`` to ``path`` atomically; its folder is created."""
    import torch

    return write_file_atomic(path, lambda f: torch.save(dict(payload), f))


def load_torch_data(path: str | os.PathLike[str]) -> Any:
    """What the existing file ``path`` holds (tensors on the CPU), loaded with
    ``weights_only=True``; :class:`UnreadableTorchFile` if it is corrupt, truncated, or holds
    anything but data (refused before any of it is built)."""
    import pickle
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # e.g. torch's note on a pickle protocol: the error says it
            warnings.simplefilter("ignore")
            return torch.load(Path(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, TypeError,
            AttributeError, IndexError, KeyError, MemoryError) as e:
        raise UnreadableTorchFile(why_unreadable(e)) from None


def why_unreadable(e: BaseException) -> str:
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
