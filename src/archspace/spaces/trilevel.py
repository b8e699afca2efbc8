"""Trilevel NAS's super-resolution space: network path, cell ops and kernel widths.

Wu, Huang, Kumar, Sukthanker, Timofte, Van Gool, "Trilevel Neural Architecture Search for
Efficient Single Image Super-Resolution", CVPR 2021 (arXiv:2101.06658).

The paper searches three levels at once, and so does this space (a small, discrete version of
it, sized for CPU proxies; the paper relaxes the same three levels continuously):

* **network level**: a path over a lattice of resolutions. After a 3x3 stem at the LR input's
  resolution (rate 1), each of ``layers`` (4) layers runs at a downsample rate in ``levels``
  ((1, 2, 4)); the path starts at 1 and moves at most one level per layer, as Auto-DeepLab's
  (:mod:`archspace.spaces.autodeeplab`). Decision ``l{i}.rate``;
* **cell level**: each layer's cell is a DAG over ``nodes`` (2) intermediate nodes, node ``j``
  the sum of an op on every earlier state (the cell input is state 0), the cell output the
  input plus the last node (a residual cell). Decision ``l{i}.op{a}{b}`` is the op from state
  ``a`` to node ``b``, one of ``ops``: ``conv3x3``, ``conv5x5`` (ReLU, conv), ``sep3x3``,
  ``sep5x5`` (ReLU, depthwise, pointwise), ``dil3x3`` (ReLU, depthwise of dilation 2,
  pointwise) and ``skip``. No batch norm: super-resolution networks leave it out (Lim et al.,
  EDSR, CVPRW 2017);
* **kernel level**: the width of each layer, decision ``l{i}.width``, a multiplier of
  ``channels`` (16) in ``widths`` (0.5, 1.0, 1.5); a layer at rate ``s`` has
  ``round(channels * width) * s`` channels (more channels where the map is smaller, as
  Auto-DeepLab's ``B * F * s / 4``).

Between layers the features are resampled to the next layer's rate and width: a stride-2 3x3
conv going down, a bilinear upsample and a 1x1 conv going up, a 1x1 conv when only the width
changes. After the last layer the features return to rate 1 (bilinear) and ``channels``
(1x1 conv), are added to the stem's (EDSR's long skip), and the **upsampler** (ESPCN's sub-pixel
convolution, Shi et al., CVPR 2016) turns them into the HR image: a 3x3 conv to
``3 * scale ** 2`` channels and a pixel shuffle by ``scale`` (2, 3 or 4). The bicubic upsampling
of the input is added to it (a global residual, as VDSR, Kim et al., CVPR 2016), so the network
learns what bicubic misses; the upsampler's conv starts at zero, so an untrained network is
bicubic upsampling and training only adds to it. The input is the LR image ``(3, r, r)`` at the
space's resolution, the output the HR image ``(3, r * scale, r * scale)``.

:meth:`TrilevelSpace.size` is exact: the number of valid paths (dynamic programming over the,
possibly restricted, rates) times the choices of every op and width decision.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence
from typing import Any

from archspace.errors import ParamError, SpaceError
from archspace.ir.graph import Graph, Node
from archspace.ir.segments import segment
from archspace.space import Arch, Decision, Diagram, DiagramEdge, DiagramNode, Space, as_rng
from archspace.space.decision import Value
from archspace.space.params import CHANNELS, WIDTH, Limit, count_up_to, limits
from archspace.spaces._chains import count_chains, sample_chain

__all__ = ["OPS", "SCALES", "TrilevelSpace"]

OPS = ("conv3x3", "conv5x5", "sep3x3", "sep5x5", "dil3x3", "skip")
SCALES = (2, 3, 4)


def _move_ok(prev: Value | None, cur: Value) -> bool:
    """At most one level between consecutive layers; the stem sits at the first level."""
    if prev is None:
        return cur in (1, 2)
    return max(int(prev), int(cur)) <= 2 * min(int(prev), int(cur))  # type: ignore[arg-type]


class TrilevelSpace(Space):
    """A path of rates, cell ops and layer widths ending in a sub-pixel upsampler."""

    name = "trilevel"
    kind = "lattice"
    segment_profile = True
    paper = "Wu et al. 2021, Trilevel NAS for efficient single image super-resolution (CVPR)"
    min_resolution = 8
    in_channels = 3

    param_limits = limits(Space.param_limits, layers=count_up_to(24), nodes=count_up_to(4),
                          channels=CHANNELS, scale=Limit(2, 4),
                          widths=WIDTH, levels=Limit(1, 2, why="levels are 1, 2 and 4"))

    def __init__(self, layers: int = 4, nodes: int = 2, channels: int = 16, scale: int = 2,
                 ops: tuple[str, ...] = OPS, widths: tuple[float, ...] = (0.5, 1.0, 1.5),
                 levels: int = 2, resolution: int = 24) -> None:
        self._record_params(layers=layers, nodes=nodes, channels=channels, scale=scale, ops=ops,
                            widths=widths, levels=levels, resolution=resolution)
        bad = [o for o in ops if o not in OPS]
        if bad or not ops or len(set(ops)) != len(ops):
            raise ParamError(f"space trilevel: ops {list(ops)} must be distinct names from "
                             f"{', '.join(OPS)}")
        if not widths or len(set(widths)) != len(widths):
            raise ParamError("space trilevel: widths must be distinct multipliers, e.g. 0.5,1,1.5")
        self.layers, self.nodes, self.channels, self.scale = layers, nodes, channels, scale
        self.ops, self.widths = tuple(ops), tuple(float(w) for w in widths)
        #: the downsample rates of the lattice: 1, 2 (levels=1) or 1, 2, 4 (levels=2)
        self.rates = tuple(2 ** k for k in range(levels + 1))
        self.default_resolution = resolution
        decisions: list[Decision] = []
        for i in range(layers):
            decisions.append(Decision.of(f"l{i}.rate", self.rates[:min(i + 2, len(self.rates))],
                                         doc="downsample rate (network level)"))
            for b in range(1, nodes + 1):
                for a in range(b):
                    decisions.append(Decision.of(f"l{i}.op{a}{b}", self.ops,
                                                 doc=f"op from state {a} to node {b} (cell level)"))
            decisions.append(Decision.of(f"l{i}.width", self.widths,
                                         doc="width multiplier (kernel level)"))
        self._set_decisions(decisions)
        self._rate_pos = [self._pos[f"l{i}.rate"] for i in range(layers)]

    # -- the path constraint ---------------------------------------------------------------
    def _violation(self, values: Sequence[Value | None]) -> str | None:
        prev: Value | None = None
        for i, k in enumerate(self._rate_pos):
            v = values[k]
            if not _move_ok(prev, v):  # type: ignore[arg-type]
                before = f"l{i - 1}.rate={prev}" if prev is not None else "the stem (rate 1)"
                return f"l{i}.rate={v} is more than one level away from {before}"
            prev = v
        return None

    def _rate_choices(self) -> list[tuple[Value, ...]]:
        return [self.decisions[k].choices for k in self._rate_pos]

    def size(self) -> int:
        rates = set(self._rate_pos)
        rest = math.prod(len(d.choices) for i, d in enumerate(self.decisions) if i not in rates)
        return count_chains(self._rate_choices(), _move_ok) * rest

    def sample(self, seed_or_rng: random.Random | int | None = None) -> Arch:
        rng = as_rng(seed_or_rng)
        path = sample_chain(self._rate_choices(), _move_ok, rng)
        if path is None:
            raise SpaceError(f"space {self.label} has no architectures: its restricted rates "
                             "admit no path moving one level per layer")
        values = [rng.choice(d.choices) for d in self.decisions]
        for k, v in zip(self._rate_pos, path, strict=True):
            values[k] = v
        return Arch(self.names, tuple(values))

    # -- reading an arch -------------------------------------------------------------------
    def path(self, arch: Arch) -> list[int]:
        """The downsample rate of each layer."""
        arch = self.validate(arch)
        return [int(arch[f"l{i}.rate"]) for i in range(self.layers)]  # type: ignore[arg-type]

    def layer_channels(self, rate: int, width: float) -> int:
        """Channels of a layer at downsample ``rate`` with width multiplier ``width``."""
        return max(1, round(self.channels * width)) * rate

    # -- the network -----------------------------------------------------------------------
    def _lower(self, arch: Arch, g: Graph, resolution: int) -> None:
        r = resolution
        lr = g.input((self.in_channels, r, r))
        sizes = _rate_sizes(r, self.rates)
        with g.scope("stem"):
            stem = _stem(g, lr, self.channels)
        x, rate = stem, 1
        for i, (nxt, ch, ops) in enumerate(self._layers(arch)):
            with g.scope(f"l{i}"):
                x = _resample(g, x, rate, nxt, ch, sizes[nxt])
                x = _cell(g, x, self.nodes, ops)
            rate = nxt
        _tail(g, x, stem, lr, rate, self.channels, self.scale, r)

    def _layers(self, arch: Arch) -> list[tuple[int, int, tuple[tuple[tuple[int, int], str], ...]]]:
        """Per layer: its rate, its channels and its cell's ops ``((a, b), op)``, sorted."""
        out = []
        for i in range(self.layers):
            nxt = int(arch[f"l{i}.rate"])  # type: ignore[arg-type]
            ch = self.layer_channels(nxt, float(arch[f"l{i}.width"]))  # type: ignore[arg-type]
            ops = {(a, b): str(arch[f"l{i}.op{a}{b}"]) for b in range(1, self.nodes + 1)
                   for a in range(b)}
            out.append((nxt, ch, tuple(sorted(ops.items()))))
        return out

    def latency_terms(self, arch: Arch, resolution: int, part: Callable[..., Any],
                      memo: Callable[[Any], dict[Any, Any]]) -> list[tuple[int, int]]:
        """The network of :meth:`_lower` as latency-table terms (see
        :meth:`~archspace.cost.latency_table.LatencyTable.predict`): the stem, per layer its
        resampling and its cell, and the fusion and upsampler. A cell's sum is kept in the
        table's ``memo`` under its input shape and ops, made of its ops and sums (each looked
        up by ``part``: every state of a cell has the cell input's shape)."""
        r = resolution
        lr = (self.in_channels, r, r)
        sizes = _rate_sizes(r, self.rates)
        cells = memo("trilevel-cell")
        terms, stem = part(_stem, (lr,), self.channels)
        out = [terms]
        shape, rate = stem, 1
        for nxt, ch, ops in self._layers(arch):
            terms, shape = part(_resample, (shape,), rate, nxt, ch, sizes[nxt])
            out.append(terms)
            key = (shape, self.nodes, ops)
            hit = cells.get(key)
            if hit is None:
                hit = cells[key] = _cell_sum(part, shape, self.nodes, ops)
            out.append(hit)
            rate = nxt
        out.append(part(_tail, (shape, stem, lr), rate, self.channels, self.scale, r)[0])
        return out

    def diagram(self, arch: Arch) -> Diagram:
        path = self.path(arch)
        nodes = [DiagramNode("stem", "stem", (0.0, 0.0), "input")]
        for i in range(self.layers):
            width = arch[f"l{i}.width"]
            for k, lv in enumerate(self.rates):
                on = path[i] == lv
                nodes.append(DiagramNode(f"l{i}.{lv}", f"1/{lv}\nx{width}" if on else "",
                                         (i + 1.0, k)))
        nodes.append(DiagramNode("up", f"x{self.scale}\nshuffle", (self.layers + 1.0, 0.0),
                                 "output"))
        ids = ["stem", *(f"l{i}.{lv}" for i, lv in enumerate(path)), "up"]
        edges = tuple(DiagramEdge(a, b) for a, b in itertools.pairwise(ids))
        rates = "-".join(map(str, path))
        return Diagram("lattice", f"{self.label}: rates {rates}", tuple(nodes), edges)


