"""Exact profile of a :class:`~archspace.ir.segments.SegmentGraph`, without expanding it.

Parameters, MACs and flash of a segment are sums over its template's nodes. For memory, each
template is run once through the allocator of :mod:`archspace.cost.memory` with its inputs
already live, once per pattern of which inputs die inside it (their last use in the whole graph is
this segment); that gives its peak and its change of live bytes relative to the bytes live before
it. The whole graph is then scheduled as :func:`~archspace.cost.memory.peak_memory` does, each
segment adding ``live + relative peak``, so the result equals profiling the expanded graph (the
conditions in :mod:`archspace.ir.segments` make the flash and batch-norm conventions agree
across segment boundaries; ``tests/test_cost_fast_paths.py`` checks equality).
"""

from __future__ import annotations

from archspace.cost.memory import _is_inplace
from archspace.cost.profile import Profile, _folded_convs, layer_cost
from archspace.ir.graph import Node
from archspace.ir.segments import SegmentGraph, Template

__all__ = ["profile_segments"]


def _sizes(nodes: list[Node], act_bytes: int) -> list[int]:
    out = []
    for node in nodes:
        b = act_bytes
        for d in node.shape:
            b *= d
        out.append(b)
    return out


def _step(node: Node, last: list[int], size: list[int], live: int) -> tuple[int, int]:
    """(bytes while ``node`` runs, live bytes after it) under MCUNet's allocator."""
    i = node.id
    ins = node.inputs
    first = ins[0]
    if last[first] == i and ins.count(first) == 1 and _is_inplace(node):
        si, sf = size[i], size[first]
        now = live - sf + max(sf, si)
        live += si - sf
        rest = ins[1:]
    else:
        now = live = live + size[i]
        rest = ins
    for j in set(rest):
        if last[j] == i:
            live -= size[j]
    if last[i] == i:
        live -= size[i]
    return now, live


def _trace(tmpl: Template, dies: tuple[bool, ...], act_bytes: int) -> tuple[int, int, int, int, int]:
    """(params, macs, flash, relative peak, relative live change) of a template."""
    key = (dies, act_bytes)
    hit = tmpl.traces.get(key)
    if hit is not None:
        return hit  # type: ignore[return-value]
    nodes, k = tmpl.nodes, tmpl.n_inputs
    n = len(nodes)
    last = list(range(n))
    for node in nodes:
        for j in node.inputs:
            last[j] = node.id
    for j in range(k):
        if not dies[j]:
            last[j] = n
    last[-1] = n
    size = _sizes(nodes, act_bytes)
    start = live = sum(size[:k])
    peak = 0
    for node in nodes[k:]:
        now, live = _step(node, last, size, live)
        peak = max(peak, now)
    folded = _folded_convs(nodes)
    params = macs = flash = 0
    for node in nodes[k:]:
        p, m, f = layer_cost(node, nodes, node.id in folded)
        params += p
        macs += m
        flash += f
    out = (params, macs, flash, peak - start, live - start)
    tmpl.traces[key] = out
    return out


def profile_segments(graph: SegmentGraph, act_bytes: int = 1) -> Profile:
    """The profile of ``graph`` with every segment expanded (see the module docstring)."""
    nodes = graph.nodes
    templates = graph.templates
    n = len(nodes)
    last = list(range(n))
    for node in nodes:
        for j in node.inputs:
            last[j] = node.id
    last[-1] = n
    size = _sizes(nodes, act_bytes)
    folded = _folded_convs(nodes)
    params = macs = flash = live = peak = 0
    for node in nodes:
        i = node.id
        tmpl = templates.get(i)
        if tmpl is not None:
            p, m, f, rel_peak, delta = _trace(tmpl, tuple(last[j] == i for j in node.inputs),
                                               act_bytes)
            now = live + rel_peak
            live += delta
            if last[i] == i:
                live -= size[i]
        else:
            p, m, f = layer_cost(node, nodes, i in folded)
            if node.inputs:
                now, live = _step(node, last, size, live)
            else:
                now = live = live + size[i]
                if last[i] == i:
                    live -= size[i]
        params += p
        macs += m
        flash += f
        peak = max(peak, now)
    inp = next((nd.shape for nd in nodes if nd.op == "input"), ())
    return Profile(params, macs, peak, flash, inp, nodes[-1].shape)
