"""NASNet cell space.

Zoph, Vasudevan, Shlens & Le, "Learning Transferable Architectures for Scalable Image
Recognition", CVPR 2018. A normal and a reduction cell, each of ``B`` blocks. Block ``b`` of a
cell picks two hidden states among those available to it (state 0 = h_{i-1}, the older cell
input; state 1 = h_i, the previous cell's output; state ``2+k`` = block ``k`` of this cell), an op
for each among the first ``M`` of ``ops``, and a combine op among the first ``N`` of
``combine``. The two inputs are chosen independently (they may coincide, as in NASNet-A).

Decisions, per cell type ``t`` in (``normal``, ``reduce``) and block ``b``: ``t.b<b>.in0``,
``t.b<b>.in1`` (state indices), ``t.b<b>.op0``, ``t.b<b>.op1`` and ``t.b<b>.comb``. The exact
size counts these decision sequences, as the paper's controller emits them (two sequences that
differ only by swapping a block's two terms build the same network; :meth:`NASNetSpace.canonical`
and :meth:`NASNetSpace.distinct_size` count them once):
``(prod_{b<B} (2+b)**2 * M**2 * N)**2``. The lecture formula ``(2*2*M*M*N)**B`` (one cell,
every block choosing among two inputs only) is in :meth:`NASNetSpace.size_formulas`.

Network (the paper's CIFAR layout): a 3x3 conv stem to ``3*channels`` with BN; three stacks of
``cells`` normal cells with a reduction cell (twice the channels) between stacks; ReLU, global
pooling and a linear classifier. The defaults (``channels=16, cells=1``) give a small network
for fast searches and tests; the paper's CIFAR NASNet-A 6@768 stacks six normal cells
(``cells=6``) on 32 base filters. Each cell brings the inputs it reads to ``C`` channels as
DARTS does (ReLU-Conv1x1-BN; FactorizedReduce for h_{i-1} after a reduction). In a reduction
cell the ops on the cell inputs have stride 2. Ops are ReLU-Conv-BN blocks (``1x3 then 3x1``
is ReLU, 1x3 conv, 3x1 conv, BN; with stride 2 the 1x3 conv strides both ways); separable
convs are DARTS's (ReLU, depthwise, pointwise, BN, twice); the dilated conv is a full 3x3 conv
with dilation 2; pools pad to keep the size; identity with stride 2 is ReLU-Conv1x1-BN with
stride 2 (as the NASNet code does). ``add`` sums the two terms; ``concat`` stacks them (2C
channels) and a ReLU-Conv1x1-BN maps them back to C, so every hidden state has C channels. The
cell outputs the concatenation of its unused blocks (those no later block takes as input),
``k*C`` channels.

Unlike DARTS, a cell need not read both of its inputs: an input no block reads is not
preprocessed, and a cell whose output no later cell reads is left out (see
:meth:`NASNetSpace.live_cells`). Both would be dead code, so the network computes the same
function, and its counted parameters and MACs are those a traced forward pass executes.

The named arch ``nasnet_a`` is NASNet-A's normal and reduction cells (B=5, add everywhere) as
transcribed in the DARTS code; under the unused-state rule the normal cell concatenates all five
blocks and the reduction cell blocks 2, 3 and 4, as there. (The released TensorFlow model also
concatenates h_{i-1} in the normal cell and block 1 in the reduction cell.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from archspace.errors import ArchError, ParamError
from archspace.ir.blocks import factorized_reduce, relu_conv_bn, sep_conv
from archspace.ir.graph import Graph, IRError, Node
from archspace.ir.segments import segment
from archspace.space import Arch, Decision, Diagram, DiagramEdge, Space
from archspace.space.params import CHANNELS, count_up_to, limits
from archspace.spaces.darts import cell_nodes, concat_part, stem_part

__all__ = ["COMBINE_OPS", "NASNET_A", "NASNET_OPS", "NASNetSpace"]

#: The paper's 13 ops, in the paper's order.
NASNET_OPS = ("identity", "conv_1x3_3x1", "conv_1x7_7x1", "dil_conv_3x3", "avg_pool_3x3",
              "max_pool_3x3", "max_pool_5x5", "max_pool_7x7", "conv_1x1", "conv_3x3",
              "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7")
COMBINE_OPS = ("add", "concat")
CELL_TYPES = ("normal", "reduce")

Block = tuple[int, int, str, str, str]  # in0, in1, op0, op1, combine
Shape = tuple[int, ...]
_T = TypeVar("_T")
_N, _R = "normal", "reduce"
#: NASNet-A (Zoph et al. 2018, Fig. 4): per cell, (in0, in1, op0, op1, combine) per block.
NASNET_A: dict[str, tuple[Block, ...]] = {
    _N: ((1, 0, "sep_conv_5x5", "sep_conv_3x3", "add"),
         (0, 0, "sep_conv_5x5", "sep_conv_3x3", "add"),
         (1, 0, "avg_pool_3x3", "identity", "add"),
         (0, 0, "avg_pool_3x3", "avg_pool_3x3", "add"),
         (1, 1, "sep_conv_3x3", "identity", "add")),
    _R: ((1, 0, "sep_conv_5x5", "sep_conv_7x7", "add"),
         (1, 0, "max_pool_3x3", "sep_conv_7x7", "add"),
         (1, 0, "avg_pool_3x3", "sep_conv_5x5", "add"),
         (3, 2, "identity", "avg_pool_3x3", "add"),
         (2, 1, "sep_conv_3x3", "max_pool_3x3", "add")),
}


class NASNetSpace(Space):
    """NASNet's normal and reduction cells of ``B`` blocks each."""

    name = "nasnet"
    kind = "cell"
    edge_patterns = ("*.op0", "*.op1")
    segment_profile = True
    paper = "Zoph et al. 2018, NASNet (CVPR)"
    min_resolution = 8
    resolution_step = 4

    _plan: tuple[tuple[Decision, ...], list[tuple[tuple[int, ...], tuple[dict[Any, int], ...]]]] | None = None

    param_limits = limits(Space.param_limits, B=count_up_to(100), cells=count_up_to(100),
                          channels=CHANNELS)

    def __init__(self, ops: tuple[str, ...] = NASNET_OPS, M: int = 0,
                 combine: tuple[str, ...] = COMBINE_OPS, N: int = 0, B: int = 5,
                 channels: int = 16, cells: int = 1, num_classes: int = 10,
                 resolution: int = 32) -> None:
        """``M`` and ``N`` keep the first M ops and N combine ops (0, the default: all)."""
        self._record_params(ops=ops, M=M, combine=combine, N=N, B=B, channels=channels,
                            cells=cells, num_classes=num_classes, resolution=resolution)
        ops, combine = tuple(ops), tuple(combine)
        _check_names("ops", ops, NASNET_OPS)
        _check_names("combine", combine, COMBINE_OPS)
        M = M or len(ops)
        N = N or len(combine)
        for key, value, top in (("M", M, len(ops)), ("N", N, len(combine))):
            if not isinstance(value, int) or not 1 <= value <= top:
                raise ParamError(f"parameter {key}={value!r} of space 'nasnet' must be an "
                                 f"integer in 1..{top} (0 means all)")
        for key, value in (("B", B), ("channels", channels), ("cells", cells),
                           ("num_classes", num_classes)):
            if not isinstance(value, int) or value < 1:
                raise ParamError(f"parameter {key}={value!r} of space 'nasnet' must be an "
                                 "integer >= 1")
        self.ops, self.combine = ops[:M], combine[:N]
        self.M, self.N, self.B = M, N, B
        self.channels, self.cells, self.num_classes = channels, cells, num_classes
        self.default_resolution = self.check_resolution(resolution)
        decisions = []
        for t in CELL_TYPES:
            for b in range(B):
                states = range(b + 2)
                decisions += [Decision.of(f"{t}.b{b}.in0", states, doc="first input state"),
                              Decision.of(f"{t}.b{b}.in1", states, doc="second input state"),
                              Decision.of(f"{t}.b{b}.op0", self.ops, doc="op on first input"),
                              Decision.of(f"{t}.b{b}.op1", self.ops, doc="op on second input"),
                              Decision.of(f"{t}.b{b}.comb", self.combine, doc="combine op")]
        self._set_decisions(decisions)

    def size_formulas(self) -> dict[str, int]:
        """``lecture``: ``(2*2*M*M*N)**B``, one cell whose blocks choose among two inputs."""
        return {"lecture": (2 * 2 * self.M * self.M * self.N) ** self.B}

    # -- cells -----------------------------------------------------------------------------
    def blocks(self, arch: Arch, t: str) -> list[Block]:
        """The (in0, in1, op0, op1, combine) blocks of cell type ``t`` of ``arch``."""
        where = self.__dict__.get("_block_pos")  # decision positions, found once
        if where is None:
            where = self.__dict__["_block_pos"] = {
                c: [tuple(self._pos[f"{c}.b{b}.{k}"] for k in ("in0", "in1", "op0", "op1", "comb"))
                    for b in range(self.B)] for c in CELL_TYPES}
        if arch.names != self.names:
            return [(int(str(arch[f"{t}.b{b}.in0"])), int(str(arch[f"{t}.b{b}.in1"])),
                     str(arch[f"{t}.b{b}.op0"]), str(arch[f"{t}.b{b}.op1"]),
                     str(arch[f"{t}.b{b}.comb"])) for b in range(self.B)]
        v = arch.values
        return [(_as_int(v[i0]), _as_int(v[i1]), str(v[o0]), str(v[o1]), str(v[c]))
                for i0, i1, o0, o1, c in where[t]]

    def from_blocks(self, cells: Mapping[str, Sequence[Block]]) -> Arch:
        """The arch with these (in0, in1, op0, op1, combine) blocks per cell type."""
        values: dict[str, object] = {}
        for t in CELL_TYPES:
            blocks = cells[t]
            if len(blocks) != self.B:
                raise ArchError(f"{t} cell has {len(blocks)} blocks; this space has B={self.B}")
            for b, block in enumerate(blocks):
                for key, v in zip(("in0", "in1", "op0", "op1", "comb"), block, strict=True):
                    values[f"{t}.b{b}.{key}"] = v
        return self.make(values)

    def named_archs(self) -> dict[str, Arch]:
        try:
            return {"nasnet_a": self.from_blocks(NASNET_A)}
        except ArchError:  # B, M, N or ops leave NASNet-A out of this space
            return {}

    @staticmethod
    def unused(blocks: Sequence[Block]) -> list[int]:
        """Blocks whose output no later block uses: they form the cell output."""
        used = {s - 2 for blk in blocks for s in blk[:2]}
        return [b for b in range(len(blocks)) if b not in used]

    # -- equivalent archs ------------------------------------------------------------------
    def _swap_plan(self) -> list[tuple[tuple[int, ...], tuple[dict[Any, int], ...]]]:
        """Per block: positions of (in0, in1, op0, op1, comb) and, for the first four, each
        choice's index (computed once per set of decisions)."""
        cached = self._plan
        if cached is None or cached[0] is not self.decisions:
            plan = []
            for t in CELL_TYPES:
                for b in range(self.B):
                    where = tuple(self._pos[f"{t}.b{b}.{k}"]
                                  for k in ("in0", "in1", "op0", "op1", "comb"))
                    index = tuple({c: n for n, c in enumerate(self.decisions[k].choices)}
                                  for k in where[:4])
                    plan.append((where, index))
            cached = self._plan = (self.decisions, plan)
        return cached[1]

    @staticmethod
    def _block_rep(values: list[Any], where: tuple[int, ...],
                   index: tuple[dict[Any, int], ...]) -> None:
        """Put the block at ``where`` in ``values`` into its representative order, in place:
        swap its terms when that gives smaller choice indices and stays in the space."""
        i0, i1, o0, o1 = where[:4]
        in0, in1, op0, op1 = index
        now = (in0[values[i0]], op0[values[o0]], in1[values[i1]], op1[values[o1]])
        then = (in0.get(values[i1]), op0.get(values[o1]), in1.get(values[i0]), op1.get(values[o0]))
        if None not in then and then < now:  # type: ignore[operator]
            values[i0], values[o0], values[i1], values[o1] = (values[i1], values[o1],
                                                              values[i0], values[o0])

    def canonical(self, arch: Arch) -> Arch:
        """``arch`` with the two terms of every block in a fixed order: (in0, op0) before
        (in1, op1) unless swapping them gives smaller choice indices (and stays in the space).

        A block's two terms are unordered: ``add`` sums them, and after ``concat`` the 1x1
        convolution that maps the block back to C channels takes the stacked terms in either
        order (its weights permute with them). Blocks that could be reordered within a cell are
        not merged, so archs of one class compute the same function but some functions still
        have several classes. Swapped terms have the same parameters and MACs; the peak memory
        can differ, as the terms are computed in the order given.
        """
        if arch.names != self.names:
            self.validate(arch)  # raises, naming the problem
        values = list(arch.values)
        try:
            for where, index in self._swap_plan():
                self._block_rep(values, where, index)
        except KeyError:  # a value outside the choices
            self.validate(arch)
            raise
        return Arch(self.names, tuple(values))

    def distinct_size(self) -> int:
        """Classes of :meth:`canonical`, in closed form: a block's terms ``(in0, op0)`` and
        ``(in1, op1)`` are swapped only when both could take either place, i.e. both lie in
        ``S``, the terms both sides allow; the ``s * (s - 1)`` ordered pairs of different terms
        of ``S`` merge two by two. Blocks multiply, each times its combine choices."""
        total = 1
        ds = self.decisions
        for where, _ in self._swap_plan():
            in0, in1, op0, op1, comb = (ds[k].choices for k in where)
            shared = len(set(in0) & set(in1)) * len(set(op0) & set(op1))
            pairs = len(in0) * len(op0) * len(in1) * len(op1) - shared * (shared - 1) // 2
            total *= pairs * len(comb)
        return total

    # -- network ---------------------------------------------------------------------------
    def layout(self) -> list[str]:
        """Cell types from stem to head: three stacks of normal cells, reductions between."""
        stack = [_N] * self.cells
        return [*stack, _R, *stack, _R, *stack]

    def live_cells(self, arch: Arch) -> list[bool]:
        """Which cells the output depends on: cell ``k`` feeds cell ``k+1`` as h_i (state 1)
        and cell ``k+2`` as h_{i-1} (state 0), if those use that state."""
        return self._live_cells({t: self.blocks(arch, t) for t in CELL_TYPES})

    def _live_cells(self, plans: Mapping[str, list[Block]]) -> list[bool]:
        kinds = self.layout()
        uses = {t: {s for blk in plans[t] for s in blk[:2]} for t in CELL_TYPES}
        live = [False] * len(kinds)
        live[-1] = True
        for k in reversed(range(len(kinds))):
            if live[k]:
                for state, back in ((1, 1), (0, 2)):
                    if state in uses[kinds[k]] and k - back >= 0:
                        live[k - back] = True
        return live

    def _lower(self, arch: Arch, g: Graph, resolution: int) -> None:
        x = g.input((self.in_channels, resolution, resolution))
        with g.scope("stem"):
            stem = g.bn(g.conv(x, 3 * self.channels, 3))
        outs: list[Node | None] = [stem, stem]
        ch, reduction_prev = self.channels, False
        for k, (t, live) in enumerate(zip(self.layout(), self.live_cells(arch), strict=True)):
            ch *= 2 if t == _R else 1
            out = None
            if live:
                with g.scope(f"cell{k}"):
                    out = self._cell(g, outs[-2], outs[-1], self.blocks(arch, t), ch, t == _R,
                                     reduction_prev)
            outs.append(out)
            reduction_prev = t == _R
        with g.scope("head"):
            g.linear(g.flatten(g.gap(g.relu(_live(outs[-1])))), self.num_classes,
                     name="classifier")

    def _cell(self, g: Graph, s0: Node | None, s1: Node | None, blocks: list[Block], ch: int,
              reduction: bool, reduction_prev: bool) -> Node:
        used = {s for blk in blocks for s in blk[:2]}
        states: list[Node | None] = [None, None]
        if 0 in used and s0 is not None:
            with g.scope("pre0"):
                states[0] = (factorized_reduce(g, s0, ch) if reduction_prev
                             else relu_conv_bn(g, s0, ch, 1))
        if 1 in used and s1 is not None:
            with g.scope("pre1"):
                states[1] = relu_conv_bn(g, s1, ch, 1)
        for b, (i0, i1, op0, op1, comb) in enumerate(blocks):
            with g.scope(f"b{b}"):
                terms = []
                for slot, (s, op) in enumerate(((i0, op0), (i1, op1))):
                    with g.scope(f"x{slot}"), g.scope(op):  # each op of a slot its own names
                        terms.append(nasnet_op(g, _live(states[s]), op, ch,
                                               2 if reduction and s < 2 else 1))
                if comb == "add":
                    states.append(g.add(*terms))
                else:
                    states.append(relu_conv_bn(g, g.concat(*terms), ch, 1))
        outs = [_live(states[2 + b]) for b in self.unused(blocks)]
        return outs[0] if len(outs) == 1 else g.concat(*outs)

    def latency_terms(self, arch: Arch, resolution: int, part: Callable[..., Any],
                      memo: Callable[[Any], dict[Any, Any]]) -> list[Any]:
        """The network of :meth:`_lower` as latency-table pieces (see
        :meth:`~archspace.cost.latency_table.LatencyTable.predict`): the stem, per cell its
        preprocessing, its blocks' sum and its concatenation, and the head. A block's sum (its
        two ops and combine op) is kept in the table's ``memo`` per (block, channels), with
        the input shapes it was computed on; it is reused only on those shapes (else summed
        again from ``part``), so a new cell costs a lookup per block."""
        plans = {t: self.blocks(arch, t) for t in CELL_TYPES}
        cells = {t: ([(i0, i1, (op0, op1, comb, 2 if t == _R and i0 < 2 else 1,
                                2 if t == _R and i1 < 2 else 1))
                      for i0, i1, op0, op1, comb in blocks],
                     {s for blk in blocks for s in blk[:2]}, self.unused(blocks))
                 for t, blocks in plans.items()}
        terms, stem = part(stem_part, ((self.in_channels, resolution, resolution),),
                           3 * self.channels)
        out = [terms]
        outs: list[tuple[int, ...] | None] = [stem, stem]
        ch, reduction_prev = self.channels, False
        for t, live in zip(self.layout(), self._live_cells(plans), strict=True):
            ch *= 2 if t == _R else 1
            shape = None
            if live:
                shape = _cell_terms(part, memo(("nasnet-block", nasnet_op, ch)), out,
                                    outs[-2], outs[-1], cells[t], ch, reduction_prev)
            outs.append(shape)
            reduction_prev = t == _R
        out.append(part(_head_part, (_live(outs[-1]),), self.num_classes)[0])
        return out

    def diagram(self, arch: Arch) -> Diagram:
        """One DAG panel per cell type: inputs, blocks (labelled by their combine op) and the
        concat output; edges labelled by their op (both ops on one edge when a block takes the
        same state twice)."""
        arch = self.validate(arch)
        panels = []
        for t in CELL_TYPES:
            blocks = self.blocks(arch, t)
            edges = []
            for b, (i0, i1, op0, op1, _comb) in enumerate(blocks):
                if i0 == i1:
                    edges.append(DiagramEdge(_state_id(i0), str(b), f"{op0} | {op1}"))
                else:
                    edges += [DiagramEdge(_state_id(i0), str(b), op0),
                              DiagramEdge(_state_id(i1), str(b), op1)]
            edges += [DiagramEdge(str(b), "out") for b in self.unused(blocks)]
            labels = [f"{b}\n{blk[4]}" for b, blk in enumerate(blocks)]
            panels.append(Diagram("dag", f"{t} cell", cell_nodes(self.B, labels), tuple(edges)))
        return Diagram("dag", self.label, (), (), tuple(panels))