def _rate_sizes(resolution: int, rates: Sequence[int]) -> dict[int, int]:
    """Spatial size at each rate, as stride-2 3x3 convs (padding 1) produce it."""
    sizes = {1: resolution}
    for a, b in itertools.pairwise(rates):
        sizes[b] = (sizes[a] - 1) // 2 + 1
    return sizes


def _stem(g: Graph, lr: Node, channels: int) -> Node:
    """The 3x3 stem conv at the LR input's resolution."""
    return g.conv(lr, channels, 3, bias=True)


def _resample(g: Graph, x: Node, rate: int, nxt: int, ch: int, size: int) -> Node:
    """From ``rate`` to the next layer's rate ``nxt`` (spatial ``size``) and ``ch`` channels."""
    if nxt > rate:
        return g.conv(g.relu(x), ch, 3, stride=2, bias=True, name="down")
    if nxt < rate:
        x = g.upsample(x, (size, size), mode="bilinear")
    return g.conv(x, ch, 1, bias=True, name="resize") if x.channels != ch else x


def _tail(g: Graph, x: Node, stem: Node, lr: Node, rate: int, channels: int, scale: int,
          r: int) -> Node:
    """Back to rate 1 and ``channels``, the long skip from the stem, the sub-pixel upsampler
    and the bicubic global residual of the LR input ``lr``."""
    with g.scope("fuse"):
        if rate != 1:
            x = g.upsample(x, (r, r), mode="bilinear")
        if x.channels != channels:
            x = g.conv(x, channels, 1, bias=True)
        x = g.add(x, stem, name="long_skip")
    with g.scope("upsampler"):
        y = g.pixel_shuffle(g.conv(x, lr.channels * scale * scale, 3, bias=True,
                                   zero_init=True), scale)
        up = g.upsample(lr, (r * scale, r * scale), mode="bicubic", name="bicubic")
    return g.add(y, up, name="output")


