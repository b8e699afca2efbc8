"""ENAS's macro search space: one op per layer plus skip connections from earlier layers.

Pham, Guan, Zoph, Le, Dean, "Efficient Neural Architecture Search via Parameter Sharing",
ICML 2018 (the "macro" space; the same layer-wise DAG is searched by NASBOT and others).

The network has ``layers`` (6) layers. Layer ``i`` applies one op (``l{i}.op``: conv3x3,
conv5x5, sep3x3, sep5x5, maxpool, avgpool) to the previous layer's output and adds the outputs
of any earlier layers it chooses (``l{i}.skip{j}`` in {0, 1} for each ``j < i``), followed by
BN, as ENAS does. That is ``6^L * 2^(L(L-1)/2)`` networks (1.6e29 for ENAS's 12 layers).

Building blocks, following ENAS: a 3x3 conv + BN stem with ``channels`` channels; conv ops are
ReLU-conv-BN, separable ops ReLU-depthwise-pointwise-BN, pools 3x3 stride 1 (average pooling
ignores padding). Resolution halves and channels double after layers ``L//3 - 1`` and
``2L//3 - 1`` (ENAS's pooling layers); an earlier output used at a later, coarser stage is
brought there by factorized reductions (ReLU, two offset stride-2 1x1 convs, BN), computed once
per (layer, stage) and shared by every consumer. Head: ReLU, global average pooling, linear.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archspace.errors import ParamError
from archspace.ir.blocks import factorized_reduce, relu_conv_bn
from archspace.ir.graph import Graph, Node
from archspace.ir.segments import segment
from archspace.space import Arch, Decision, Diagram, DiagramEdge, DiagramNode, Space
from archspace.space.params import Limit, count_up_to, limits

__all__ = ["OPS", "MacroSpace"]

OPS = ("conv3x3", "conv5x5", "sep3x3", "sep5x5", "maxpool", "avgpool")


def _sep(k: int) -> Callable[[Graph, Node], Node]:
    @segment
    def op(g: Graph, x: Node) -> Node:
        return g.bn(g.conv(g.dwconv(g.relu(x), k), x.channels, 1))
    return op


_OP_FUNCS: dict[str, Callable[[Graph, Node], Node]] = {
    "conv3x3": lambda g, x: relu_conv_bn(g, x, x.channels, 3),
    "conv5x5": lambda g, x: relu_conv_bn(g, x, x.channels, 5),
    "sep3x3": _sep(3),
    "sep5x5": _sep(5),
    "maxpool": lambda g, x: g.maxpool(x, 3, 1, 1),
    "avgpool": lambda g, x: g.avgpool(x, 3, 1, 1, count_include_pad=False),
}


class MacroSpace(Space):
    """Per layer: an op and a set of skip inputs from earlier layers."""

    name = "macro"
    kind = "macro"
    segment_profile = True
    paper = "Pham et al. 2018, Efficient Neural Architecture Search via Parameter Sharing (ICML)"
    min_resolution = 8

    param_limits = limits(Space.param_limits, layers=count_up_to(100), channels=Limit(2, 65_536))

    def __init__(self, layers: int = 6, channels: int = 24, resolution: int = 32,
                 num_classes: int = 10) -> None:
        self._record_params(layers=layers, channels=channels, resolution=resolution,
                            num_classes=num_classes)
        if layers < 1 or channels < 2:
            raise ParamError(f"space macro needs layers >= 1 and channels >= 2, got "
                             f"layers={layers}, channels={channels}")
        self.layers = layers
        self.channels = channels
        self.default_resolution = resolution
        self.num_classes = num_classes
        ds = []
        for i in range(layers):
            ds.append(Decision.of(f"l{i}.op", OPS, doc="layer op"))
            ds += [Decision.of(f"l{i}.skip{j}", (0, 1), doc=f"add layer {j}'s output")
                   for j in range(i)]
        self._set_decisions(ds)

    def reductions(self) -> list[int]:
        """Layers after which resolution halves and channels double (ENAS's pool layers)."""
        d = self.layers // 3
        return sorted({p for p in (d - 1, 2 * d - 1) if 0 <= p < self.layers - 1})

    def stage_of(self, layer: int) -> int:
        """How many reductions precede ``layer``."""
        return sum(p < layer for p in self.reductions())

    def _layers(self, arch: Arch) -> list[tuple[str, list[int]]]:
        v: dict[str, Any] = dict(self.validate(arch).items())
        return [(str(v[f"l{i}.op"]), [j for j in range(i) if v[f"l{i}.skip{j}"]])
                for i in range(self.layers)]

    def _lower(self, arch: Arch, g: Graph, resolution: int) -> None:
        x = g.input((self.in_channels, resolution, resolution))
        with g.scope("stem"):
            stem = _stem_part(g, x, self.channels)
        outs: list[Node] = []
        cache: dict[tuple[int, int], Node] = {}

        def at_stage(j: int, stage: int) -> Node:
            """Output of layer j (stem for -1) brought to ``stage``."""
            if (j, stage) not in cache:
                if stage == (0 if j < 0 else self.stage_of(j)):
                    cache[(j, stage)] = stem if j < 0 else outs[j]
                else:
                    prev = at_stage(j, stage - 1)
                    with g.scope(f"reduce{j if j >= 0 else 'stem'}_{stage}"):
                        cache[(j, stage)] = factorized_reduce(g, prev, 2 * prev.channels)
            return cache[(j, stage)]

        for i, (op, skips) in enumerate(self._layers(arch)):
            stage = self.stage_of(i)
            inp = at_stage(i - 1, stage)
            extra = [at_stage(j, stage) for j in skips]
            with g.scope(f"l{i}"):
                y = _op_part(g, inp, op)
                if i > 0:
                    y = _merge_part(g, y, *extra)
            outs.append(y)
        with g.scope("head"):
            _head_part(g, outs[-1], self.num_classes)

    def latency_terms(self, arch: Arch, resolution: int, part: Callable[..., Any],
                      memo: Callable[[Any], dict[Any, Any]]) -> list[tuple[int, int]]:
        """The network of :meth:`_lower` as latency-table terms (see
        :meth:`~archspace.cost.latency_table.LatencyTable.predict`), each looked up by
        ``part`` on input shapes: the stem, each factorized reduction (once per layer output
        and stage, as :meth:`_lower` shares them), each layer's op and its sum-and-BN (on the op
        output and the skips' shapes), and the head."""
        terms, stem = part(_stem_part, ((self.in_channels, resolution, resolution),),
                           self.channels)
        out = [terms]
        outs: list[tuple[int, ...]] = []
        cache: dict[tuple[int, int], tuple[int, ...]] = {}

        def at_stage(j: int, stage: int) -> tuple[int, ...]:
            if (j, stage) not in cache:
                if stage == (0 if j < 0 else self.stage_of(j)):
                    cache[(j, stage)] = stem if j < 0 else outs[j]
                else:
                    prev = at_stage(j, stage - 1)
                    terms, cache[(j, stage)] = part(factorized_reduce, (prev,), 2 * prev[0])
                    out.append(terms)
            return cache[(j, stage)]

        for i, (op, skips) in enumerate(self._layers(arch)):
            stage = self.stage_of(i)
            inp = at_stage(i - 1, stage)
            extra = [at_stage(j, stage) for j in skips]
            terms, y = part(_op_part, (inp,), op)
            out.append(terms)
            if i > 0:
                terms, y = part(_merge_part, (y, *extra))
                out.append(terms)
            outs.append(y)
        out.append(part(_head_part, (outs[-1],), self.num_classes)[0])
        return out

    def diagram(self, arch: Arch) -> Diagram:
        layers = self._layers(arch)
        nodes = [DiagramNode("stem", f"stem\nconv3x3\n{self.channels}", group="input")]
        edges = []
        prev = "stem"
        for i, (op, skips) in enumerate(layers):
            s = self.stage_of(i)
            label = f"l{i}\n{op}" + (f"\n{self.channels << s} ch, 1/{1 << s}" if s else "")
            nodes.append(DiagramNode(f"l{i}", label, group=f"stage{s}"))
            edges.append(DiagramEdge(prev, f"l{i}"))
            edges += [DiagramEdge(f"l{j}", f"l{i}", "skip") for j in skips]
            prev = f"l{i}"
        nodes.append(DiagramNode("head", f"head\ngap, fc\n{self.num_classes}", group="output"))
        edges.append(DiagramEdge(prev, "head"))
        return Diagram("dag", f"{self.label}: {self.layers} layers", tuple(nodes), tuple(edges))


def _stem_part(g: Graph, x: Node, channels: int) -> Node:
    """The stem: 3x3 conv and BN."""
    return g.bn(g.conv(x, channels, 3))


def _op_part(g: Graph, x: Node, op: str) -> Node:
    """A layer's op on its input."""
    return _OP_FUNCS[op](g, x)


def _merge_part(g: Graph, y: Node, *extra: Node) -> Node:
    """A layer's op output ``y`` plus its skip inputs, then BN."""
    return g.bn(g.add(y, *extra) if extra else y)


def _head_part(g: Graph, x: Node, num_classes: int) -> Node:
    """The head: ReLU, global average pooling, linear."""
    return g.linear(g.flatten(g.gap(g.relu(x))), num_classes, name="classifier")
