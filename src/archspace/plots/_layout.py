"""Where everything of a :class:`~archspace.space.Diagram` goes, in inches (no matplotlib here).

Each panel is laid out on its own: ``"dag"`` as a layered drawing read left to right (see
:mod:`archspace.plots._dag`), ``"strip"`` as rows of boxes wrapping when a row gets too wide,
``"lattice"`` as grid points at the nodes' ``pos`` with the path drawn over them. The renderer in
:mod:`archspace.plots.draw` only paints what this module places.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from archspace.plots._dag import dag_panel
from archspace.plots._geometry import (
    EDGE_FONT,
    NODE_FONT,
    Box,
    Measure,
    Panel,
    Point,
    Route,
    bounds,
    box_size,
    estimate_text,
    label_size,
)
from archspace.space.diagram import Diagram, DiagramEdge

__all__ = ["EDGE_FONT", "NODE_FONT", "Box", "Measure", "Panel", "Route", "estimate_text", "layout"]

_MAX_ROW = 14.0  # widest strip row, inches


def layout(diagram: Diagram, measure: Measure = estimate_text) -> list[Panel]:
    """The panels of ``diagram``: its own nodes first (if any), then each sub-panel's."""
    out: list[Panel] = []
    if diagram.nodes:
        title = diagram.title if diagram.panels else ""
        out.append(_layout_one(diagram, title, measure))
    for sub in diagram.panels:
        out.extend(_retitled(p, sub.title) for p in layout(sub, measure))
    return out


def _retitled(panel: Panel, title: str) -> Panel:
    if panel.title:
        return panel
    return dataclasses.replace(panel, title=title)


def _layout_one(d: Diagram, title: str, measure: Measure) -> Panel:
    ids = {n.id for n in d.nodes}
    for e in d.edges:
        if e.src not in ids or e.dst not in ids:
            raise ValueError(f"diagram {d.title!r}: edge {e.src}->{e.dst} names an unknown node")
    if d.kind == "dag":
        return dag_panel(d, title, measure)
    if d.kind == "lattice":
        return _lattice(d, title, measure)
    if d.kind == "strip":
        return _strip(d, title, measure)
    raise ValueError(f"diagram {d.title!r} has kind {d.kind!r}; known kinds: dag, strip, lattice")


# -- strip -------------------------------------------------------------------------------------
def _strip(d: Diagram, title: str, measure: Measure) -> Panel:
    bw, bh = box_size(d.nodes, measure)
    lw, _ = label_size(d.edges, measure)
    gap = max(0.35, lw + 0.2)
    n = len(d.nodes)
    per_row = max(1, min(n, int((_MAX_ROW + gap) // (bw + gap))))
    rows = math.ceil(n / per_row)
    per_row = math.ceil(n / rows)
    gap_y = 0.45
    place = {}
    for i, node in enumerate(d.nodes):
        r, c = divmod(i, per_row)
        place[node.id] = (i, c * (bw + gap), -r * (bh + gap_y))
    boxes = tuple(Box(nd.id, nd.label or nd.id, nd.group, place[nd.id][1], place[nd.id][2], bw, bh)
                  for nd in d.nodes)
    routes = tuple(_strip_route(e, place, bw, bh, gap_y) for e in d.edges)
    return Panel("strip", title, boxes, routes, bounds(boxes, routes))


def _strip_route(e: DiagramEdge, place: dict[str, tuple[int, float, float]], bw: float, bh: float,
                 gap_y: float) -> Route:
    (_, sx, sy), (_, tx, ty) = place[e.src], place[e.dst]
    if sy == ty and sx < tx:
        pts: tuple[Point, ...] = ((sx + bw / 2, sy), (tx - bw / 2, ty))
    elif ty < sy:  # next row: down, back left, down
        mid = sy - bh / 2 - gap_y / 2
        pts = ((sx, sy - bh / 2), (sx, mid), (tx, mid), (tx, ty + bh / 2))
    else:  # backwards or upwards: loop over the top
        top = max(sy, ty) + bh / 2 + 0.2
        pts = ((sx, sy + bh / 2), (sx, top), (tx, top), (tx, ty + bh / 2))
    mid_seg = len(pts) // 2
    a, b = pts[mid_seg - 1], pts[mid_seg]
    return Route(pts, e.label, ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2) if e.label else None)


# -- lattice -----------------------------------------------------------------------------------
def _axis(values: Sequence[float]) -> list[float]:
    vals = sorted(set(values))
    if all(float(v).is_integer() for v in vals) and vals[-1] - vals[0] <= 64:
        return [float(v) for v in range(int(vals[0]), int(vals[-1]) + 1)]
    return vals


def _lattice(d: Diagram, title: str, measure: Measure) -> Panel:
    missing = [n.id for n in d.nodes if n.pos is None]
    if missing:
        raise ValueError(f"lattice {d.title!r}: nodes {missing[:5]} have no pos")
    label_w = max(measure(n.label, EDGE_FONT)[0] for n in d.nodes) if d.nodes else 0.0
    sx, sy = max(0.8, label_w + 0.25), 0.75
    r = 0.09

    def at(p: tuple[float, float]) -> Point:
        return p[0] * sx, -p[1] * sy  # levels grow downwards

    pos = {n.id: at(n.pos) for n in d.nodes if n.pos is not None}
    xs = _axis([p[0] for n in d.nodes if (p := n.pos)])
    ys = _axis([p[1] for n in d.nodes if (p := n.pos)])
    grid = tuple(at((x, y)) for x in xs for y in ys)
    boxes = tuple(Box(n.id, n.label, n.group, *pos[n.id], 2 * r, 2 * r) for n in d.nodes)
    routes = tuple(_lattice_route(e, pos, r) for e in d.edges)
    ticks = tuple([((x * sx, -ys[-1] * sy - 0.35), _num(x)) for x in xs]
                  + [((xs[0] * sx - 0.4, -y * sy), _num(y)) for y in ys])
    names = (((xs[0] + xs[-1]) / 2 * sx, -ys[-1] * sy - 0.65), "layer"), \
        ((xs[0] * sx - 0.75, -(ys[0] + ys[-1]) / 2 * sy), "level")
    ticks += names
    extra = [t[0] for t in ticks] + [(b.x + label_w, b.y + 0.25) for b in boxes]
    on_path = frozenset(n for e in d.edges for n in (e.src, e.dst))
    return Panel("lattice", title, boxes, routes, bounds(boxes, routes, extra), grid, ticks, on_path)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _lattice_route(e: DiagramEdge, pos: dict[str, Point], r: float) -> Route:
    (ax, ay), (bx, by) = pos[e.src], pos[e.dst]
    dist = math.hypot(bx - ax, by - ay) or 1.0
    ux, uy = (bx - ax) / dist, (by - ay) / dist
    pts = ((ax + r * ux, ay + r * uy), (bx - r * ux, by - r * uy))
    return Route(pts, e.label, ((ax + bx) / 2, (ay + by) / 2) if e.label else None)
