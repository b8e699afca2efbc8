"""Mixed-op networks over a cell space, built from the space's own IR lowering.

Every candidate op of every edge is lowered by the space's own code (``edge_op`` of
:mod:`archspace.spaces.nb201`, ``darts_op`` of :mod:`archspace.spaces.darts`) into a small
:class:`~archspace.ir.graph.Graph` and built by :func:`archspace.nn.build_module`, as are the
fixed parts (stem, reduction blocks, cell preprocessing, head): the searched network is made of
the very layers a derived cell is trained with. The candidates are the choices of the space's
decisions (a restricted space searches only what it allows). An edge computes
``sum_o w_o * o(x)`` (DARTS; ``w`` the softmax of its architecture weights) or, given an
``index``, only the sampled op, ``w_i * o_i(x) + sum_{o != i} w_o`` (GDAS: the other weights are
zero in value but pass their gradient, as in GDAS's code).

As in the NAS-Bench-201 reimplementations of DARTS and GDAS (Dong & Yang, ICLR 2020), an nb201
network shares one set of edge weights across all its cells; a darts network has one set per
cell type (normal, reduce), as in DARTS.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor, nn

from archspace.ir.blocks import factorized_reduce, relu_conv_bn
from archspace.ir.graph import Graph, Node
from archspace.nn import build_module
from archspace.space import Arch, Space
from archspace.spaces.darts import CELL_TYPES, NODES, DARTSSpace, darts_op
from archspace.spaces.nb201 import EDGES, NB201Cell, NB201Space, edge_op

__all__ = ["DartsSearchNetwork", "Edge", "MixedOp", "NB201SearchNetwork", "SearchNetwork",
           "ir_module", "search_network"]

Shape = tuple[int, ...]


def ir_module(shapes: Sequence[Shape], lower: Callable[..., Node]) -> tuple[nn.Module, Node]:
    """``lower(g, *inputs)`` on a fresh graph with inputs of ``shapes``, built as a module;
    also the output node (its shape and op)."""
    g = Graph()
    xs = [g.input(s) for s in shapes]
    out = lower(g, *xs)
    if g.output is not out:
        g.identity(out)  # the module returns the graph's last node
    return build_module(g), out


@dataclass(frozen=True)
class Edge:
    """One searched edge: its cell type, a label (``"1<-0"``) and its candidate ops, with the
    candidates that are skip connections and 'none' (found from their IR: identity and zero)."""

    cell_type: str
    label: str
    candidates: tuple[str, ...]
    skip: frozenset[str]
    zero: frozenset[str]


class MixedOp(nn.Module):
    """One edge's candidates (see the module docstring)."""

    def __init__(self, ops: Sequence[nn.Module]) -> None:
        super().__init__()
        self.ops = nn.ModuleList(ops)

    def forward(self, x: Tensor, weights: Tensor, index: int | None = None) -> Tensor:
        if index is None:
            out = weights[0] * self.ops[0](x)
            for w, op in zip(weights[1:], self.ops[1:], strict=True):
                out = out + w * op(x)
            return out
        return weights[index] * self.ops[index](x) + (weights.sum() - weights[index])


def _mixed(shape: Shape, candidates: Sequence[str],
           lower: Callable[[Graph, Node, str], Node]) -> tuple[MixedOp, Shape, set[str], set[str]]:
    """The mixed op of ``candidates`` on input ``shape``, its output shape, and which
    candidates lowered to an identity and to zeros."""
    mods, skip, zero = [], set(), set()
    out_shape: Shape | None = None
    for op in candidates:
        mod, out = ir_module([shape], lambda g, x, op=op: lower(g, x, op))
        mods.append(mod)
        if out.op == "identity":
            skip.add(op)
        elif out.op == "zero":
            zero.add(op)
        if out_shape is not None and out.shape != out_shape:
            raise ValueError(f"candidate {op!r} outputs {out.shape}, others {out_shape}")
        out_shape = out.shape
    assert out_shape is not None
    return MixedOp(mods), out_shape, skip, zero


