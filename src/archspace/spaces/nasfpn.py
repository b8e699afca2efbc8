"""NAS-FPN: a feature pyramid built from searched merging cells.

Ghiasi, Lin, Pang, Le, "NAS-FPN: Learning Scalable Feature Pyramid Architecture for Object
Detection", CVPR 2019.

The pyramid network takes five maps P3-P7 (strides 8 to 128) and appends ``cells`` (7) merging
cells to that pool. Cell ``c{i}`` picks two different inputs from the pool (``c{i}.in0``,
``c{i}.in1``: P3-P7 or an earlier cell), an output level, and a binary op (``c{i}.op``):

* ``sum``: the two resampled inputs added;
* ``attention``: the paper's global-pooling op, as in the authors' code: with ``a`` the input
  of the coarser original level and ``b`` the other, ``a + b * sigmoid(global_max_pool(a))``.

Inputs are resampled to the output level by max pooling (down) or nearest upsampling (up), and
the merged map goes through ReLU, 3x3 conv and BN. As in the paper, intermediate cells never
output level 3 (``c{i}.level`` in 4-7), the last five cells output the pyramid P3-P7 in an
order the search chooses (decision ``outputs``, a permutation such as ``P3-P4-P5-P7-P6``), and
each output cell also adds every same-level map of the pool that nothing has used yet.
``size`` is exact: per cell, ordered pairs of distinct inputs times levels times ops, times the
120 output orders. The named arch ``nasfpn`` is the discovered 7-cell NAS-FPN (the
``NASFPN_BLOCK_SPECS`` of the authors' TensorFlow code).

The network around it (documented choices, not the paper's ResNet/RetinaNet): a small backbone
of seven 3x3 stride-2 conv-BN-ReLU layers (``backbone_widths``) whose last five outputs are
C3-C7; a 1x1 conv + BN per level to ``channels``; the pyramid network stacked ``stacks`` times
(each copy with its own weights); and a classification head: each of the final P3-P7 is
globally average-pooled, the five vectors concatenated and fed to a linear layer. The input
resolution must be a multiple of 128 so every level's resampling is exact.

``head="fcos"`` replaces the classification head by a dense detection head over every final
pyramid level, after FCOS (Tian, Shen, Chen, He, "FCOS: Fully Convolutional One-Stage Object
Detection", ICCV 2019): per level, ``head_convs`` 3x3 conv-BN-ReLU layers and a 3x3 conv (with
bias) to ``num_classes + 5`` channels: ``num_classes`` class logits, the four box distances
(l, t, r, b) and a centerness logit at each location. Unlike FCOS the head's weights are not
shared across levels (the IR has no weight tying; each level's head is counted and trained on
its own). The head is part of the IR, so profiles and constraints count its MACs and
parameters. The network's one output is every level's map flattened (channel-major) and
concatenated, P3 first; :func:`detection_levels` gives the layout, and
``archspace.nn.detection`` decodes it.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from typing import Any

from archspace.errors import ParamError, SpaceError
from archspace.ir.blocks import conv_bn_act
from archspace.ir.graph import Graph, Node
from archspace.limits import MAX_RESOLUTION
from archspace.space import Arch, Decision, Diagram, DiagramEdge, DiagramNode, Space, as_rng
from archspace.space.decision import Value
from archspace.space.params import CHANNELS, Limit, count_up_to, limits

__all__ = ["HEADS", "LEVELS", "NASFPN_SPEC", "OPS", "NASFPNSpace", "detection_levels"]

LEVELS = (3, 4, 5, 6, 7)
OPS = ("sum", "attention")
N_OUT = len(LEVELS)
HEADS = ("classify", "fcos")
#: Values a detection head predicts per location besides the class logits: l, t, r, b, centerness.
BOX_OUTPUTS = 5
ORDERS = tuple("-".join(f"P{lv}" for lv in p) for p in itertools.permutations(LEVELS))

#: The discovered NAS-FPN: (in0, in1, level, op) per cell, the last five being the outputs.
NASFPN_SPEC = (("P4", "P6", 4, "attention"), ("P4", "c0", 4, "sum"), ("P3", "c1", 3, "sum"),
               ("c1", "c2", 4, "sum"), ("c2", "c3", 5, "attention"), ("c1", "c4", 7, "attention"),
               ("c4", "c5", 6, "attention"))


class NASFPNSpace(Space):
    """Merging cells over the pool {P3..P7, earlier cells}; the last five give P3-P7."""

    name = "nasfpn"
    kind = "pyramid"
    paper = "Ghiasi et al. 2019, NAS-FPN (CVPR)"
    min_resolution = 128
    resolution_step = 128
    #: The heads :meth:`__init__` can put on the pyramid (``head``).
    heads = HEADS

    param_limits = limits(Space.param_limits, cells=count_up_to(100), channels=CHANNELS,
                          stacks=count_up_to(100), backbone_widths=CHANNELS,
                          head_convs=Limit(0, 8, why="convs per level of the detection head"))

    def __init__(self, cells: int = 7, channels: int = 64, stacks: int = 1,
                 backbone_widths: tuple[int, ...] = (16, 24, 32, 48, 64, 96, 128),
                 resolution: int = 256, num_classes: int = 1000, head: str = "classify",
                 head_convs: int = 1) -> None:
        self._record_params(cells=cells, channels=channels, stacks=stacks,
                            backbone_widths=backbone_widths, resolution=resolution,
                            num_classes=num_classes, head=head, head_convs=head_convs)
        if head not in HEADS:
            raise ParamError(f"space nasfpn has no head {head!r}; allowed: {', '.join(HEADS)}")
        if cells < N_OUT:
            raise ParamError(f"space nasfpn needs cells >= {N_OUT} (the last {N_OUT} output "
                             f"P3-P7), got {cells}")
        if len(backbone_widths) != 7 or channels < 1 or stacks < 1:
            raise ParamError("space nasfpn needs 7 backbone_widths (levels 1-7), channels >= 1 "
                             "and stacks >= 1")
        self.cells = cells
        self.channels = channels
        self.stacks = stacks
        self.backbone_widths = tuple(backbone_widths)
        self.num_classes = num_classes
        self.head = head
        self.head_convs = head_convs
        self.check_resolution(resolution)
        self.default_resolution = resolution
        self._set_decisions(self._decisions())

    def _decisions(self) -> list[Decision]:
        ds = []
        pool = [f"P{lv}" for lv in LEVELS]
        for i in range(self.cells):
            ds.append(Decision.of(f"c{i}.in0", pool, doc="first input"))
            ds.append(Decision.of(f"c{i}.in1", pool, doc="second input (another one)"))
            if i < self.cells - N_OUT:
                ds.append(Decision.of(f"c{i}.level", LEVELS[1:], doc="output level"))
            ds.append(Decision.of(f"c{i}.op", OPS, doc="binary op"))
            pool = [*pool, f"c{i}"]
        ds.append(Decision.of("outputs", ORDERS, doc="levels of the last five cells"))
        return ds

    def check_resolution(self, resolution: int | None) -> int:
        if resolution is None:
            return self.default_resolution
        if (isinstance(resolution, bool) or not isinstance(resolution, int)
                or not 128 <= resolution <= MAX_RESOLUTION or resolution % 128):
            shown = resolution if isinstance(resolution, int) and abs(resolution) < 10**20 \
                else "(too large)" if isinstance(resolution, int) else repr(resolution)
            raise SpaceError(f"space {self.label} cannot take resolution {shown}; allowed: "
                             f"multiples of 128 up to {MAX_RESOLUTION} (P7 is 1/128 of the input)")
        return resolution

    # -- constraint, size, sampling --------------------------------------------------------
    def _pairs(self, i: int) -> list[tuple[Value, Value]]:
        a, b = self.decision(f"c{i}.in0").choices, self.decision(f"c{i}.in1").choices
        return [(x, y) for x in a for y in b if x != y]

    def _violation(self, values: Sequence[Value | None]) -> str | None:
        for i in range(self.cells):
            x = values[self._pos[f"c{i}.in0"]]
            if x == values[self._pos[f"c{i}.in1"]]:
                return f"cell c{i} takes {x} twice; its two inputs must differ"
        return None

    def size(self) -> int:
        n = len(self.decision("outputs").choices)
        for i in range(self.cells):
            n *= len(self._pairs(i)) * len(self.decision(f"c{i}.op").choices)
            if i < self.cells - N_OUT:
                n *= len(self.decision(f"c{i}.level").choices)
        return n

    def sample(self, seed_or_rng: random.Random | int | None = None) -> Arch:
        rng = as_rng(seed_or_rng)
        values: list[Value | None] = [None] * len(self.decisions)
        self._fill(values, rng)
        for i in range(self.cells):
            pairs = self._pairs(i)
            if not pairs:
                raise SpaceError(f"space {self.label} has no architectures: cell c{i} has no "
                                 "two different inputs left")
            values[self._pos[f"c{i}.in0"]], values[self._pos[f"c{i}.in1"]] = rng.choice(pairs)
        return Arch(self.names, tuple(values))

    def named_archs(self) -> dict[str, Arch]:
        if self.cells != len(NASFPN_SPEC):
            return {}
        values: dict[str, Any] = {"outputs": "P3-P4-P5-P7-P6"}
        for i, (a, b, level, op) in enumerate(NASFPN_SPEC):
            values.update({f"c{i}.in0": a, f"c{i}.in1": b, f"c{i}.op": op})
            if i < self.cells - N_OUT:
                values[f"c{i}.level"] = level
        if not all(v in self.decision(k).choices for k, v in values.items()):
            return {}
        return {"nasfpn": self.make(values)}

    def cell_specs(self, arch: Arch) -> list[tuple[str, str, int, str]]:
        """(in0, in1, output level, op) of each cell."""
        v: dict[str, Any] = dict(self.validate(arch).items())
        order = [int(p[1:]) for p in str(v["outputs"]).split("-")]
        first_out = self.cells - N_OUT
        return [(v[f"c{i}.in0"], v[f"c{i}.in1"],
                 int(v[f"c{i}.level"]) if i < first_out else order[i - first_out], v[f"c{i}.op"])
                for i in range(self.cells)]

    # -- the network -----------------------------------------------------------------------
    def _lower(self, arch: Arch, g: Graph, resolution: int) -> None:
        cells = self.cell_specs(arch)
        x = g.input((self.in_channels, resolution, resolution))
        feats = []
        with g.scope("backbone"):
            for level, width in enumerate(self.backbone_widths, 1):
                x = _backbone_part(g, x, width, f"c{level}")
                if level >= LEVELS[0]:
                    feats.append(x)
        with g.scope("lateral"):
            feats = [_lateral_part(g, f, self.channels, f"p{lv}")
                     for f, lv in zip(feats, LEVELS, strict=True)]
        for s in range(self.stacks):
            with g.scope(f"fpn{s}"):
                feats = self._pyramid(g, cells, feats)
        if self.head == "fcos":
            self._fcos_head(g, feats)
            return
        _classify_part(g, *feats, self.num_classes)

    def _fcos_head(self, g: Graph, feats: list[Node]) -> None:
        _fcos_part(g, *feats, self.channels, self.head_convs, self.num_classes)

    def _pyramid(self, g: Graph, cells: list[tuple[str, str, int, str]],
                 feats: list[Node]) -> list[Node]:
        pool: list[tuple[Node, int]] = list(zip(feats, LEVELS, strict=True))
        for i, (ia, ib, level, op, spare) in enumerate(_pyramid_plan(cells, self.cells - N_OUT)):
            with g.scope(f"c{i}"):
                (xa, la), (xb, lb) = pool[ia], pool[ib]
                y = _merge_cell(g, xa, xb, *(pool[k][0] for k in spare), la, lb, level, op,
                                self.channels)
            pool.append((y, level))
        out = {lv: node for node, lv in pool[-N_OUT:]}
        return [out[lv] for lv in LEVELS]

    def latency_terms(self, arch: Arch, resolution: int, part: Callable[..., Any],
                      memo: Callable[[Any], dict[Any, Any]]) -> list[tuple[int, int]]:
        """The network of :meth:`_lower` as latency-table terms (see
        :meth:`~archspace.cost.latency_table.LatencyTable.predict`): the backbone and lateral
        convs (their sum kept in the table's ``memo`` per input shape, widths and channels),
        each merging cell (:func:`_merge_cell`, looked up by ``part`` on its inputs' shapes and
        levels) and the head."""
        cells = self.cell_specs(arch)
        in_shape = (self.in_channels, resolution, resolution)
        stems = memo("nasfpn-stem")
        key = (in_shape, self.backbone_widths, self.channels)
        hit = stems.get(key)
        if hit is None:
            total, count, shape, feats = 0, 0, in_shape, []
            for level, width in enumerate(self.backbone_widths, 1):
                (ms, k), shape = part(_backbone_part, (shape,), width)
                total, count = total + ms, count + k
                if level >= LEVELS[0]:
                    (ms, k), lateral = part(_lateral_part, (shape,), self.channels)
                    total, count = total + ms, count + k
                    feats.append(lateral)
            hit = stems[key] = (total, count, feats)
        out = [(hit[0], hit[1])]
        plan = _pyramid_plan(cells, self.cells - N_OUT)
        feats = hit[2]
        for _ in range(self.stacks):
            pool: list[tuple[tuple[int, ...], int]] = list(zip(feats, LEVELS, strict=True))
            for ia, ib, level, op, spare in plan:
                (sa, la), (sb, lb) = pool[ia], pool[ib]
                terms, shape = part(_merge_cell, (sa, sb, *(pool[k][0] for k in spare)), la,
                                    lb, level, op, self.channels)
                out.append(terms)
                pool.append((shape, level))
            last = {lv: sh for sh, lv in pool[-N_OUT:]}
            feats = [last[lv] for lv in LEVELS]
        if self.head == "fcos":
            out.append(part(_fcos_part, tuple(feats), self.channels, self.head_convs,
                            self.num_classes)[0])
        else:
            out.append(part(_classify_part, tuple(feats), self.num_classes)[0])
        return out

    def diagram(self, arch: Arch) -> Diagram:
        cells = self.cell_specs(arch)
        nodes = [DiagramNode(f"P{lv}", f"P{lv}\n1/{2 ** lv}", group="input") for lv in LEVELS]
        levels = {f"P{lv}": lv for lv in LEVELS}
        used = dict.fromkeys(levels, 0)
        edges = []
        first_out = self.cells - N_OUT
        for i, (a, b, level, op) in enumerate(cells):
            cid = f"c{i}"
            nodes.append(DiagramNode(cid, f"{cid}\nP{level}\n{op}", group=f"P{level}"))
            edges += [DiagramEdge(a, cid), DiagramEdge(b, cid)]
            used[a] += 1
            used[b] += 1
            if i >= first_out:
                for k, lv in levels.items():
                    if not used[k] and lv == level:
                        used[k] += 1
                        edges.append(DiagramEdge(k, cid, "+"))
                nodes.append(DiagramNode(f"out{level}", f"out P{level}", group="output"))
                edges.append(DiagramEdge(cid, f"out{level}"))
            levels[cid] = level
            used[cid] = 0
        return Diagram("dag", f"{self.label}: {self.cells} merging cells", tuple(nodes),
                       tuple(edges))


def detection_levels(resolution: int) -> list[tuple[int, int, int]]:
    """(level, stride, side) of each map the ``fcos`` head predicts on at ``resolution``, in
    the order the network's output concatenates them."""
    return [(lv, 2 ** lv, resolution // 2 ** lv) for lv in LEVELS]


def _resample(g: Graph, x: Node, level: int, target: int) -> Node:
    """Max pooling to a coarser level, nearest upsampling to a finer one."""
    if target > level:
        k = 2 ** (target - level)
        return g.maxpool(x, k, k)
    if target < level:
        k = 2 ** (level - target)
        return g.upsample(x, (x.shape[1] * k, x.shape[2] * k))
    return x


def _attention(g: Graph, coarse: Node, other: Node) -> Node:
    """NAS-FPN's global-pooling op: coarse + other * sigmoid(global max pool of coarse)."""
    gate = g.act(g.maxpool(coarse, coarse.shape[1], coarse.shape[1], name="global_max"), "sigmoid")
    return g.add(coarse, g.mul(other, gate))


def _pyramid_plan(cells: list[tuple[str, str, int, str]], first_out: int
                  ) -> list[tuple[int, int, int, str, tuple[int, ...]]]:
    """Per merging cell: the pool indices of its two inputs, its output level, its op and the
    pool indices of the unused same-level maps an output cell (from ``first_out`` on) adds."""
    levels = list(LEVELS)
    index = {f"P{lv}": k for k, lv in enumerate(LEVELS)}
    used = [0] * len(levels)
    plan = []
    for i, (a, b, level, op) in enumerate(cells):
        ia, ib = index[a], index[b]
        used[ia] += 1
        used[ib] += 1
        spare: tuple[int, ...] = ()
        if i >= first_out:
            spare = tuple(k for k, lv in enumerate(levels) if not used[k] and lv == level)
            for k in spare:
                used[k] += 1
        plan.append((ia, ib, level, op, spare))
        index[f"c{i}"] = len(levels)
        levels.append(level)
        used.append(0)
    return plan


def _merge_cell(g: Graph, *xs_and_args: Any) -> Node:
    """One merging cell, ``_merge_cell(g, a, b, *spares, level_a, level_b, level, op,
    channels)``: ``a`` and ``b`` resampled to ``level`` and merged by ``op``, the ``spares``
    (unused maps of that level) added, then ReLU, 3x3 conv and BN; a latency-table piece too."""
    *xs, la, lb, level, op, channels = xs_and_args
    a, b, *spares = xs
    xa, xb = _resample(g, a, la, level), _resample(g, b, lb, level)
    if op == "sum":
        y = g.add(xa, xb)
    else:
        coarse, other = (xa, xb) if la >= lb else (xb, xa)
        y = _attention(g, coarse, other)
    if spares:
        y = g.add(y, *spares)
    return g.bn(g.conv(g.relu(y), channels, 3))


def _backbone_part(g: Graph, x: Node, width: int, name: str | None = None) -> Node:
    """One backbone layer: 3x3 stride-2 conv, BN, ReLU."""
    return conv_bn_act(g, x, width, 3, 2, act="relu", name=name)


def _lateral_part(g: Graph, x: Node, channels: int, name: str | None = None) -> Node:
    """One lateral 1x1 conv and BN to the pyramid's channels."""
    return g.bn(g.conv(x, channels, 1, name=name))


def _classify_part(g: Graph, *feats_and_classes: Any) -> Node:
    """The classification head on P3-P7: each level pooled, concatenated, a linear layer."""
    *feats, num_classes = feats_and_classes
    pooled = [g.gap(f, name=f"gap{lv}") for f, lv in zip(feats, LEVELS, strict=True)]
    return g.linear(g.flatten(g.concat(*pooled)), num_classes, name="classifier")


def _fcos_part(g: Graph, *feats_and_args: Any) -> Node:
    """The ``fcos`` head on P3-P7 (``*feats, channels, head_convs, num_classes``): per level
    ``head_convs`` conv-BN-ReLU, then a 3x3 conv to class logits, l/t/r/b and centerness; the
    levels' maps flattened and concatenated (P3 first)."""
    *feats, channels, head_convs, num_classes = feats_and_args
    flat = []
    for f, lv in zip(feats, LEVELS, strict=True):
        with g.scope(f"head.p{lv}"):
            x = f
            for k in range(head_convs):
                x = conv_bn_act(g, x, channels, 3, 1, act="relu", name=f"tower{k}")
            y = g.conv(x, num_classes + BOX_OUTPUTS, 3, bias=True, name="predict")
            flat.append(g.flatten(y))
    return g.concat(*flat, name="detections")
