"""NAS-Bench-201 cell space.

Dong & Yang, "NAS-Bench-201: Extending the Scope of Reproducible Neural Architecture Search",
ICLR 2020 (the topology space "tss" of NATS-Bench, Dong et al., TPAMI 2021). A cell has four
nodes; node ``i`` (1..3) sums one op applied to each earlier node ``j``, so the six edges
``j -> i`` each pick one of five ops: 5**6 = 15,625 cells, every one trained by the benchmark.

Arch strings are the benchmark's own, ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (group ``i`` lists
the ops into node ``i``, ``~j`` naming the source). :meth:`NB201Space.index_of` and
:meth:`NB201Space.from_index` map cells to the benchmark's ids through the shipped table
(:mod:`archspace.tabular`).

The network is the benchmark's ``TinyNetwork``: a 3x3 conv stem (``C`` = 16 channels) and BN;
three stages of ``N`` = 5 cells at C, 2C and 4C channels, joined by ResNet basic blocks
(ReLU-Conv3x3-BN with stride 2, ReLU-Conv3x3-BN, shortcut 2x2 average pooling then a 1x1 conv);
BN, ReLU, global pooling and a linear classifier. Convolution ops are ReLU-Conv-BN, pooling is
3x3 average pooling without padded pixels, 'none' outputs zeros; every edge, 'none' included,
is built, as the benchmark does. ``profile().params`` then equals the benchmark's parameter
count (it counts every parameter, batch norm included): 0.559386M for the ResNet cell.
:meth:`NB201Space.benchmark_flops` gives the benchmark's FLOPs.
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from archspace.errors import ArchError, ParamError
from archspace.ir.blocks import Block, relu_conv_bn
from archspace.ir.graph import Graph, Node
from archspace.space import Arch, ChainSpace, Decision, Diagram, DiagramEdge, DiagramNode
from archspace.space.params import CHANNELS, count_up_to, limits
from archspace.tabular import CELL_FORMAT, NB201_OPS, load_nb201, ops_to_str, parse_cell

__all__ = ["EDGES", "NB201Cell", "NB201Space", "cell_signature", "edge_op"]

#: (node, input) of the six edges, in the order of the benchmark string.
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
#: Named cells by benchmark id ("resnet" is the benchmark's ResNet cell).
_RESNET_ID = 11472
_SEARCH_METRIC = "cifar10_valid_12ep"


class NB201Space(ChainSpace):
    """The 15,625 cells of NAS-Bench-201 on the benchmark's network."""

    name = "nb201"
    kind = "cell"
    edge_patterns = ("n*.in*",)
    paper = "Dong & Yang 2020, NAS-Bench-201 (ICLR)"
    min_resolution = 8
    resolution_step = 4

    param_limits = limits(ChainSpace.param_limits, C=CHANNELS, N=count_up_to(100))

    def __init__(self, C: int = 16, N: int = 5, num_classes: int = 10,
                 resolution: int = 32) -> None:
        self._record_params(C=C, N=N, num_classes=num_classes, resolution=resolution)
        for key, value in (("C", C), ("N", N), ("num_classes", num_classes)):
            if not isinstance(value, int) or value < 1:
                raise ParamError(f"parameter {key}={value!r} of space 'nb201' must be an "
                                 "integer >= 1")
        self.C, self.N, self.num_classes = C, N, num_classes
        self.default_resolution = self.check_resolution(resolution)
        self._set_decisions(Decision.of(f"n{i}.in{j}", NB201_OPS, doc=f"op on edge {j}->{i}")
                            for i, j in EDGES)

    # -- the benchmark's string and ids ----------------------------------------------------
    def ops_of(self, arch: Arch) -> tuple[int, ...]:
        """The six op indices (into the benchmark's op list) in string order."""
        return tuple(NB201_OPS.index(str(v)) for v in self.validate(arch).values)

    def format_arch(self, arch: Arch) -> str:
        """The benchmark's cell string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        return ops_to_str(self.ops_of(arch))

    def parse_arch(self, text: str) -> Arch:
        """Parse the benchmark's cell string (or, when it does not start with ``|``, the generic
        ``name=value`` form); malformed strings raise :class:`ArchError`."""
        if not text.strip().startswith("|"):
            if "~" in text or "+" in text:
                parse_cell(text)  # raises a message about the benchmark format
            return super().parse_arch(text)
        ops = parse_cell(text)
        return self.validate(Arch(self.names, tuple(NB201_OPS[k] for k in ops)))

    def arch_format_hint(self) -> str:
        return f"the NAS-Bench-201 cell string {CELL_FORMAT} with op in {', '.join(NB201_OPS)}"

    def index_of(self, arch: Arch) -> int:
        """The benchmark id of ``arch``."""
        return load_nb201().id_of_ops(self.ops_of(arch))

    def from_index(self, i: int) -> Arch:
        """The cell with benchmark id ``i``."""
        ops = load_nb201().ops(i)
        return self.validate(Arch(self.names, tuple(NB201_OPS[k] for k in ops)))

    def named_archs(self) -> dict[str, Arch]:
        table = load_nb201()
        best = int(np.argmax(table.metric(_SEARCH_METRIC)))
        out = {}
        for name, i in (("resnet", _RESNET_ID), (f"best_{_SEARCH_METRIC}", best)):
            try:
                out[name] = self.from_index(i)
            except ArchError:  # not in a restricted copy of the space
                continue
        return out

    # -- equivalent cells ------------------------------------------------------------------
    def canonical(self, arch: Arch) -> Arch:
        """The first cell (in enumeration order) whose computation graph is isomorphic to
        ``arch``'s (:func:`cell_signature`): dead edges, nodes 1 and 2 swapped when no edge
        joins them, and paths merged by skip connections give the same network function. The
        15,625 cells form 5,260 classes. (The benchmark's ``to_unique_str`` counts 6,466: its
        expressions keep ``a + 0`` apart from ``a`` but merge two convs with separate weights
        with one conv reached twice.) The benchmark trained every cell separately, so
        equivalent cells have different (noisy) accuracies.
        """
        reps = _representatives(tuple(d.choices for d in self.decisions))
        rep = reps.get(tuple(str(v) for v in arch.values)) if arch.names == self.names else None
        if rep is None:
            self.validate(arch)  # raises, naming the problem
            raise ArchError(f"{self.format_arch(arch)} is not in {self.label}")
        return Arch(self.names, rep)

    # -- network ---------------------------------------------------------------------------
    def _chain(self, arch: Arch) -> list[tuple[str, Block]]:
        """The network as (scope, block) pairs: every cell is one block, so the chain profiler
        profiles each distinct cell once."""
        cell = NB201Cell(tuple(str(v) for v in arch.values))
        chain: list[tuple[str, Block]] = [("stem", _Stem(self.C))]
        for stage in range(3):
            if stage:
                chain.append((f"reduce{stage}", _Reduce(self.C * 2**stage)))
            chain += [(f"s{stage}c{k}", cell) for k in range(self.N)]
        return [*chain, ("head", _Head(self.num_classes))]

    def blocks(self, arch: Arch, resolution: int) -> list[Block]:
        fixed = self.__dict__.get("_fixed_blocks")  # the blocks no decision changes, built once
        if fixed is None:
            fixed = self.__dict__["_fixed_blocks"] = (
                _Stem(self.C), _Reduce(self.C * 2), _Reduce(self.C * 4), _Head(self.num_classes))
        stem, red1, red2, head = fixed
        cell = NB201Cell(tuple(str(v) for v in arch.values))
        cells = [cell] * self.N
        return [stem, *cells, red1, *cells, red2, *cells, head]

    def _lower(self, arch: Arch, g: Graph, resolution: int) -> None:
        x = g.input((self.in_channels, resolution, resolution))
        for scope, block in self._chain(arch):  # the benchmark's module names, not b0, b1, ...
            with g.scope(scope):
                x = block.lower(g, x)

    def benchmark_flops(self, arch: Arch, resolution: int | None = None) -> int:
        """FLOPs as NAS-Bench-201 counts them (its ``get_model_infos``, reported / 1e6).

        That count is the multiply-accumulates of convolutions and linear layers (what
        ``profile().macs`` counts) plus one per output element of a layer with a bias: the
        classifier's ``num_classes`` here. Pooling, batch norm and additions count zero.
        """
        total = 0
        for node in self.lower(arch, resolution):
            a = node.attrs
            if node.op == "conv":
                kh, kw = a["kernel"]
                per_out = a["in_ch"] // a["groups"] * kh * kw + (1 if a["bias"] else 0)
                total += per_out * node.numel
            elif node.op == "linear":
                total += (a["in_features"] + (1 if a["bias"] else 0)) * a["out_features"]
        return total

    def diagram(self, arch: Arch) -> Diagram:
        """The cell as a DAG: nodes 0..3, one labelled edge per op ('none' edges left out)."""
        arch = self.validate(arch)
        labels = ("0\ninput", "1", "2", "3\noutput")
        groups = ("input", "", "", "output")
        nodes = tuple(DiagramNode(str(i), labels[i], group=groups[i]) for i in range(4))
        edges = tuple(DiagramEdge(str(j), str(i), str(op))
                      for (i, j), op in zip(EDGES, arch.values, strict=True) if op != "none")
        return Diagram("dag", f"{self.label}: {self.format_arch(arch)}", nodes, edges)


@functools.lru_cache(maxsize=8)
def _representatives(choices: tuple[tuple[object, ...], ...]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Each cell of the space with these edge choices -> the first cell of its class."""
    first: dict[Signature, tuple[str, ...]] = {}
    return {ops: first.setdefault(cell_signature(ops), ops)
            for ops in itertools.product(*([str(c) for c in cs] for cs in choices))}