def _as_int(v: Any) -> int:
    return v if type(v) is int else int(str(v))


def _live(node: _T | None) -> _T:
    if node is None:
        raise IRError("a NASNet block reads a cell input that was not built")
    return node


def _cell_terms(part: Callable[..., Any], sums: dict[Any, Any], out: list[Any],
                s0: Shape | None, s1: Shape | None,
                cell: tuple[list[tuple[int, int, tuple[str, str, str, int, int]]], set[int],
                            list[int]],
                ch: int, reduction_prev: bool) -> Shape:
    """:meth:`NASNetSpace._cell` as latency-table pieces appended to ``out``, on input shapes;
    ``cell`` is the cell type's blocks (the states they read; their two ops, combine op and
    the strides of the two ops), the states the blocks read and the unused blocks; ``sums``
    holds the block sums of ``ch`` channels computed so far, ``(ops, combine, strides): (ms,
    layers, output shape, input shapes)``, each used only on its input shapes; returns the
    cell's output shape."""
    blocks, used, unused = cell
    states: list[Shape | None] = [None, None]
    if 0 in used and s0 is not None:
        terms, states[0] = (part(factorized_reduce, (s0,), ch) if reduction_prev
                            else part(relu_conv_bn, (s0,), ch, 1))
        out.append(terms)
    if 1 in used and s1 is not None:
        terms, states[1] = part(relu_conv_bn, (s1,), ch, 1)
        out.append(terms)
    total, count = 0, 0
    for i0, i1, block in blocks:
        x0, x1 = states[i0], states[i1]
        hit = sums.get(block)
        if hit is None or hit[3] != x0 or hit[4] != x1:
            if x0 is None or x1 is None:
                _live(None)
            op0, op1, comb, st0, st1 = block
            (ms0, k0), a = part(nasnet_op, (x0,), op0, ch, st0)
            (ms1, k1), shape = part(_op_combine_part, (a, x1), op1, ch, st1, comb)
            hit = sums[block] = (ms0 + ms1, k0 + k1, shape, x0, x1)
        total += hit[0]
        count += hit[1]
        states.append(hit[2])
    out.append((total, count))
    shapes = tuple(_live(states[2 + b]) for b in unused)
    if len(shapes) == 1:
        return shapes[0]
    terms, shape = part(concat_part, shapes)
    out.append(terms)
    return shape  # type: ignore[no-any-return]