class SearchNetwork(nn.Module):
    """A space's network with every edge a :class:`MixedOp`; ``alphas`` holds one vector of
    architecture weights per :attr:`edges` entry."""

    def __init__(self) -> None:
        super().__init__()
        self.edges: list[Edge] = []
        self.alphas = nn.ParameterList()

    def _add_edges(self, edges: Sequence[Edge]) -> None:
        self.edges = list(edges)
        for e in edges:  # DARTS: alphas initialised to 1e-3 * N(0, 1)
            self.alphas.append(nn.Parameter(1e-3 * torch.randn(len(e.candidates))))

    def weight_parameters(self) -> list[nn.Parameter]:
        """The network's weights (everything but the architecture weights)."""
        arch = {id(p) for p in self.alphas}
        return [p for p in self.parameters() if id(p) not in arch]

    def forward(self, x: Tensor, weights: Sequence[Tensor],
                index: Sequence[int] | None = None) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def derive(self, space: Space, probs: Sequence[Sequence[float]]) -> Arch:
        """The cell ``probs`` (softmax of the alphas, per edge) derive, in ``space``."""
        raise NotImplementedError  # pragma: no cover - interface

    def collapse_edges(self, arch: Arch, space: Space) -> tuple[list[str], list[int]]:
        """The ops of the derived cell the collapse detector reads and the indices (into
        :attr:`edges`) of the edges whose weights it weighs."""
        raise NotImplementedError  # pragma: no cover - interface


class NB201SearchNetwork(SearchNetwork):
    """NAS-Bench-201's network with mixed cells sharing one weight vector per edge."""

    def __init__(self, space: NB201Space, resolution: int) -> None:
        super().__init__()
        shape: Shape = (space.in_channels, resolution, resolution)
        self.parts = nn.ModuleList()
        self.is_cell: list[bool] = []
        edges: list[Edge] = []
        for block in space.blocks(space.sample(0), resolution):
            if isinstance(block, NB201Cell):
                cell = nn.ModuleList()
                for k, ((i, j), d) in enumerate(zip(EDGES, space.decisions, strict=True)):
                    cands = tuple(str(c) for c in d.choices)
                    mixed, _, skip, zero = _mixed(shape, cands, edge_op)
                    cell.append(mixed)
                    if len(edges) < len(EDGES):
                        edges.append(Edge("cell", f"{i}<-{j}", cands, frozenset(skip),
                                          frozenset(zero)))
                    assert edges[k].candidates == cands
                self.parts.append(cell)
                self.is_cell.append(True)
            else:
                mod, out = ir_module([shape], block.lower)
                self.parts.append(mod)
                self.is_cell.append(False)
                shape = out.shape
        self._add_edges(edges)

    def forward(self, x: Tensor, weights: Sequence[Tensor],
                index: Sequence[int] | None = None) -> Tensor:
        for part, is_cell in zip(self.parts, self.is_cell, strict=True):
            if not is_cell:
                x = part(x)
                continue
            nodes = [x]
            k = 0
            for i in range(1, 4):
                total: Tensor | None = None
                for j in range(i):
                    y = cast(nn.ModuleList, part)[k](nodes[j], weights[k],
                                                     None if index is None else index[k])
                    total = y if total is None else total + y
                    k += 1
                assert total is not None
                nodes.append(total)
            x = nodes[3]
        return x

    def derive(self, space: Space, probs: Sequence[Sequence[float]]) -> Arch:
        """The argmax op of every edge (NAS-Bench-201's genotype rule)."""
        values = {}
        for d, e, p in zip(space.decisions, self.edges, probs, strict=True):
            values[d.name] = e.candidates[max(range(len(p)), key=p.__getitem__)]
        return space.make(values)

    def collapse_edges(self, arch: Arch, space: Space) -> tuple[list[str], list[int]]:
        return [str(v) for v in arch.values], list(range(len(self.edges)))


def _darts_lowering(ch: int, stride: int) -> Callable[[Graph, Node, str], Node]:
    def lower(g: Graph, x: Node, op: str) -> Node:
        return darts_op(g, x, op, ch, stride)
    return lower


class _DartsCell(nn.Module):
    """One cell of the DARTS search network: input preprocessing and 14 mixed edges."""

    pre0: nn.Module
    pre1: nn.Module

    def __init__(self) -> None:
        super().__init__()
        self.edges = nn.ModuleList()


