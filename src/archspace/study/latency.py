"""Predicted latency in a study: which device's table it reads, and the latency of a trial.

A ``latency@DEVICE`` constraint, objective or reward (:mod:`archspace.study.constraints`,
:mod:`archspace.study.objectives`) makes every trial's cost carry ``latency_ms``: the latency
the device's table (:mod:`archspace.cost.latency_table`) predicts for the network the estimator
evaluates (for ``train``, the space fitted to the dataset at the training resolution, as the
other costs). The table is loaded when the study is built, so an unknown device or a damaged
table stops the study before its first evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archspace.cost.latency_store import load_table
from archspace.cost.latency_table import LatencyTable
from archspace.space import Arch, Space
from archspace.study.constraints import Constraint, latency_device
from archspace.study.objectives import Objectives

__all__ = ["latency_ms", "study_latency_table"]


def study_latency_table(constraints: Sequence[Constraint],
                        objectives: Objectives) -> LatencyTable | None:
    """The table of the one device the study's latency constraints, objectives and reward read,
    or None when nothing reads latency."""
    device = latency_device(constraints, *objectives.devices)
    return load_table(device) if device else None


def latency_ms(table: LatencyTable, estimator: Any, space: Space, arch: Arch) -> float:
    """Predicted latency (ms) of the network ``estimator`` evaluates for ``arch``."""
    adapted = getattr(estimator, "adapted", None)
    if callable(adapted):
        fitted, r = adapted(space)
        return table.predict(fitted, arch, r)
    return table.predict(space, arch)
