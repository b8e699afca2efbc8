"""archspace: neural architecture search built around the search space.

The flow: a :class:`~archspace.space.Space` (catalog in :mod:`archspace.spaces`) yields an
:class:`~archspace.space.Arch`; the space lowers it to the network IR (:mod:`archspace.ir`), which
both the analytic cost model (:mod:`archspace.cost`) and the PyTorch builder (:mod:`archspace.nn`)
consume.
"""

from archspace.cost import Profile
from archspace.errors import ArchError, ArchspaceError, ParamError, SpaceError
from archspace.space import Arch, ChainSpace, Decision, Space
from archspace.spaces import get_space, list_spaces

__all__ = [
    "Arch", "ArchError", "ArchspaceError", "ChainSpace", "Decision", "ParamError", "Profile",
    "Space", "SpaceError", "get_space", "list_spaces",
]
__version__ = "0.1.0"
