"""AnyNetX design spaces A to E.

Radosavovic, Kosaraju, Girshick, He, Dollár, "Designing Network Design Spaces", CVPR 2020.

An AnyNetX network is a 3x3 stride-2 stem conv with 32 channels, ``stages`` (4) stages of X
blocks and a head (global average pooling, linear classifier). Stage ``i`` has depth ``d_i`` in
1..16, width ``w_i`` in {8, 16, ..., 1024}, bottleneck ratio ``b_i`` in {1, 2, 4} and group width
``g_i`` in {1, 2, 4, 8, 16, 32}; its first block has stride 2. The X block is the ResNeXt
bottleneck: 1x1 conv to ``w/b`` channels, 3x3 group conv (groups of ``g`` channels, the block's
stride), 1x1 conv back to ``w``, each followed by BN (and ReLU but the last), a projection
shortcut (1x1 conv + BN) when the shape changes, and a ReLU after the sum.

The paper's refinements are the ``variant`` parameter:

* ``A``: every stage free, ``(16 * 128 * 3 * 6)^4`` = 1.85e18 networks;
* ``B``: one bottleneck ratio shared by all stages (decision ``b``), 6.84e16;
* ``C``: also one shared group width (decision ``g``), 3.17e14;
* ``D``: also non-decreasing widths ``w_{i+1} >= w_i``, 1.38e13;
* ``E``: also non-decreasing depths ``d_{i+1} >= d_i``, 8.17e11 (the paper: about 10^7 times
  fewer than A).

:meth:`AnyNetSpace.size` is exact: the free decisions multiply, and each monotone chain (widths in
D and E, depths in E) is counted by dynamic programming over the choices each stage has left, so
restricted spaces are counted exactly too. :meth:`AnyNetSpace.sample` draws the monotone chains
uniformly among the valid ones (the distribution rejection sampling would give).

Widths, bottleneck ratios and group widths are made compatible at build time exactly as pycls's
``adjust_block_compatibility`` does: the bottleneck width is ``max(1, w // b)``, the group width is
capped at it, the bottleneck width is rounded to a multiple of the group width, and the stage
width becomes ``bottleneck * b``. The X block and this rule are shared with
:mod:`archspace.spaces.regnet`.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from archspace.errors import ParamError, SpaceError
from archspace.ir.blocks import Block, ClassifierHead, ConvBNAct, conv_bn_act
from archspace.ir.graph import Graph, Node, Shape
from archspace.space import Arch, ChainSpace, Decision, Diagram, DiagramEdge, DiagramNode, as_rng
from archspace.space.decision import Value
from archspace.space.params import CHANNELS, Limit, count_up_to, limits
from archspace.spaces._chains import count_chains, sample_chain

__all__ = ["VARIANTS", "AnyNetSpace", "StageSpec", "XBlock", "adjust_compatibility",
           "anynetx_blocks", "anynetx_named_blocks", "anynetx_terms", "stages_diagram"]

VARIANTS = ("A", "B", "C", "D", "E")
STEM_WIDTH = 32


@dataclass(frozen=True)
class XBlock(Block):
    """The AnyNetX residual bottleneck block (``bottleneck`` = w/b, ``group_width`` channels per
    group of the 3x3 conv)."""

    out_ch: int
    stride: int
    bottleneck: int
    group_width: int

    def lower(self, g: Graph, x: Node) -> Node:
        y = _x_reduce(g, x, self.bottleneck)
        y = _x_group(g, y, self.bottleneck, self.stride, self.bottleneck // self.group_width)
        y = _x_expand(g, y, self.out_ch)
        if x.channels != self.out_ch or self.stride != 1:
            x = _x_shortcut(g, x, self.out_ch, self.stride)
        return _x_sum(g, x, y)


def _x_reduce(g: Graph, x: Node, wb: int) -> Node:
    """The X block's 1x1 conv to ``wb`` channels, BN, ReLU."""
    return conv_bn_act(g, x, wb, 1, act="relu", name="a")


def _x_group(g: Graph, y: Node, wb: int, stride: int, groups: int) -> Node:
    """The X block's 3x3 group conv, BN, ReLU."""
    return conv_bn_act(g, y, wb, 3, stride, act="relu", groups=groups, name="b")


def _x_expand(g: Graph, y: Node, out_ch: int) -> Node:
    """The X block's 1x1 conv back to ``out_ch`` channels and BN."""
    return g.bn(g.conv(y, out_ch, 1, name="c"))