#: A cell's computation up to renaming its edges: see :func:`cell_signature`.
Signature = tuple[tuple[tuple[str, tuple[tuple[int, int], ...]], ...], tuple[tuple[int, int], ...]]
#: What a node's value sums: the cell input ("x",), a convolution edge ("conv", edge index: its
#: own weights) or a pooling ("pool", its input's terms: no weights, so equal inputs, equal value).
_Term = tuple[object, ...]
_INPUT: _Term = ("x",)
_POOLS = ("avg_pool_3x3",)


def cell_signature(ops: Sequence[str]) -> Signature:
    """What a cell computes, as a canonical form of its computation graph.

    ``ops`` are the six edge ops in string order. A node's value is a multiset of terms: the
    cell input, convolutions (each edge its own weights) and poolings (no weights: two poolings
    of the same value are the same term). 'none' adds nothing and 'skip_connect' passes its
    input node's terms through. As in the benchmark's ``to_unique_str``, an op applied to an
    all-zero input counts as zero (true of pooling; a ReLU-Conv-BN edge would add only BN's
    learned bias). The signature lists the terms node 3 depends on, each as its op and the
    (term, multiplicity) pairs it reads, numbered in a canonical order, then node 3's own pairs;
    two cells have the same signature exactly when they compute the same function up to
    renaming their weights. So ``2 * conv(x)`` (one conv reached twice through skips) differs
    from ``conv(x) + conv'(x)`` (two convs with separate weights), while a dead edge or swapping
    nodes 1 and 2 changes nothing.
    """
    reads: dict[_Term, tuple[str, Counter[_Term]]] = {}
    nodes: list[Counter[_Term]] = [Counter({_INPUT: 1})]
    for i in range(1, 4):
        value: Counter[_Term] = Counter()
        for k, ((node, j), op) in enumerate(zip(EDGES, ops, strict=True)):
            if node != i or op == "none" or not nodes[j]:
                continue
            if op == "skip_connect":
                value.update(nodes[j])
                continue
            term: _Term = (("pool", op, tuple(sorted(nodes[j].items(), key=repr)))
                           if op in _POOLS else ("conv", k))
            reads[term] = (op, nodes[j])
            value[term] += 1
        nodes.append(value)
    out = nodes[3]
    live: set[_Term] = set()
    todo = [t for t in out if t != _INPUT]
    while todo:
        t = todo.pop()
        if t not in live:
            live.add(t)
            todo.extend(s for s in reads[t][1] if s != _INPUT)
    shape: dict[_Term, str] = {_INPUT: "x"}  # a term's expression tree: invariant under renaming

    def tree(t: _Term) -> str:
        if t not in shape:
            op, src = reads[t]
            shape[t] = f"{op}({'+'.join(sorted(f'{m}*{tree(s)}' for s, m in src.items()))})"
        return shape[t]

    # Number terms by their trees; equal trees may or may not share inputs, so try every order
    # within each group of equal trees and keep the smallest encoding.
    groups = [list(g) for _, g in itertools.groupby(sorted(live, key=tree), key=tree)]
    best: Signature | None = None
    for order in itertools.product(*(itertools.permutations(g) for g in groups)):
        pos = {t: n for n, t in enumerate(t for group in order for t in group)}
        pos[_INPUT] = -1

        def pairs(value: Counter[_Term], pos: dict[_Term, int] = pos) -> tuple[tuple[int, int], ...]:
            return tuple(sorted((pos[s], m) for s, m in value.items()))

        seq = sorted(live, key=pos.__getitem__)
        code: Signature = (tuple((reads[t][0], pairs(reads[t][1])) for t in seq), pairs(out))
        if best is None or code < best:
            best = code
    assert best is not None
    return best