def _op_combine_part(g: Graph, t0: Node, x: Node, op: str, ch: int, stride: int,
                     comb: str) -> Node:
    """A block's second op (on ``x``) and its combine op with the first op's output ``t0``,
    as :meth:`NASNetSpace._cell` builds them, a latency-table piece."""
    t1 = nasnet_op(g, x, op, ch, stride)
    if comb == "add":
        return g.add(t0, t1)
    return relu_conv_bn(g, g.concat(t0, t1), ch, 1)


def _head_part(g: Graph, x: Node, num_classes: int) -> Node:
    """ReLU, global pooling and the classifier, a latency-table piece."""
    return g.linear(g.flatten(g.gap(g.relu(x))), num_classes)


def _state_id(s: int) -> str:
    return ("c_{k-2}", "c_{k-1}")[s] if s < 2 else str(s - 2)


def _check_names(key: str, given: tuple[str, ...], known: tuple[str, ...]) -> None:
    bad = [o for o in given if o not in known]
    if bad or not given or len(set(given)) != len(given):
        problem = f"unknown {bad[0]!r}" if bad else "empty or repeated entries"
        raise ParamError(f"parameter {key} of space 'nasnet' has {problem}; allowed: "
                         f"{', '.join(known)}")


@segment
def nasnet_op(g: Graph, x: Node, op: str, ch: int, stride: int) -> Node:
    """One NASNet op from ``ch`` to ``ch`` channels (see the module docstring)."""
    if op == "identity":
        return g.identity(x) if stride == 1 else relu_conv_bn(g, x, ch, 1, stride)
    if op.startswith(("avg_pool", "max_pool")):
        k = int(op[-1])
        if op.startswith("avg"):
            return g.avgpool(x, k, stride, k // 2, count_include_pad=False)
        return g.maxpool(x, k, stride, k // 2)
    if op.startswith("sep_conv"):
        return sep_conv(g, x, ch, int(op[-1]), stride)
    if op == "dil_conv_3x3":
        return relu_conv_bn(g, x, ch, 3, stride, dilation=2)
    if op in ("conv_1x1", "conv_3x3"):
        return relu_conv_bn(g, x, ch, int(op[-1]), stride)
    if op in ("conv_1x3_3x1", "conv_1x7_7x1"):
        k = int(op[-1])
        y = g.conv(g.relu(x), ch, (1, k), stride, (0, k // 2))
        return g.bn(g.conv(y, ch, (k, 1), 1, (k // 2, 0)))
    raise ValueError(f"unknown NASNet op {op!r}")