def _x_shortcut(g: Graph, x: Node, out_ch: int, stride: int) -> Node:
    """The X block's projection shortcut (where the shape changes): 1x1 conv and BN."""
    return g.bn(g.conv(x, out_ch, 1, stride, name="proj"))


def _x_sum(g: Graph, x: Node, y: Node) -> Node:
    """The X block's sum of shortcut and branch, and its ReLU."""
    return g.relu(g.add(x, y))


def _block_part(g: Graph, x: Node, block: Block) -> Node:
    """``block`` lowered on ``x``, a latency-table piece."""
    return block.lower(g, x)


def _xblock_sum(part: Callable[..., Any], shape: Shape, out_ch: int, wb: int,
                group_width: int, stride: int) -> tuple[int, int, Shape]:
    """(exact ms, layers, output shape) of ``XBlock(out_ch, stride, wb, group_width)`` on an
    input of ``shape``, from its pieces (see :meth:`XBlock.lower`), each looked up by
    ``part``."""
    (ms0, k0), s0 = part(_x_reduce, (shape,), wb)
    (ms1, k1), s1 = part(_x_group, (s0,), wb, stride, wb // group_width)
    (ms2, k2), s2 = part(_x_expand, (s1,), out_ch)
    ms, k = ms0 + ms1 + ms2, k0 + k1 + k2
    x = shape
    if shape[0] != out_ch or stride != 1:
        (ms3, k3), x = part(_x_shortcut, (shape,), out_ch, stride)
        ms, k = ms + ms3, k + k3
    (ms4, k4), s4 = part(_x_sum, (x, s2))
    return ms + ms4, k + k4, s4


def _bn_relu(layer: Callable[[Any], int], sums: dict[Any, Any], s: Shape) -> int:
    """Exact ms of a BN and a ReLU on a tensor of shape ``s`` (kept in ``sums``)."""
    key = (5, s)
    ms = sums.get(key)
    if ms is None:
        ms = sums[key] = layer(("bn", (s,), s, (True,))) + layer(("act", (s,), s, ("relu",)))
    return ms  # type: ignore[no-any-return]


def _xblock_layers(layer: Callable[[Any], int], sums: dict[Any, Any], shape: Shape, out_ch: int,
                   wb: int, group_width: int, stride: int) -> tuple[int, int, Shape] | None:
    """(exact ms, layers, output shape) of ``XBlock(out_ch, stride, wb, group_width)`` on an
    input of ``shape`` from the signatures its lowering gives its layers (:func:`_x_reduce`,
    :func:`_x_group`, :func:`_x_expand`, :func:`_x_shortcut`, :func:`_x_sum`), written here
    without building IR nodes, each layer's latency from ``layer``; each piece's sum kept in
    ``sums`` under its parameters. None where the IR would refuse the block (channels not
    divisible into the groups, an empty tensor): the caller lowers it and gets the error."""
    c, h, w = shape
    groups = wb // group_width
    if groups < 1 or wb % groups or c < 1 or wb < 1 or out_ch < 1 or h < 1 or w < 1:
        return None
    # Graph.conv's output size (n + 2p - (k - 1) - 1) // s + 1 is (n - 1) // s + 1 both for the
    # 3x3 conv (same padding p = 1) and for the 1x1 shortcut (p = 0); >= 1 as n >= 1
    ho, wo = (h - 1) // stride + 1, (w - 1) // stride + 1
    mid, mid_out, out = (wb, h, w), (wb, ho, wo), (out_ch, ho, wo)
    key: tuple[Any, ...] = (0, shape, wb)  # 1x1 conv to wb, BN, ReLU
    total = sums.get(key)
    if total is None:
        total = sums[key] = (layer(("conv", (shape,), mid, ((1, 1), 1, (0, 0), 1, 1, False)))
                             + _bn_relu(layer, sums, mid))
    key = (1, mid, stride, groups)  # 3x3 group conv of the stride, BN, ReLU
    ms = sums.get(key)
    if ms is None:
        ms = sums[key] = (layer(("conv", (mid,), mid_out,
                                 ((3, 3), stride, (1, 1), 1, groups, False)))
                          + _bn_relu(layer, sums, mid_out))
    total += ms
    key = (2, mid_out, out_ch)  # 1x1 conv to out_ch, BN
    ms = sums.get(key)
    if ms is None:
        ms = sums[key] = (layer(("conv", (mid_out,), out, ((1, 1), 1, (0, 0), 1, 1, False)))
                          + layer(("bn", (out,), out, (True,))))
    total += ms
    count = 10
    if c != out_ch or stride != 1:  # projection shortcut: 1x1 conv of the stride, BN
        key = (3, shape, out_ch, stride)
        ms = sums.get(key)
        if ms is None:
            ms = sums[key] = (layer(("conv", (shape,), out,
                                     ((1, 1), stride, (0, 0), 1, 1, False)))
                              + layer(("bn", (out,), out, (True,))))
        total += ms
        count = 12
    key = (4, out)  # the sum and its ReLU
    ms = sums.get(key)
    if ms is None:
        ms = sums[key] = (layer(("add", (out, out), out, ()))
                          + layer(("act", (out,), out, ("relu",))))
    return total + ms, count, out


def anynetx_terms(stages: Sequence[tuple[int, int, int, int]], num_classes: int,
                  in_shape: Shape, part: Callable[..., Any],
                  memo: Callable[[Any], dict[Any, Any]],
                  layer: Callable[[Any], int] | None = None) -> list[tuple[int, int]]:
    """The network of :func:`anynetx_blocks` on an input of ``in_shape`` as latency-table
    terms (see :meth:`~archspace.cost.latency_table.LatencyTable.predict`): the stem, per stage
    its first block and its other (equal) blocks' sum, and the head. A block's sum is kept in
    the table's ``memo`` under its input shape and parameters, built from its pieces (1x1
    reduce and 3x3 group conv with BN and ReLU, 1x1 expand with BN, the projection shortcut,
    the sum and its ReLU): with ``layer`` (the table's latency of one signature) from the
    pieces' layer signatures written directly (:func:`_xblock_layers`, each piece's sum kept
    under its parameters), else each piece looked up by ``part``."""
    sums = memo("anynetx-xblock")
    key: tuple[Any, ...] = ("stem", in_shape)
    stem = sums.get(key)
    if stem is None:
        stem = sums[key] = part(_block_part, (in_shape,),
                                ConvBNAct(STEM_WIDTH, 3, 2, act="relu"))
    terms, shape = stem
    out = [terms]
    for d, w, r, gw in stages:
        if d < 1:
            continue
        w, gw = adjust_compatibility(w, r, gw)
        wb = w // r
        for stride in (2, 1) if d > 1 else (2,):
            key = (shape, w, wb, gw, stride)
            hit = sums.get(key)
            if hit is None:
                if layer is not None:
                    hit = _xblock_layers(layer, sums, shape, w, wb, gw, stride)
                if hit is None:
                    hit = _xblock_sum(part, shape, w, wb, gw, stride)
                sums[key] = hit
            ms, k, shape = hit
            out.append((ms, k) if stride == 2 else (ms * (d - 1), k * (d - 1)))
    key = ("head", shape, num_classes)
    head = sums.get(key)
    if head is None:
        head = sums[key] = part(_block_part, (shape,), ClassifierHead(num_classes))[0]
    out.append(head)
    return out


@dataclass(frozen=True)
class StageSpec:
    """One stage as built: depth, width, bottleneck ratio and group width (after adjustment)."""

    depth: int
    width: int
    ratio: int
    group_width: int

    @property
    def bottleneck(self) -> int:
        return self.width // self.ratio


def adjust_compatibility(width: int, ratio: int, group_width: int) -> tuple[int, int]:
    """(width, group width) made compatible as pycls's ``adjust_block_compatibility`` does."""
    v = max(1, int(width / ratio))
    g = min(group_width, v)
    v = max(g, round(v / g) * g)
    return v * ratio, g


def anynetx_blocks(stages: Sequence[tuple[int, int, int, int]], num_classes: int) -> list[Block]:
    """Stem, X blocks of each ``(depth, width, ratio, group width)`` stage, and head."""
    return [b for _, b in anynetx_named_blocks(stages, num_classes)]


def anynetx_named_blocks(stages: Sequence[tuple[int, int, int, int]],
                         num_classes: int) -> list[tuple[str, Block]]:
    """:func:`anynetx_blocks` named by position: ``stem``, ``s<i>.b<j>`` (stage i from 1,
    block j from 0), ``head``."""
    out: list[tuple[str, Block]] = [("stem", ConvBNAct(STEM_WIDTH, 3, 2, act="relu"))]
    for s, spec in enumerate(adjusted_stages(stages), 1):
        for i in range(spec.depth):
            out.append((f"s{s}.b{i}", XBlock(spec.width, 2 if i == 0 else 1, spec.bottleneck,
                                            spec.group_width)))
    out.append(("head", ClassifierHead(num_classes)))
    return out


def adjusted_stages(stages: Sequence[tuple[int, int, int, int]]) -> list[StageSpec]:
    """The stages as built, after :func:`adjust_compatibility`."""
    out = []
    for d, w, r, gw in stages:
        w2, g2 = adjust_compatibility(w, r, gw)
        out.append(StageSpec(d, w2, r, g2))
    return out


def stages_diagram(title: str, stages: Sequence[StageSpec], num_classes: int) -> Diagram:
    """A strip: stem, one box per stage, head."""
    nodes = [DiagramNode("stem", f"stem\nconv3x3 s2\n{STEM_WIDTH}", group="input")]
    for i, s in enumerate(stages, 1):
        nodes.append(DiagramNode(f"s{i}", f"stage {i}\n{s.depth} x X block\nw={s.width} "
                                 f"b={s.ratio}\ng={s.group_width} s2"))
    nodes.append(DiagramNode("head", f"head\ngap, fc\n{num_classes}", group="output"))
    edges = tuple(DiagramEdge(a.id, b.id) for a, b in itertools.pairwise(nodes))
    return Diagram("strip", title, tuple(nodes), edges)


class AnyNetSpace(ChainSpace):
    """AnyNetX A-E: per-stage depth, width, bottleneck ratio and group width."""

    name = "anynet"
    kind = "chain"
    paper = "Radosavovic et al. 2020, Designing Network Design Spaces (CVPR)"
    min_resolution = 32

    param_limits = limits(ChainSpace.param_limits, stages=count_up_to(32),
                          max_depth=count_up_to(256), max_width=Limit(8, 4096),
                          ratios=Limit(1, 64), group_widths=CHANNELS)

    def __init__(self, variant: str = "A", resolution: int = 224, num_classes: int = 1000,
                 stages: int = 4, max_depth: int = 16, max_width: int = 1024,
                 ratios: tuple[int, ...] = (1, 2, 4),
                 group_widths: tuple[int, ...] = (1, 2, 4, 8, 16, 32)) -> None:
        self._record_params(variant=variant, resolution=resolution, num_classes=num_classes,
                            stages=stages, max_depth=max_depth, max_width=max_width,
                            ratios=ratios, group_widths=group_widths)
        variant = str(variant).upper()
        if variant not in VARIANTS:
            raise ParamError(f"parameter variant={variant!r} of space anynet must be one of "
                             f"{', '.join(VARIANTS)}")
        if stages < 1 or max_depth < 1 or max_width < 8:
            raise ParamError("space anynet needs stages >= 1, max_depth >= 1 and max_width >= 8")
        self.variant = variant
        self.stages = stages
        self.default_resolution = resolution
        self.num_classes = num_classes
        self._set_decisions(self._decisions(max_depth, max_width, ratios, group_widths))

    def _decisions(self, max_depth: int, max_width: int, ratios: tuple[int, ...],
                   group_widths: tuple[int, ...]) -> list[Decision]:
        v = self.variant
        ds = []
        if v >= "B":
            ds.append(Decision.of("b", ratios, doc="bottleneck ratio shared by all stages"))
        if v >= "C":
            ds.append(Decision.of("g", group_widths, doc="group width shared by all stages"))
        for i in range(1, self.stages + 1):
            ds.append(Decision.of(f"s{i}.d", range(1, max_depth + 1), doc="stage depth"))
            ds.append(Decision.of(f"s{i}.w", range(8, max_width + 1, 8), doc="stage width"))
            if v == "A":
                ds.append(Decision.of(f"s{i}.b", ratios, doc="bottleneck ratio"))
            if v <= "B":
                ds.append(Decision.of(f"s{i}.g", group_widths, doc="group width"))
        return ds

    # -- constraints -----------------------------------------------------------------------
    def _chains(self) -> list[list[int]]:
        """Decision positions of each non-decreasing chain (widths for D, depths for E)."""
        chains = []
        if self.variant >= "D":
            chains.append([self._pos[f"s{i}.w"] for i in range(1, self.stages + 1)])
        if self.variant == "E":
            chains.append([self._pos[f"s{i}.d"] for i in range(1, self.stages + 1)])
        return chains

    def _violation(self, values: Sequence[Value | None]) -> str | None:
        for chain in self._chains():
            for a, b in itertools.pairwise(chain):
                if values[b] < values[a]:  # type: ignore[operator]
                    what = "widths" if self.names[a].endswith(".w") else "depths"
                    return (f"stage {what} must not decrease in AnyNetX{self.variant}: "
                            f"{self.names[b]}={values[b]} < {self.names[a]}={values[a]}")
        return None

    def size(self) -> int:
        chained = {i for chain in self._chains() for i in chain}
        n = 1
        for i, d in enumerate(self.decisions):
            if i not in chained:
                n *= len(d.choices)
        for chain in self._chains():
            n *= count_chains([self.decisions[i].choices for i in chain], _non_decreasing)
        return n

    def sample(self, seed_or_rng: random.Random | int | None = None) -> Arch:
        rng = as_rng(seed_or_rng)
        values: list[Value | None] = [None] * len(self.decisions)
        self._fill(values, rng)
        for chain in self._chains():
            drawn = sample_chain([self.decisions[i].choices for i in chain], _non_decreasing, rng)
            if drawn is None:
                raise SpaceError(f"space {self.label} has no architectures: its restricted "
                                 "choices admit no non-decreasing stage sequence")
            for i, v in zip(chain, drawn, strict=True):
                values[i] = v
        return Arch(self.names, tuple(values))

    # -- networks --------------------------------------------------------------------------
    def stage_specs(self, arch: Arch) -> list[tuple[int, int, int, int]]:
        """(depth, width, bottleneck ratio, group width) of each stage, as decided."""
        vals = arch.values
        if arch.names != self.names:  # an arch of other names: by name
            by_name: dict[str, Any] = dict(arch.items())
            out = []
            for i in range(1, self.stages + 1):
                b = by_name["b"] if self.variant >= "B" else by_name[f"s{i}.b"]
                g = by_name["g"] if self.variant >= "C" else by_name[f"s{i}.g"]
                out.append((int(by_name[f"s{i}.d"]), int(by_name[f"s{i}.w"]), int(b), int(g)))
            return out
        return [(int(vals[d]), int(vals[w]), int(vals[b]), int(vals[g]))  # type: ignore[arg-type]
                for d, w, b, g in self._stage_positions()]

    def _stage_positions(self) -> list[tuple[int, int, int, int]]:
        """Per stage, the positions in :attr:`names` of its depth, width, ratio and group
        width decisions (the shared ``b`` and ``g`` from variants B and C), for these names."""
        got = self.__dict__.get("_stage_pos")
        if got is None or got[0] is not self.names:
            pos = self._pos
            got = self.__dict__["_stage_pos"] = (self.names, [
                (pos[f"s{i}.d"], pos[f"s{i}.w"],
                 pos["b"] if self.variant >= "B" else pos[f"s{i}.b"],
                 pos["g"] if self.variant >= "C" else pos[f"s{i}.g"])
                for i in range(1, self.stages + 1)])
        return got[1]  # type: ignore[no-any-return]

    def blocks(self, arch: Arch, resolution: int) -> list[Block]:
        return anynetx_blocks(self.stage_specs(arch), self.num_classes)

    def named_blocks(self, arch: Arch, resolution: int) -> list[tuple[str, Block]]:
        return anynetx_named_blocks(self.stage_specs(arch), self.num_classes)

    def latency_terms(self, arch: Arch, resolution: int, part: Callable[..., Any],
                      memo: Callable[[Any], dict[Any, Any]],
                      layer: Callable[[Any], int] | None = None) -> list[tuple[int, int]]:
        """:meth:`blocks` as latency-table terms (see :func:`anynetx_terms`)."""
        return anynetx_terms(self.stage_specs(arch), self.num_classes,
                             (self.in_channels, resolution, resolution), part, memo, layer)

    def diagram(self, arch: Arch) -> Diagram:
        arch = self.validate(arch)
        stages = adjusted_stages(self.stage_specs(arch))
        return stages_diagram(f"{self.label} (AnyNetX{self.variant})", stages, self.num_classes)


def _non_decreasing(prev: Value | None, cur: Value) -> bool:
    return prev is None or prev <= cur  # type: ignore[operator]