@dataclass(frozen=True)
class _Stem(Block):
    """3x3 conv to ``C`` channels and BN."""

    C: int

    def lower(self, g: Graph, x: Node) -> Node:
        return g.bn(g.conv(x, self.C, 3))


@dataclass(frozen=True)
class NB201Cell(Block):
    """One cell: the six edge ops in string order."""

    ops: tuple[str, ...]

    def lower(self, g: Graph, x: Node) -> Node:
        return _cell(g, x, list(self.ops))

    def latency_parts(self) -> tuple[Block, ...]:
        """What :func:`_cell` adds, in its order, each part on a tensor of the cell's shape
        (every node of a cell has it): the edges into node 1, node 2's two edges and their
        sum, node 3's three edges and their sum (see
        :meth:`~archspace.cost.latency_table.LatencyTable.predict_chain`)."""
        parts = _CELL_PARTS.get(self.ops)
        if parts is None:
            e = [_EDGES.get(op) or _EdgeOp(op) for op in self.ops]
            parts = _CELL_PARTS[self.ops] = (e[0], e[1], e[2], _SUMS[2], e[3], e[4], e[5], _SUMS[3])
        return parts


@dataclass(frozen=True, eq=False)  # interned (below): hashed by identity, a fast lookup
class _EdgeOp(Block):
    """One edge's op alone (a part of a cell for the latency table)."""

    op: str

    def lower(self, g: Graph, x: Node) -> Node:
        return edge_op(g, x, self.op)


