"""Build a runnable PyTorch module from the network IR."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archspace.ir.graph import Graph, Node

__all__ = ["GraphModule", "build_module"]

_ACTS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu, "relu6": F.relu6, "hswish": F.hardswish, "hsigmoid": F.hardsigmoid,
    "sigmoid": torch.sigmoid, "swish": F.silu, "tanh": torch.tanh,
}


def _module(node: Node) -> nn.Module | None:
    a = node.attrs
    if node.op == "conv":
        conv = nn.Conv2d(a["in_ch"], a["out_ch"], a["kernel"], a["stride"], a["padding"],
                         a["dilation"], a["groups"], a["bias"])
        if a.get("zero_init"):
            nn.init.zeros_(conv.weight)
            if conv.bias is not None:
                nn.init.zeros_(conv.bias)
        return conv
    if node.op == "bn":
        return nn.BatchNorm2d(node.shape[0], affine=a["affine"])
    if node.op == "linear":
        return nn.Linear(a["in_features"], a["out_features"], a["bias"])
    return None


def _zero(x: Tensor, node: Node) -> Tensor:
    s = node.attrs["stride"]
    y = x[:, :, ::s, ::s] if s > 1 else x
    if y.shape[1] != node.shape[0]:
        return y.new_zeros((y.shape[0], *node.shape))
    return y.mul(0.0)


def _avg_pool(x: Tensor, kernel: Any, stride: Any, padding: Any,
              count_include_pad: bool) -> Tensor:
    """``F.avg_pool2d(x, ...)``; without autograd on the CPU it pools a ``channels_last`` copy
    of ``x``, whose kernel is vectorised over the channels (NCHW's loops over each pixel) and
    sums each window in the same order, so the output is the same bit for bit (and NCHW again):
    with the two copies, 25-75% less time for the 3x3 pooling of NAS-Bench-201 (Dong & Yang,
    ICLR 2020) cells of 8-64 channels at batch 128 on one thread (slower at 3 channels, so
    fewer than 8 pool as they are), what validating those cells costs most after their
    convolutions. Training (autograd on), other
    devices and graph capture (``torch.export``, so ONNX files keep their pooling nodes) pool
    ``x`` as it is."""
    if (x.device.type == "cpu" and x.dim() == 4 and x.shape[1] >= 8 and x.is_floating_point()
            and not torch.is_grad_enabled() and not torch.compiler.is_compiling()
            and not torch.compiler.is_exporting()):
        y = F.avg_pool2d(x.contiguous(memory_format=torch.channels_last), kernel, stride,
                         padding, count_include_pad=count_include_pad)
        return y.contiguous()
    return F.avg_pool2d(x, kernel, stride, padding, count_include_pad=count_include_pad)


def _apply(node: Node, mod: nn.Module | None, xs: list[Tensor], training: bool) -> Tensor:
    op, a = node.op, node.attrs
    if mod is not None:
        return mod(xs[0])  # type: ignore[no-any-return]
    if op == "act":
        return _ACTS[a["kind"]](xs[0])
    if op == "add":
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y
    if op == "mul":
        return xs[0] * xs[1]
    if op == "concat":
        return torch.cat(xs, dim=1)
    if op == "maxpool":
        return F.max_pool2d(xs[0], a["kernel"], a["stride"], a["padding"])
    if op == "avgpool":
        return _avg_pool(xs[0], a["kernel"], a["stride"], a["padding"], a["count_include_pad"])
    if op == "gap":
        return F.adaptive_avg_pool2d(xs[0], 1)
    if op == "upsample":
        size = node.shape[1:]
        if a["mode"] in ("bilinear", "bicubic"):
            return F.interpolate(xs[0], size=size, mode=a["mode"], align_corners=False)
        return F.interpolate(xs[0], size=size, mode="nearest")
    if op == "pixel_shuffle":
        return F.pixel_shuffle(xs[0], a["factor"])
    if op == "flatten":
        return torch.flatten(xs[0], 1)
    if op == "zero":
        return _zero(xs[0], node)
    if op in ("identity",):
        return xs[0]
    if op == "crop":
        return xs[0][:, :, a["top"]:, a["left"]:]
    if op == "dropout":
        return F.dropout(xs[0], a["p"], training)
    raise KeyError(f"no torch implementation for IR op {op!r}")


def _live_inputs(nodes: list[Node]) -> list[list[int]]:
    """Each node's inputs, less the ``zero`` nodes an ``add`` can do without: a zero term of
    the sum's own shape, beside at least one other term, adds nothing (for finite values: a
    zero op multiplies by 0, so an inf or NaN in its input would otherwise give NaN). Cell
    spaces with a ``none`` edge (NAS-Bench-201, DARTS; Dong & Yang, ICLR 2020) then skip
    computing and adding those zeros, in training and evaluation alike."""
    by_id = {n.id: n for n in nodes}

    def droppable(i: int, add: Node) -> bool:
        z = by_id[i]
        return z.op == "zero" and tuple(z.shape) == tuple(add.shape)

    live = []
    for n in nodes:
        ins = list(n.inputs)
        if n.op == "add":
            kept = [i for i in ins if not droppable(i, n)]
            ins = kept if kept else ins
        live.append(ins)
    return live


class GraphModule(nn.Module):
    """Runs an IR graph: one submodule per parameterised node, functional ops for the rest.

    Submodules are named after the IR nodes (dots become underscores), so a state dict reads
    like the network's structure.
    """

    def __init__(self, graph: Graph) -> None:
        super().__init__()
        self.nodes = list(graph.nodes)
        self.layers = nn.ModuleDict()
        self._keys: list[str | None] = []
        for node in self.nodes:
            mod = _module(node)
            key = None
            if mod is not None:
                key = node.name.replace(".", "_")
                self.layers[key] = mod
            self._keys.append(key)
        self._inputs = _live_inputs(self.nodes)
        used = {i for ins in self._inputs for i in ins}
        outputs = {n.id for n in self.nodes} - {i for n in self.nodes for i in n.inputs}
        #: Nodes computed: a ``zero`` node whose every use was dropped is skipped.
        self._run = [n.op != "input" and (n.id in used or n.id in outputs) for n in self.nodes]
        last: dict[int, int] = {}
        for node, ins in zip(self.nodes, self._inputs, strict=True):
            for i in ins:
                last[i] = node.id
        self._free = [[i for i in set(ins) if last[i] == n.id]
                      for n, ins in zip(self.nodes, self._inputs, strict=True)]
        self._input_ids = [n.id for n in self.nodes if n.op == "input"]

    def forward(self, *inputs: Tensor) -> Tensor:
        values: dict[int, Tensor] = dict(zip(self._input_ids, inputs, strict=True))
        layers = self.layers
        out: Any = None
        for node, key, ins, free, run in zip(self.nodes, self._keys, self._inputs, self._free,
                                             self._run, strict=True):
            if not run:
                continue
            xs = [values[i] for i in ins]
            out = _apply(node, layers[key] if key is not None else None, xs, self.training)
            values[node.id] = out
            for i in free:
                del values[i]
        return out  # type: ignore[no-any-return]


def build_module(graph: Graph) -> GraphModule:
    """A fresh, randomly initialised module computing ``graph``."""
    return GraphModule(graph)
