"""What a space draws: a small data object the plotting layer renders (no matplotlib here).

``kind`` says how to lay it out: ``"dag"`` (a cell: nodes and labelled edges, drawn left to
right by depth), ``"strip"`` (a chain: boxes in a row), or ``"lattice"`` (a path over a grid of
(layer, level) points, e.g. Auto-DeepLab's network level).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Diagram", "DiagramEdge", "DiagramNode"]


@dataclass(frozen=True)
class DiagramNode:
    """A box. ``pos`` is an optional (x, y) grid position (required for lattices)."""

    id: str
    label: str
    pos: tuple[float, float] | None = None
    group: str = ""


@dataclass(frozen=True)
class DiagramEdge:
    """An arrow from ``src`` to ``dst`` with an optional label (the op on a cell edge)."""

    src: str
    dst: str
    label: str = ""


@dataclass(frozen=True)
class Diagram:
    """A drawable picture of one architecture, possibly several panels (e.g. normal and
    reduction cells)."""

    kind: str
    title: str
    nodes: tuple[DiagramNode, ...]
    edges: tuple[DiagramEdge, ...] = ()
    panels: tuple[Diagram, ...] = field(default=())
