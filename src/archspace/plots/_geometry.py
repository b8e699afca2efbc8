"""Geometry shared by the diagram layouts: fonts, text extents, and the laid-out objects
(boxes, routed edges, panels) in inches, y growing upwards. No matplotlib here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from archspace.space.diagram import DiagramEdge, DiagramNode

__all__ = ["EDGE_FONT", "NODE_FONT", "Box", "Measure", "Panel", "Point", "Route", "bounds",
           "box_size", "estimate_text", "label_size"]

Point = tuple[float, float]
#: (text, font size in points) -> (width, height) in inches.
Measure = Callable[[str, float], tuple[float, float]]

NODE_FONT = 8.0
EDGE_FONT = 7.0
_PAD = 0.12  # inside a box, around its label


def estimate_text(text: str, size: float) -> tuple[float, float]:
    """A rough text extent (the renderer passes an exact measure)."""
    lines = text.split("\n")
    return max(map(len, lines)) * size * 0.6 / 72, len(lines) * size * 1.2 / 72


@dataclass(frozen=True)
class Box:
    """A node's box: centre (x, y), size (w, h); y grows upwards."""

    id: str
    label: str
    group: str
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Route:
    """An edge as a polyline ending in an arrow, with its label's centre."""

    points: tuple[Point, ...]
    label: str = ""
    label_at: Point | None = None


@dataclass(frozen=True)
class Panel:
    """One laid-out diagram: what to paint and the bounds (x0, y0, x1, y1) it fits in."""

    kind: str
    title: str
    boxes: tuple[Box, ...]
    routes: tuple[Route, ...]
    bounds: tuple[float, float, float, float]
    grid: tuple[Point, ...] = ()
    ticks: tuple[tuple[Point, str], ...] = ()
    highlight: frozenset[str] = frozenset()

    @property
    def width(self) -> float:
        return self.bounds[2] - self.bounds[0]

    @property
    def height(self) -> float:
        return self.bounds[3] - self.bounds[1]


def box_size(nodes: Sequence[DiagramNode], measure: Measure) -> tuple[float, float]:
    sizes = [measure(n.label or n.id, NODE_FONT) for n in nodes]
    return max(s[0] for s in sizes) + 2 * _PAD, max(s[1] for s in sizes) + 2 * _PAD


def label_size(edges: Sequence[DiagramEdge], measure: Measure) -> tuple[float, float]:
    sizes = [measure(e.label, EDGE_FONT) for e in edges if e.label]
    if not sizes:
        return 0.0, 0.0
    return max(s[0] for s in sizes) + 0.1, max(s[1] for s in sizes) + 0.06


def bounds(boxes: Sequence[Box], routes: Sequence[Route], extra: Sequence[Point] = (),
            margin: float = 0.25) -> tuple[float, float, float, float]:
    xs = [b.x - b.w / 2 for b in boxes] + [b.x + b.w / 2 for b in boxes]
    ys = [b.y - b.h / 2 for b in boxes] + [b.y + b.h / 2 for b in boxes]
    for p in [q for r in routes for q in r.points] + list(extra):
        xs.append(p[0])
        ys.append(p[1])
    return min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin


