"""DARTS cell space.

Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search", ICLR 2019. A network stacks
normal cells and two reduction cells; each cell type is searched once and shared. A cell has two
inputs (states 0 and 1: the outputs of the two previous cells) and four intermediate nodes
(states 2..5). Node ``n`` picks two *distinct* inputs among the states before it and one of eight
ops for each, and sums the two results; the cell outputs the concatenation of its four nodes.

Decisions, per cell type ``t`` in (``normal``, ``reduce``) and node ``n`` in 0..3:
``t.n<n>.in`` is the unordered input pair, written ``a+b`` with ``a < b``; ``t.n<n>.op0`` is the
op on input ``a`` and ``t.n<n>.op1`` the op on input ``b``. Counting unordered distinct pairs
(the pair {a, b} with its two ops is one choice, as the two summed terms commute), a cell has
``prod_{n=0..3} C(n+2, 2) * 8**2 = (1*3*6*10) * 8**8 = 3,019,898,880`` choices and the space
``3,019,898,880**2 = 9,119,789,245,425,254,400`` (about 9.1e18) architectures.

The network is DARTS's CIFAR network: a 3x3 conv stem to ``3*C`` channels with BN, ``layers``
cells with reduction cells (twice the channels) at ``layers//3`` and ``2*layers//3``, each cell
preprocessing its inputs with ReLU-Conv1x1-BN (FactorizedReduce for the older input when the
previous cell reduced), then global pooling and a linear classifier (no auxiliary head). In a
reduction cell the ops on the cell inputs have stride 2; skip_connect with stride 2 is
FactorizedReduce and 'none' outputs zeros. DARTS_V2 at ``C=36, layers=20`` has the 3,349,342
parameters the DARTS code reports (3.3M in the paper).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from archspace.errors import ArchError, ParamError
from archspace.ir.blocks import dil_conv, factorized_reduce, relu_conv_bn, sep_conv
from archspace.ir.graph import Graph, Node
from archspace.ir.segments import segment
from archspace.space import Arch, Decision, Diagram, DiagramEdge, DiagramNode, Space
from archspace.space.params import CHANNELS, count_up_to, limits

__all__ = ["CELL_TYPES", "DARTS_OPS", "GENOTYPES", "DARTSSpace", "cell_inputs", "darts_op"]

#: The eight ops of the DARTS search space, in DARTS's PRIMITIVES order.
DARTS_OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
             "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
CELL_TYPES = ("normal", "reduce")
NODES = 4

Genotype = Sequence[tuple[str, int]]
#: The cells DARTS found (genotypes.py of the DARTS code): (op, input) pairs, two per node.
GENOTYPES: dict[str, tuple[Genotype, Genotype]] = {
    "DARTS_V1": (
        [("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_3x3", 1),
         ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2)],
        [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0),
         ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("avg_pool_3x3", 0)]),
    "DARTS_V2": (
        [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
         ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
        [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
         ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)]),
}


def _pair(a: int, b: int) -> str:
    return f"{a}+{b}"


class DARTSSpace(Space):
    """Normal and reduction cells of DARTS over its CIFAR network."""

    name = "darts"
    kind = "cell"
    edge_patterns = ("*.op0", "*.op1")
    segment_profile = True
    paper = "Liu et al. 2019, DARTS (ICLR)"
    min_resolution = 8
    resolution_step = 4

    param_limits = limits(Space.param_limits, C=CHANNELS, layers=count_up_to(100))

    def __init__(self, C: int = 16, layers: int = 8, num_classes: int = 10,
                 resolution: int = 32) -> None:
        self._record_params(C=C, layers=layers, num_classes=num_classes, resolution=resolution)
        for key, value in (("C", C), ("layers", layers), ("num_classes", num_classes)):
            if not isinstance(value, int) or value < 1:
                raise ParamError(f"parameter {key}={value!r} of space 'darts' must be an "
                                 "integer >= 1")
        self.C, self.layers, self.num_classes = C, layers, num_classes
        self.default_resolution = self.check_resolution(resolution)
        decisions = []
        for t in CELL_TYPES:
            for n in range(NODES):
                pairs = [_pair(a, b) for a, b in itertools.combinations(range(n + 2), 2)]
                decisions.append(Decision.of(f"{t}.n{n}.in", pairs, doc="two distinct inputs"))
                decisions.append(Decision.of(f"{t}.n{n}.op0", DARTS_OPS, doc="op on first input"))
                decisions.append(Decision.of(f"{t}.n{n}.op1", DARTS_OPS, doc="op on second input"))
        self._set_decisions(decisions)

    # -- genotypes -------------------------------------------------------------------------
    def from_genotype(self, normal: Genotype, reduce: Genotype) -> Arch:
        """The arch of a DARTS genotype: per cell, two (op, input) pairs per node."""
        values: dict[str, str] = {}
        for t, cell in zip(CELL_TYPES, (normal, reduce), strict=True):
            if len(cell) != 2 * NODES:
                raise ArchError(f"{t} genotype has {len(cell)} (op, input) pairs; needs "
                                f"{2 * NODES}")
            for n in range(NODES):
                (op_a, a), (op_b, b) = sorted(cell[2 * n:2 * n + 2], key=lambda e: e[1])
                values.update({f"{t}.n{n}.in": _pair(a, b), f"{t}.n{n}.op0": op_a,
                               f"{t}.n{n}.op1": op_b})
        return self.make(values)

    def genotype(self, arch: Arch) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """The (normal, reduce) genotype lists of ``arch`` (inverse of :meth:`from_genotype`)."""
        arch = self.validate(arch)
        normal, reduce = ([(op, s) for n in range(NODES) for op, s in _node(arch, t, n)]
                          for t in CELL_TYPES)
        return normal, reduce

    def named_archs(self) -> dict[str, Arch]:
        out = {}
        for name, (normal, reduce) in GENOTYPES.items():
            try:
                out[name] = self.from_genotype(normal, reduce)
            except ArchError:  # not in a restricted copy of the space
                continue
        return out

    # -- network ---------------------------------------------------------------------------
    def _lower(self, arch: Arch, g: Graph, resolution: int) -> None:
        x = g.input((self.in_channels, resolution, resolution))
        with g.scope("stem"):
            s0 = s1 = g.bn(g.conv(x, 3 * self.C, 3))
        ch, reduction_prev = self.C, False
        for i in range(self.layers):
            reduction = i in (self.layers // 3, 2 * self.layers // 3)
            ch *= 2 if reduction else 1
            t = "reduce" if reduction else "normal"
            with g.scope(f"cell{i}"):
                p0, p1 = cell_inputs(g, s0, s1, ch, reduction_prev)
                states = [p0, p1]
                for n in range(NODES):
                    with g.scope(f"n{n}"):
                        terms = [_scoped_op(g, states[s], op, s, k, ch, reduction)
                                 for k, (op, s) in enumerate(_node(arch, t, n))]
                        states.append(g.add(*terms))
                s0, s1 = s1, g.concat(*states[2:])
            reduction_prev = reduction
        with g.scope("head"):
            g.linear(g.flatten(g.gap(s1)), self.num_classes, name="classifier")

    def _plans(self, arch: Arch) -> dict[str, list[tuple[tuple[str, int], tuple[str, int]]]]:
        """Per cell type, :func:`_node` of each node (read by position, for speed)."""
        where = self.__dict__.get("_node_pos")
        if where is None:
            where = self.__dict__["_node_pos"] = {
                t: [tuple(self._pos[f"{t}.n{n}.{k}"] for k in ("in", "op0", "op1"))
                    for n in range(NODES)] for t in CELL_TYPES}
        v = arch.values
        out = {}
        for t, nodes in where.items():
            plan = []
            for i_in, i_op0, i_op1 in nodes:
                a, b = _PAIRS.get(v[i_in]) or _parse_pair(str(v[i_in]))
                plan.append(((str(v[i_op0]), a), (str(v[i_op1]), b)))
            out[t] = plan
        return out

    def latency_terms(self, arch: Arch, resolution: int, part: Callable[..., Any],
                      memo: Callable[[Any], dict[Any, Any]]) -> list[Any]:
        """The network of :meth:`_lower` as latency-table pieces, in its order (see
        :meth:`~archspace.cost.latency_table.LatencyTable.predict`)."""
        plans = self._plans(arch)
        terms, s1 = part(stem_part, ((self.in_channels, resolution, resolution),), 3 * self.C)
        out = [terms]
        s0 = s1
        ch, reduction_prev = self.C, False
        for i in range(self.layers):
            reduction = i in (self.layers // 3, 2 * self.layers // 3)
            ch *= 2 if reduction else 1
            pre0 = (part(factorized_reduce, (s0,), ch) if reduction_prev
                    else part(relu_conv_bn, (s0,), ch, 1))
            pre1 = part(relu_conv_bn, (s1,), ch, 1)
            out += (pre0[0], pre1[0])
            states = [pre0[1], pre1[1]]
            for (op0, a), (op1, b) in plans["reduce" if reduction else "normal"]:
                terms, shape = part(_node_part, (states[a], states[b]), op0, op1, ch,
                                    2 if reduction and a < 2 else 1,
                                    2 if reduction and b < 2 else 1)
                out.append(terms)
                states.append(shape)
            terms, shape = part(concat_part, tuple(states[2:]))
            out.append(terms)
            s0, s1 = s1, shape
            reduction_prev = reduction
        out.append(part(head_part, (s1,), self.num_classes)[0])
        return out

    def diagram(self, arch: Arch) -> Diagram:
        """One DAG panel per cell type: inputs c_{k-2}, c_{k-1}, nodes 0..3 and the concat
        output; edges labelled by their op ('none' edges left out)."""
        arch = self.validate(arch)
        panels = []
        for t in CELL_TYPES:
            edges = [DiagramEdge(_state_id(s), str(n), op)
                     for n in range(NODES) for op, s in _node(arch, t, n) if op != "none"]
            edges += [DiagramEdge(str(n), "out") for n in range(NODES)]
            panels.append(Diagram("dag", f"{t} cell", cell_nodes(NODES), tuple(edges)))
        return Diagram("dag", self.label, (), (), tuple(panels))


def stem_part(g: Graph, x: Node, ch: int) -> Node:
    """The stem of DARTS and NASNet (3x3 conv, BN), a latency-table piece."""
    return g.bn(g.conv(x, ch, 3))


def sum_part(g: Graph, *xs: Node) -> Node:
    """A node's sum, a latency-table piece."""
    return g.add(*xs)