class DartsSearchNetwork(SearchNetwork):
    """DARTS's search network: every node mixes every earlier state (14 edges per cell), one
    weight set per cell type."""

    def __init__(self, space: DARTSSpace, resolution: int) -> None:
        super().__init__()
        C = space.C
        self.stem, out = ir_module([(space.in_channels, resolution, resolution)],
                                   lambda g, x: g.bn(g.conv(x, 3 * C, 3)))
        s0 = s1 = out.shape
        ch, reduction_prev = C, False
        self.cells = nn.ModuleList()
        self.cell_types: list[str] = []
        per_type: dict[str, list[Edge]] = {}
        for i in range(space.layers):
            reduction = i in (space.layers // 3, 2 * space.layers // 3)
            ch *= 2 if reduction else 1
            t = "reduce" if reduction else "normal"
            cell = _DartsCell()
            cell.pre0, p0 = ir_module(
                [s0], (lambda g, x, ch=ch: factorized_reduce(g, x, ch)) if reduction_prev
                else (lambda g, x, ch=ch: relu_conv_bn(g, x, ch, 1)))
            cell.pre1, p1 = ir_module([s1], lambda g, x, ch=ch: relu_conv_bn(g, x, ch, 1))
            shapes = [p0.shape, p1.shape]
            edges: list[Edge] = []
            for n in range(NODES):
                d0, d1 = space.decision(f"{t}.n{n}.op0"), space.decision(f"{t}.n{n}.op1")
                allowed = {str(c) for c in d1.choices}
                cands = tuple(str(c) for c in d0.choices if str(c) in allowed)
                out_shape: Shape | None = None
                # which candidates are skips and zeros, from their stride-1 IR (with stride 2
                # a skip is a FactorizedReduce)
                _, _, skip, zero = _mixed(shapes[-1], cands, _darts_lowering(ch, 1))
                for s in range(n + 2):
                    stride = 2 if reduction and s < 2 else 1
                    mixed, out_shape, _, _ = _mixed(shapes[s], cands,
                                                    _darts_lowering(ch, stride))
                    cell.edges.append(mixed)
                    edges.append(Edge(t, f"{n}<-{s}", cands, frozenset(skip), frozenset(zero)))
                assert out_shape is not None
                shapes.append(out_shape)
            if t not in per_type:
                per_type[t] = edges
            self.cells.append(cell)
            self.cell_types.append(t)
            s0, s1 = s1, (NODES * ch, *shapes[2][1:])
            reduction_prev = reduction
        self.head, _ = ir_module([s1], lambda g, x: g.linear(g.flatten(g.gap(x)),
                                                              space.num_classes))
        self.types = [t for t in CELL_TYPES if t in per_type]
        self.offset = {}
        all_edges: list[Edge] = []
        for t in self.types:
            self.offset[t] = len(all_edges)
            all_edges += per_type[t]
        self._add_edges(all_edges)

    def forward(self, x: Tensor, weights: Sequence[Tensor],
                index: Sequence[int] | None = None) -> Tensor:
        s0 = s1 = self.stem(x)
        for cell, t in zip(cast(Sequence[_DartsCell], self.cells), self.cell_types, strict=True):
            base = self.offset[t]
            states = [cell.pre0(s0), cell.pre1(s1)]
            k = 0
            for n in range(NODES):
                total: Tensor | None = None
                for s in range(n + 2):
                    e = base + k
                    y = cell.edges[k](states[s], weights[e], None if index is None else index[e])
                    total = y if total is None else total + y
                    k += 1
                assert total is not None
                states.append(total)
            s0, s1 = s1, torch.cat(states[2:], dim=1)
        return self.head(s1)  # type: ignore[no-any-return]

    def derive(self, space: Space, probs: Sequence[Sequence[float]]) -> Arch:
        """DARTS's rule: per node, the two inputs whose strongest op other than 'none' is
        strongest (among the input pairs the space allows), each with that op."""
        values: dict[str, str] = {}
        for t in CELL_TYPES:
            if t not in self.offset:
                continue
            base = self.offset[t]
            k = 0
            for n in range(NODES):
                best: list[tuple[float, str]] = []
                for _ in range(n + 2):
                    e = self.edges[base + k]
                    p = probs[base + k]
                    best.append(max((p[i], op) for i, op in enumerate(e.candidates)
                                    if op not in e.zero))
                    k += 1
                pairs = [str(c) for c in space.decision(f"{t}.n{n}.in").choices]
                pair = max(pairs, key=lambda ab: sum(best[int(s)][0] for s in ab.split("+")))
                a, b = (int(s) for s in pair.split("+"))
                values.update({f"{t}.n{n}.in": pair, f"{t}.n{n}.op0": best[a][1],
                               f"{t}.n{n}.op1": best[b][1]})
        return space.make(values)

    def collapse_edges(self, arch: Arch, space: Space) -> tuple[list[str], list[int]]:
        """The normal cell's eight derived ops (collapse is a normal-cell failure) and its 14
        edges."""
        ops = [str(arch[f"normal.n{n}.op{i}"]) for n in range(NODES) for i in (0, 1)]
        base = self.offset.get("normal", 0)
        n_edges = sum(n + 2 for n in range(NODES))
        return ops, list(range(base, base + n_edges))


def search_network(space: Space, resolution: int) -> SearchNetwork:
    """The mixed-op network of ``space`` (nb201 or darts) at ``resolution``."""
    if isinstance(space, NB201Space):
        return NB201SearchNetwork(space, resolution)
    if isinstance(space, DARTSSpace):
        return DartsSearchNetwork(space, resolution)
    raise TypeError(f"no mixed-op network for space {space.label}")