@dataclass(frozen=True, eq=False)
class _Sum(Block):
    """The sum of ``n`` tensors of one shape (a cell node with ``n`` edges in, as a part)."""

    n: int

    def lower(self, g: Graph, x: Node) -> Node:
        return g.add(*[x] * self.n)


_EDGES = {op: _EdgeOp(op) for op in NB201_OPS}
_SUMS = {n: _Sum(n) for n in (2, 3)}
_CELL_PARTS: dict[tuple[str, ...], tuple[Block, ...]] = {}  # at most 5**6 entries


@dataclass(frozen=True)
class _Reduce(Block):
    """The benchmark's ``ResNetBasicblock`` with stride 2 to ``ch`` channels."""

    ch: int

    def lower(self, g: Graph, x: Node) -> Node:
        return _resnet_block(g, x, self.ch)


@dataclass(frozen=True)
class _Head(Block):
    """BN, ReLU, global pooling and the classifier."""

    num_classes: int

    def lower(self, g: Graph, x: Node) -> Node:
        return g.linear(g.flatten(g.gap(g.relu(g.bn(x)))), self.num_classes, name="classifier")


def edge_op(g: Graph, x: Node, op: str) -> Node:
    """One edge's op of the NAS-Bench-201 cell (``op`` one of the benchmark's five)."""
    if op == "none":
        return g.zero(x)
    if op == "skip_connect":
        return g.identity(x)
    if op == "nor_conv_1x1":
        return relu_conv_bn(g, x, x.channels, 1)
    if op == "nor_conv_3x3":
        return relu_conv_bn(g, x, x.channels, 3)
    return g.avgpool(x, 3, 1, 1, count_include_pad=False)


def _cell(g: Graph, x: Node, ops: list[str]) -> Node:
    nodes = [x]
    k = 0
    for i in range(1, 4):
        terms = []
        for j in range(i):
            with g.scope(f"e{j}{i}"), g.scope(ops[k]):  # each op of an edge its own names
                terms.append(edge_op(g, nodes[j], ops[k]))
            k += 1
        nodes.append(terms[0] if len(terms) == 1 else g.add(*terms, name=f"node{i}"))
    return nodes[3]


def _resnet_block(g: Graph, x: Node, ch: int) -> Node:
    """The benchmark's ``ResNetBasicblock`` with stride 2."""
    y = relu_conv_bn(g, relu_conv_bn(g, x, ch, 3, stride=2), ch, 3)
    shortcut = g.conv(g.avgpool(x, 2, 2), ch, 1, name="shortcut")
    return g.add(shortcut, y)