def concat_part(g: Graph, *xs: Node) -> Node:
    """A cell's output concatenation, a latency-table piece."""
    return g.concat(*xs)


def head_part(g: Graph, x: Node, num_classes: int) -> Node:
    """Global pooling and the classifier, a latency-table piece."""
    return g.linear(g.flatten(g.gap(x)), num_classes)


def _node_part(g: Graph, a: Node, b: Node, op0: str, op1: str, ch: int, stride0: int,
               stride1: int) -> Node:
    """A cell node as :meth:`DARTSSpace._lower` builds it (op on each input, their sum), a
    latency-table piece."""
    return g.add(darts_op(g, a, op0, ch, stride0), darts_op(g, b, op1, ch, stride1))


def _scoped_op(g: Graph, x: Node, op: str, s: int, k: int, ch: int, reduction: bool) -> Node:
    """Op ``k`` of a node (0 on its lower input, 1 on the other) on state ``s``, named
    ``op<k>.<op>``: each candidate op of each of a node's two op slots has its own node names
    (and so its own weights in a supernet, whichever input the slot reads)."""
    with g.scope(f"op{k}"), g.scope(op):
        return darts_op(g, x, op, ch, 2 if reduction and s < 2 else 1)


def _node(arch: Arch, t: str, n: int) -> list[tuple[str, int]]:
    """The two (op, input state) pairs of node ``n`` of cell type ``t``."""
    a, b = (int(s) for s in str(arch[f"{t}.n{n}.in"]).split("+"))
    return [(str(arch[f"{t}.n{n}.op0"]), a), (str(arch[f"{t}.n{n}.op1"]), b)]


