"""archspace: neural architecture search built around the search space.

The flow: a :class:`~archspace.space.Space` (catalog in :mod:`archspace.spaces`) yields an
:class:`~archspace.space.Arch`; the space lowers it to the network IR (:mod:`archspace.ir`), which
both the analytic cost model (:mod:`archspace.cost`) and the PyTorch builder (:mod:`archspace.nn`)
consume. :func:`search`, :func:`resume` and :func:`load_study` run and read studies from Python
(:mod:`archspace.study.api`); they are imported on first use, so ``import archspace`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from archspace.cost import Profile
from archspace.errors import ArchError, ArchspaceError, ParamError, SpaceError
from archspace.space import Arch, ChainSpace, Decision, Space
from archspace.spaces import get_space, list_spaces

if TYPE_CHECKING:
    from archspace.study.api import SearchInterrupted, StudyHandle, load_study, resume, search

__all__ = [
    "Arch", "ArchError", "ArchspaceError", "ChainSpace", "Decision", "ParamError", "Profile",
    "SearchInterrupted", "Space", "SpaceError", "StudyHandle", "get_space", "list_spaces",
    "load_study", "resume", "search",
]
__version__ = "0.1.0"

_LAZY = {name: "archspace.study.api"
         for name in ("SearchInterrupted", "StudyHandle", "load_study", "resume", "search")}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'archspace' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
