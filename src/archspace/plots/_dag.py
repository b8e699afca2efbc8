"""Layered layout of a cell (``"dag"`` diagrams), read left to right.

A node's layer is its longest path from a node without inputs. Nodes sit in even columns and
each edge's label in the odd column after its source; an edge that skips columns gets a slot of
its own in every column it crosses (Sugiyama-style virtual nodes), so no edge passes under a box
and no two labels overlap. Columns are ordered by the barycentre heuristic, then every slot is
pulled towards its neighbours' heights to straighten long edges.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from archspace.plots._geometry import (
    Box,
    Measure,
    Panel,
    Point,
    Route,
    bounds,
    box_size,
    label_size,
)
from archspace.space.diagram import Diagram, DiagramEdge, DiagramNode

__all__ = ["dag_panel"]


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


def dag_panel(d: Diagram, title: str, measure: Measure) -> Panel:
    """The laid-out cell: boxes in their columns and every edge routed through its slots."""
    layer = {n: 2 * k for n, k in _layers(d.nodes, d.edges).items()}
    bw, bh = box_size(d.nodes, measure)
    lw, lh = label_size(d.edges, measure)
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
    links = [(a, b) for ch in chains for a, b in itertools.pairwise(ch)]
    _order(columns, links)
    ys = _heights(columns, links, slot)
    widths = [bw if c % 2 == 0 else max(lw, 0.1) for c in range(len(columns))]
    centre: dict[str, Point] = {}
    x = 0.0
    for col, w in zip(columns, widths, strict=True):
        for item in col:
            centre[item] = (x + w / 2, ys[item])
        x += w + 0.3
    boxes = tuple(Box(n.id, n.label or n.id, n.group, *centre[n.id], bw, bh) for n in d.nodes)
    col_w = {item: widths[c] for c, col in enumerate(columns) for item in col}
    routes = _dag_routes(d.edges, chains, centre, col_w, bw, bh)
    return Panel("dag", title, boxes, routes, bounds(boxes, routes))


def _heights(columns: list[list[str]], links: list[tuple[str, str]], slot: dict[str, float],
             rounds: int = 6) -> dict[str, float]:
    """Centre heights: each column stacked in order, then repeatedly moved as close to the mean
    height of its neighbours as the order and the slot sizes allow."""
    nbrs: dict[str, list[str]] = {}
    for a, b in links:
        nbrs.setdefault(a, []).append(b)
        nbrs.setdefault(b, []).append(a)
    y: dict[str, float] = {}
    for col in columns:
        top = sum(slot[item] for item in col) / 2
        for item in col:
            y[item] = top - slot[item] / 2
            top -= slot[item]
    for r in range(rounds):
        for col in columns if r % 2 == 0 else columns[::-1]:
            want = [sum(y[n] for n in nbrs[i]) / len(nbrs[i]) if nbrs.get(i) else y[i] for i in col]
            gaps = [(slot[a] + slot[b]) / 2 for a, b in itertools.pairwise(col)]
            y.update(zip(col, _fit_ordered(want, gaps), strict=True))
    return y


def _fit_ordered(want: list[float], gaps: list[float]) -> list[float]:
    """Heights closest (least squares) to ``want`` with ``y[i] - y[i+1] >= gaps[i]``.

    Shifting item i up by the gaps above it turns the constraint into a non-increasing sequence:
    isotonic regression by pool-adjacent-violators.
    """
    offset = list(itertools.accumulate([0.0, *gaps]))
    blocks: list[list[float]] = []  # [mean, count]
    for v in (w + o for w, o in zip(want, offset, strict=True)):
        blocks.append([v, 1.0])
        while len(blocks) > 1 and blocks[-2][0] < blocks[-1][0]:
            m2, n2 = blocks.pop()
            m1, n1 = blocks.pop()
            blocks.append([(m1 * n1 + m2 * n2) / (n1 + n2), n1 + n2])
    fitted = [m for m, n in blocks for _ in range(int(n))]
    return [u - o for u, o in zip(fitted, offset, strict=True)]


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

