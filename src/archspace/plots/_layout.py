"""Where everything of a :class:`~archspace.space.Diagram` goes, in inches (no matplotlib here).

Each panel is laid out on its own: ``"dag"`` as a layered drawing read left to right (a node's
layer is its longest path from a node without inputs; edges that skip layers run through their
own slot in every layer they cross, so they never pass under a box), ``"strip"`` as rows of
boxes, ``"lattice"`` as grid points at the nodes' ``pos`` with the path drawn over them. The
renderer in :mod:`archspace.plots.draw` only paints what this module places.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from archspace.space.diagram import Diagram, DiagramEdge, DiagramNode

__all__ = ["EDGE_FONT", "NODE_FONT", "Box", "Measure", "Panel", "Route", "estimate_text", "layout"]

Point = tuple[float, float]
#: (text, font size in points) -> (width, height) in inches.
Measure = Callable[[str, float], tuple[float, float]]

NODE_FONT = 8.0
EDGE_FONT = 7.0
_PAD = 0.12  # inside a box, around its label
_MAX_ROW = 14.0  # widest strip row, inches


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
        return _dag(d, title, measure)
    if d.kind == "lattice":
        return _lattice(d, title, measure)
    if d.kind == "strip":
        return _strip(d, title, measure)
    raise ValueError(f"diagram {d.title!r} has kind {d.kind!r}; known kinds: dag, strip, lattice")


def _box_size(nodes: Sequence[DiagramNode], measure: Measure) -> tuple[float, float]:
    sizes = [measure(n.label or n.id, NODE_FONT) for n in nodes]
    return max(s[0] for s in sizes) + 2 * _PAD, max(s[1] for s in sizes) + 2 * _PAD


def _label_size(edges: Sequence[DiagramEdge], measure: Measure) -> tuple[float, float]:
    sizes = [measure(e.label, EDGE_FONT) for e in edges if e.label]
    if not sizes:
        return 0.0, 0.0
    return max(s[0] for s in sizes) + 0.1, max(s[1] for s in sizes) + 0.06


def _bounds(boxes: Sequence[Box], routes: Sequence[Route], extra: Sequence[Point] = (),
            margin: float = 0.25) -> tuple[float, float, float, float]:
    xs = [b.x - b.w / 2 for b in boxes] + [b.x + b.w / 2 for b in boxes]
    ys = [b.y - b.h / 2 for b in boxes] + [b.y + b.h / 2 for b in boxes]
    for p in [q for r in routes for q in r.points] + list(extra):
        xs.append(p[0])
        ys.append(p[1])
    return min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin


# -- dag ---------------------------------------------------------------------------------------
def _layers(nodes: Sequence[DiagramNode], edges: Sequence[DiagramEdge]) -> dict[str, int]:
    """Longest path from a source (Kahn's order; nodes on a cycle go last, in given order)."""
    preds: dict[str, list[str]] = {n.id: [] for n in nodes}
    indeg = {n.id: 0 for n in nodes}
    for e in edges:
        preds[e.dst].append(e.src)
        indeg[e.dst] += 1
    layer: dict[str, int] = {}
    ready = [n.id for n in nodes if indeg[n.id] == 0]
    succ: dict[str, list[str]] = {n.id: [] for n in nodes}
    for e in edges:
        succ[e.src].append(e.dst)
    while ready:
        done = ready.pop(0)
        layer[done] = 1 + max((layer[p] for p in preds[done] if p in layer), default=-1)
        for s in succ[done]:
            indeg[s] -= 1
            if indeg[s] == 0:
                ready.append(s)
    for n in nodes:  # cycles: place after everything they can see
        if n.id not in layer:
            layer[n.id] = 1 + max((layer[p] for p in preds[n.id] if p in layer), default=-1)
    return layer


def _order(columns: list[list[str]], links: list[tuple[str, str]], sweeps: int = 4) -> None:
    """Reorder each column by the mean position of its neighbours (barycentre heuristic)."""
    preds: dict[str, list[str]] = {}
    succs: dict[str, list[str]] = {}
    for a, b in links:
        succs.setdefault(a, []).append(b)
        preds.setdefault(b, []).append(a)

    def sweep(cols: list[list[str]], nbrs: dict[str, list[str]]) -> None:
        for prev, col in itertools.pairwise(cols):
            pos = {item: i for i, item in enumerate(prev)}
            keys = {}
            for i, item in enumerate(col):
                near = [pos[n] for n in nbrs.get(item, ()) if n in pos]
                keys[item] = sum(near) / len(near) if near else float(i)
            col.sort(key=keys.__getitem__)

    for _ in range(sweeps):
        sweep(columns, preds)
        sweep(columns[::-1], succs)
    sweep(columns, preds)


def _dag(d: Diagram, title: str, measure: Measure) -> Panel:
    """Nodes sit in even columns, edge labels in the odd column after their source, so every
    label and every pass-through gets its own slot (Sugiyama-style virtual nodes)."""
    layer = {n: 2 * k for n, k in _layers(d.nodes, d.edges).items()}
    bw, bh = _box_size(d.nodes, measure)
    lw, lh = _label_size(d.edges, measure)
    columns: list[list[str]] = [[] for _ in range(max(layer.values()) + 1)]
    for n in d.nodes:
        columns[layer[n.id]].append(n.id)
    chains: list[list[str]] = []
    slot: dict[str, float] = {n.id: bh + 0.3 for n in d.nodes}
    for k, e in enumerate(d.edges):
        inner = range(layer[e.src] + 1, layer[e.dst])
        dummies = [f"\0{k}.{c}" for c in inner]
        for c, dummy in zip(inner, dummies, strict=True):
            columns[c].append(dummy)
            slot[dummy] = lh + 0.12 if e.label and c == inner.start else 0.2
        chains.append([e.src, *dummies, e.dst])
    _order(columns, [(a, b) for ch in chains for a, b in itertools.pairwise(ch)])
    widths = [bw if c % 2 == 0 else max(lw, 0.1) for c in range(len(columns))]
    centre: dict[str, Point] = {}
    x = 0.0
    for col, w in zip(columns, widths, strict=True):
        y = sum(slot[item] for item in col) / 2
        for item in col:
            centre[item] = (x + w / 2, y - slot[item] / 2)
            y -= slot[item]
        x += w + 0.3
    boxes = tuple(Box(n.id, n.label or n.id, n.group, *centre[n.id], bw, bh) for n in d.nodes)
    col_w = {item: widths[c] for c, col in enumerate(columns) for item in col}
    routes = _dag_routes(d.edges, chains, centre, col_w, bw, bh)
    return Panel("dag", title, boxes, routes, _bounds(boxes, routes))


def _ports(chains: list[list[str]], centre: dict[str, Point], h: float) -> dict[tuple[int, str], float]:
    """The y where each chain leaves its source and enters its target, spread over the side."""
    out: dict[str, list[int]] = {}
    into: dict[str, list[int]] = {}
    for k, ch in enumerate(chains):
        out.setdefault(ch[0], []).append(k)
        into.setdefault(ch[-1], []).append(k)
    ports: dict[tuple[int, str], float] = {}
    for side, groups, nxt in (("out", out, 1), ("in", into, -2)):
        for node, ks in groups.items():
            ks.sort(key=lambda k: -centre[chains[k][nxt]][1])
            y0 = centre[node][1]
            for j, k in enumerate(ks):
                ports[(k, side)] = y0 + h / 2 - (j + 1) * h / (len(ks) + 1)
    return ports


def _dag_routes(edges: Sequence[DiagramEdge], chains: list[list[str]], centre: dict[str, Point],
                col_w: dict[str, float], bw: float, bh: float) -> tuple[Route, ...]:
    ports = _ports(chains, centre, bh)
    routes = []
    for k, (e, ch) in enumerate(zip(edges, chains, strict=True)):
        (sx, sy), (tx, ty) = centre[ch[0]], centre[ch[-1]]
        if sx >= tx:  # a back edge (only on a cycle): draw it straight
            pts = [(sx, sy), (tx, ty)]
            at = ((sx + tx) / 2, (sy + ty) / 2)
        else:
            pts = [(sx + bw / 2, ports[(k, "out")])]
            for dummy in ch[1:-1]:
                x, y = centre[dummy]
                pts += [(x - col_w[dummy] / 2, y), (x + col_w[dummy] / 2, y)]
            pts.append((tx - bw / 2, ports[(k, "in")]))
            (ax, ay), (bx, by) = pts[0], pts[-1]
            at = centre[ch[1]] if len(ch) > 2 else ((ax + bx) / 2, (ay + by) / 2)
        routes.append(Route(tuple(pts), e.label, at if e.label else None))
    return tuple(routes)


# -- strip -------------------------------------------------------------------------------------
def _strip(d: Diagram, title: str, measure: Measure) -> Panel:
    bw, bh = _box_size(d.nodes, measure)
    lw, _ = _label_size(d.edges, measure)
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
    return Panel("strip", title, boxes, routes, _bounds(boxes, routes))


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
    return Panel("lattice", title, boxes, routes, _bounds(boxes, routes, extra), grid, ticks, on_path)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _lattice_route(e: DiagramEdge, pos: dict[str, Point], r: float) -> Route:
    (ax, ay), (bx, by) = pos[e.src], pos[e.dst]
    dist = math.hypot(bx - ax, by - ay) or 1.0
    ux, uy = (bx - ax) / dist, (by - ay) / dist
    pts = ((ax + r * ux, ay + r * uy), (bx - r * ux, by - r * uy))
    return Route(pts, e.label, ((ax + bx) / 2, (ay + by) / 2) if e.label else None)