def _parse_pair(text: str) -> tuple[int, int]:
    a, b = text.split("+")
    return int(a), int(b)


_PAIRS = {_pair(a, b): (a, b) for n in range(NODES) for a, b in itertools.combinations(range(n + 2), 2)}


def _state_id(s: int) -> str:
    return ("c_{k-2}", "c_{k-1}")[s] if s < 2 else str(s - 2)


def cell_nodes(n_nodes: int, labels: Iterable[str] | None = None) -> tuple[DiagramNode, ...]:
    """Diagram boxes of a two-input cell: its inputs, ``n_nodes`` inner nodes and ``out``."""
    inner = list(labels) if labels is not None else [str(n) for n in range(n_nodes)]
    return (DiagramNode("c_{k-2}", "c_{k-2}", group="input"),
            DiagramNode("c_{k-1}", "c_{k-1}", group="input"),
            *(DiagramNode(str(n), inner[n]) for n in range(n_nodes)),
            DiagramNode("out", "c_{k}\nconcat", group="output"))


def cell_inputs(g: Graph, s0: Node, s1: Node, ch: int, reduction_prev: bool) -> tuple[Node, Node]:
    """DARTS/NASNet cell preprocessing: both inputs to ``ch`` channels at s1's resolution."""
    with g.scope("pre0"):
        p0 = factorized_reduce(g, s0, ch) if reduction_prev else relu_conv_bn(g, s0, ch, 1)
    with g.scope("pre1"):
        p1 = relu_conv_bn(g, s1, ch, 1)
    return p0, p1


@segment
def darts_op(g: Graph, x: Node, op: str, ch: int, stride: int) -> Node:
    """One DARTS op (``operations.py`` of the DARTS code) from ``ch`` to ``ch`` channels."""
    if op == "none":
        return g.zero(x, stride)
    if op == "max_pool_3x3":
        return g.maxpool(x, 3, stride, 1)
    if op == "avg_pool_3x3":
        return g.avgpool(x, 3, stride, 1, count_include_pad=False)
    if op == "skip_connect":
        return g.identity(x) if stride == 1 else factorized_reduce(g, x, ch)
    kind, k = op.rsplit("_", 1)
    kernel = int(k.split("x")[0])
    if kind == "sep_conv":
        return sep_conv(g, x, ch, kernel, stride)
    if kind == "dil_conv":
        return dil_conv(g, x, ch, kernel, stride, 2)
    raise ValueError(f"unknown DARTS op {op!r}")