@segment
def _cell(g: Graph, x: Node, nodes: int, ops: tuple[tuple[tuple[int, int], str], ...]) -> Node:
    """A residual cell: node ``b`` sums ``op(state a)`` over ``a < b``; output ``x + last``."""
    op_of = dict(ops)
    states = [x]
    for b in range(1, nodes + 1):
        terms = [_op(g, states[a], op_of[(a, b)], f"op{a}{b}") for a in range(b)]
        states.append(terms[0] if len(terms) == 1 else g.add(*terms, name=f"node{b}"))
    return g.add(x, states[-1], name="residual")


def _cell_sum(part: Callable[..., Any], shape: tuple[int, ...], nodes: int,
              ops: tuple[tuple[tuple[int, int], str], ...]) -> tuple[int, int]:
    """(exact ms, layers) of :func:`_cell` on ``shape`` from its pieces: each op (on ``shape``:
    no op changes it), each node's sum of more than one term and the residual sum."""
    op_of = dict(ops)
    total, count = 0, 0
    for b in range(1, nodes + 1):
        for a in range(b):
            (ms, k), _ = part(_op_part, (shape,), op_of[(a, b)])
            total, count = total + ms, count + k
        if b > 1:
            (ms, k), _ = part(_sum_part, (shape,) * b)
            total, count = total + ms, count + k
    (ms, k), _ = part(_sum_part, (shape, shape))
    return total + ms, count + k


def _op_part(g: Graph, x: Node, op: str) -> Node:
    """One cell op alone, a latency-table piece."""
    return _op(g, x, op, "op")


def _sum_part(g: Graph, *xs: Node) -> Node:
    """The sum of ``xs``, a latency-table piece."""
    return g.add(*xs)


def _op(g: Graph, x: Node, op: str, name: str) -> Node:
    c = x.channels
    with g.scope(name):
        if op == "skip":
            return g.identity(x)
        if op in ("conv3x3", "conv5x5"):
            return g.conv(g.relu(x), c, int(op[-1]), bias=True)
        if op in ("sep3x3", "sep5x5"):
            return g.conv(g.dwconv(g.relu(x), int(op[-1])), c, 1, bias=True, name="pointwise")
        if op == "dil3x3":
            return g.conv(g.dwconv(g.relu(x), 3, dilation=2), c, 1, bias=True, name="pointwise")
    raise SpaceError(f"unknown trilevel op {op!r}; allowed: {', '.join(OPS)}")
