"""Reading the pickles CIFAR is distributed in, without running what a pickle may ask for.

A pickle is a program: each global it names is imported and may be called, so a tampered
``data_batch_1`` could run any code on load. The official python-format CIFAR files are dicts of
byte-string keys holding lists, byte strings and numpy arrays (pickled by Python 2, read with
``encoding="bytes"``); :func:`load_data_pickle` allows exactly the globals those need (numpy's
array reconstruction, ``ndarray``, ``dtype`` and builtin containers) and refuses any other before
it is imported.
"""

from __future__ import annotations

import importlib
import io
import pickle
from typing import Any

import numpy as np

__all__ = ["ALLOWED_GLOBALS", "RefusedGlobal", "load_data_pickle"]


def _reconstruct() -> Any:
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):  # numpy 2, numpy 1
        try:
            return importlib.import_module(module)._reconstruct
        except (ImportError, AttributeError):
            continue
    raise ImportError("numpy has no multiarray._reconstruct")


_CONTAINERS = {"dict": dict, "list": list, "tuple": tuple, "set": set, "frozenset": frozenset}

#: (module, name) -> the object a data pickle may name; nothing else is ever imported.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct(),
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct(),
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    **{(m, n): c for m in ("builtins", "__builtin__") for n, c in _CONTAINERS.items()},
}


class RefusedGlobal(pickle.UnpicklingError):
    """The pickle names a global that a data file never holds."""

    def __init__(self, module: str, name: str) -> None:
        super().__init__(f"{module}.{name}")
        self.qualified = f"{module}.{name}"


class _DataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedGlobal(module, name) from None


def load_data_pickle(data: bytes) -> Any:
    """The object pickled in ``data``, built from containers, bytes and numpy arrays only.
    Raises :class:`RefusedGlobal` for any other global (before importing it) and
    :class:`pickle.UnpicklingError` (or ``EOFError``, ``ValueError``...) for a corrupt one."""
    return _DataUnpickler(io.BytesIO(data), encoding="bytes").load()
