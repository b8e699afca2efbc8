"""Design-space analysis: FLOPs distributions under memory constraints (TinyNAS, Lin et al.
NeurIPS 2020) and error EDFs of spaces (Radosavovic et al. ICCV 2019, CVPR 2020).

Functions return typed study objects (data first); :mod:`archspace.plots.analysis` draws them.
Names are imported on first use, so importing this package stays cheap (no numpy).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["NORMALIZE", "EDFStudy", "FlopsStudy", "KSPair", "SpaceEDF", "SpaceFlops", "SpaceSpec",
           "SpecError", "error_edf", "flops_distribution", "parse_spec", "space_grid"]

#: What a complexity-normalised EDF matches across spaces.
NORMALIZE = ("macs", "params", "none")

_WHERE = {
    "EDFStudy": "edf", "KSPair": "edf", "SpaceEDF": "edf", "error_edf": "edf",
    "FlopsStudy": "flops", "SpaceFlops": "flops", "flops_distribution": "flops",
    "space_grid": "flops", "SpaceSpec": "specs", "SpecError": "specs", "parse_spec": "specs",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'archspace.analysis' has no attribute {name!r}")
    return getattr(importlib.import_module(f"archspace.analysis.{_WHERE[name]}"), name)
