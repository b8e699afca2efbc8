"""Supernet files: written atomically, read as data only, checked against the space.

A supernet file is one ``torch.save`` of plain containers and tensors: the space (catalog name
or ``module:Class``) and its parameters, the resolution, classes and dataset the supernet was
trained for, the training options and seed, the layer shapes (so loading rebuilds the same
network without scanning the space), the weights, and, for resuming, the optimiser and the
batch generator's state and the epochs done. It is written to a temporary file beside the
target and renamed over it, and read with ``torch.load(weights_only=True)``: nothing in the file
runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspace._torch_files import UnreadableTorchFile, load_torch_data, save_torch_atomic
from archspace.errors import ArchspaceError
from archspace.space import Space

if TYPE_CHECKING:
    from archspace.supernet.core import Supernet
    from archspace.supernet.fewshot import FewShotSupernet

__all__ = ["FORMAT", "SupernetFileError", "check_space", "load_supernet", "read_supernet_file",
           "write_supernet_file"]

#: The ``format`` field of every supernet file this version writes.
FORMAT = "archspace-supernet/1"


class SupernetFileError(ArchspaceError):
    """A supernet file that is missing, unreadable, or of another space or parameters."""


def write_supernet_file(path: str | os.PathLike[str], payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` (with :data:`FORMAT`) to ``path`` atomically; its folder is created."""
    return save_torch_atomic(path, {**payload, "format": FORMAT})


def read_supernet_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The contents of the supernet file ``path`` (tensors on the CPU); a one-line
    :class:`SupernetFileError` if it is missing, corrupt, truncated, not data or not a
    supernet file."""
    p = Path(path)
    if not p.is_file():
        raise SupernetFileError(f"supernet file {p} does not exist; allowed: a file written by "
                                "'archspace supernet train -o FILE'")
    try:
        data = load_torch_data(p)
    except UnreadableTorchFile as e:
        raise SupernetFileError(f"supernet file {p} {e.reason}; allowed: a file "
                                "written by 'archspace supernet train'") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SupernetFileError(f"{p} is not an archspace supernet file (format {FORMAT!r} "
                                "expected); allowed: a file written by 'archspace supernet train'")
    for key, kind in (("space", str), ("params", dict), ("resolution", int),
                      ("num_classes", int), ("supernet", dict), ("state", dict)):
        if not isinstance(data.get(key), kind):
            raise SupernetFileError(f"supernet file {p} is damaged: field {key!r} is missing or "
                                    "malformed")
    return data


def _plain(v: Any) -> Any:
    if isinstance(v, list | tuple):
        return tuple(_plain(x) for x in v)
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    return v


def check_space(data: Mapping[str, Any], space: Space, where: str) -> None:
    """Raise :class:`SupernetFileError` unless ``data`` (a supernet file's contents) is of
    ``space`` with the same parameters (``num_classes`` may differ: a supernet is fitted to its
    dataset's classes)."""
    from archspace.spaces import space_target

    target = space_target(space)
    if data.get("space") != target:
        raise SupernetFileError(f"{where} is a supernet of space {data.get('space')}, not "
                                f"{target}; allowed: a supernet trained for this space")
    mine = {k: _plain(v) for k, v in space.params.items() if k != "num_classes"}
    theirs = {k: _plain(v) for k, v in dict(data.get("params") or {}).items()
              if k != "num_classes"}
    diff = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
    if diff:
        k = diff[0]
        raise SupernetFileError(f"{where} is a supernet of {target} with {k}="
                                f"{theirs.get(k, 'default')!r}, this space has {k}="
                                f"{mine.get(k, 'default')!r}; allowed: the same space parameters")


def load_supernet(source: str | os.PathLike[str] | Mapping[str, Any],
                  space: Space | None = None) -> Supernet | FewShotSupernet:
    """The trained supernet of a file (or a file's contents), in eval mode on the CPU: a
    :class:`~archspace.supernet.fewshot.FewShotSupernet` for a few-shot file (``supernet
    train -e few_shot=EDGE``), which routes each arch to its sub-supernet.

    ``space`` is checked against the file (:func:`check_space`); without it the space is
    rebuilt from the catalog (a user space, ``module:Class``, must be given: its module is
    code). The supernet's space is fitted to the file's classes."""
    from archspace.estimators.train import adapt_space
    from archspace.spaces import get_space
    from archspace.supernet.core import rebuild_supernet

    data = source if isinstance(source, Mapping) else read_supernet_file(source)
    where = "the supernet" if isinstance(source, Mapping) else f"supernet file {source}"
    if space is None:
        if ":" in str(data["space"]):
            raise SupernetFileError(f"{where} is of the user space {data['space']}; give the "
                                    "space (its module is code and is not imported from a file)")
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in data["params"].items()}
        space = get_space(str(data["space"]), **params)
    check_space(data, space, where)
    fitted = adapt_space(space, int(data["num_classes"]))
    if "few_shot" in data:
        from archspace.supernet.fewshot import load_few_shot

        return load_few_shot(data, fitted, where)
    info = data["supernet"]
    try:
        sn = rebuild_supernet(fitted, int(data["resolution"]), info)
        sn.load_state_dict(data["state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise SupernetFileError(f"{where} does not fit the supernet of {fitted.label} "
                                f"({first[:160]}); allowed: a file written by 'archspace "
                                "supernet train' for this space") from None
    return sn.eval()
