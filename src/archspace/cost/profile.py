"""Analytic cost of an IR graph: parameters, MACs, peak activation memory and flash.

Counting conventions (documented in ``docs/cost-model.md``):

* ``params``: every trainable parameter of the built PyTorch module (conv and linear weights and
  biases, batch-norm affine scale and shift), exactly as ``sum(p.numel())`` counts them.
* ``macs``: multiply-accumulates of convolutions and linear layers, as fvcore and torchprofile
  count them (``out_ch * H_out * W_out * in_ch/groups * kh * kw`` per conv, ``in * out`` per
  linear); pooling, batch norm and elementwise ops count zero.
* ``peak_sram_bytes``: MCUNet's memory model (Lin et al. 2020) over the graph's topological
  schedule, see :mod:`archspace.cost.memory`.
* ``flash_bytes``: int8 weights of every conv and linear layer plus an int32 bias per output
  channel where the layer has a bias or a batch norm folded into it; a batch norm that follows no
  convolution is stored as int32 scale and shift.

``memory_model="tinyengine"`` replaces the last two by TinyEngine's own figures (its allocator,
runtime buffers, per-channel bias and scale), see :mod:`archspace.cost.tinyengine`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from archspace.cost.memory import peak_memory
from archspace.cost.tinyengine import check_memory_model, engine_layers, tinyengine_memory
from archspace.ir.graph import Graph, Node

__all__ = ["LayerCost", "Profile", "layer_cost", "profile_graph"]


@dataclass(frozen=True)
class LayerCost:
    """Cost of one IR node."""

    name: str
    op: str
    shape: tuple[int, ...]
    params: int
    macs: int
    flash_bytes: int
    sram_bytes: int


@dataclass(frozen=True)
class Profile:
    """The cost of one architecture at one resolution."""

    params: int
    macs: int
    peak_sram_bytes: int
    flash_bytes: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    layers: tuple[LayerCost, ...] | None = field(default=None, compare=False)

    def to_dict(self, detail: bool = False) -> dict[str, Any]:
        """Plain dict (JSON-ready); per-layer rows only with ``detail``."""
        d = asdict(self)
        d["input_shape"] = list(self.input_shape)
        d["output_shape"] = list(self.output_shape)
        if detail and self.layers is not None:
            d["layers"] = [asdict(lc) for lc in self.layers]
        else:
            d.pop("layers")
        return d


def layer_cost(node: Node, nodes: list[Node], folded_bn: bool) -> tuple[int, int, int]:
    """(params, macs, flash bytes) of one node; ``folded_bn`` says a BN follows this conv."""
    op, a = node.op, node.attrs
    if op == "conv":
        kh, kw = a["kernel"]
        weights = a["out_ch"] * (a["in_ch"] // a["groups"]) * kh * kw
        bias = a["out_ch"] if a["bias"] else 0
        macs = weights * node.shape[1] * node.shape[2]
        flash = weights + 4 * a["out_ch"] * (a["bias"] or folded_bn)
        return weights + bias, macs, flash
    if op == "linear":
        weights = a["in_features"] * a["out_features"]
        bias = a["out_features"] if a["bias"] else 0
        return weights + bias, weights, weights + 4 * bias
    if op == "bn":
        c = node.shape[0]
        params = 2 * c if a["affine"] else 0
        standalone = nodes[node.inputs[0]].op != "conv"
        return params, 0, 8 * c if standalone else 0
    return 0, 0, 0


def _folded_convs(nodes: list[Node]) -> set[int]:
    return {n.inputs[0] for n in nodes if n.op == "bn" and nodes[n.inputs[0]].op == "conv"}


def profile_graph(graph: Graph, act_bytes: int = 1, detail: bool = False,
                  memory_model: str = "mcunet") -> Profile:
    """Profile a whole graph (see the module docstring for the conventions); ``memory_model``
    is ``mcunet`` (the default) or ``tinyengine``."""
    check_memory_model(memory_model)
    nodes = graph.nodes
    folded = _folded_convs(nodes)
    params = macs = flash = 0
    costs = []
    for node in nodes:
        p, m, f = layer_cost(node, nodes, node.id in folded)
        params += p
        macs += m
        flash += f
        costs.append((p, m, f))
    if memory_model == "tinyengine":
        return _tinyengine_profile(graph, act_bytes, detail, params, macs, costs)
    peak, per_node = peak_memory(nodes, act_bytes, per_node=detail)
    layers = None
    if detail:
        layers = tuple(LayerCost(n.name, n.op, n.shape, c[0], c[1], c[2], s)
                       for n, c, s in zip(nodes, costs, per_node, strict=True))
    inp = graph.inputs[0].shape if graph.inputs else ()
    return Profile(params, macs, peak, flash, inp, graph.output.shape, layers)


def _tinyengine_profile(graph: Graph, act_bytes: int, detail: bool, params: int, macs: int,
                        costs: list[tuple[int, int, int]]) -> Profile:
    nodes = graph.nodes
    te = tinyengine_memory(nodes, act_bytes)
    inp = graph.inputs[0].shape if graph.inputs else ()
    layers = None
    if detail:
        engine, _ = engine_layers(nodes)
        flash = {layer.node: layer.flash for layer in engine}
        step = {layer.node: k for k, layer in enumerate(engine)}
        rows, k = [], 0
        for n, c in zip(nodes, costs, strict=True):
            k = step.get(n.id, k)  # fused nodes show the layer they belong to
            rows.append(LayerCost(n.name, n.op, n.shape, c[0], c[1], flash.get(n.id, 0),
                                  te.layer_sram[k] if te.layer_sram else 0))
        layers = tuple(rows)
    return Profile(params, macs, te.peak_sram_bytes, te.flash_bytes, inp, graph.output.shape,
                   layers)
