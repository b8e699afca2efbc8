"""TinyEngine's memory model: its tensor allocator, runtime buffers and flash, over the IR.

TinyEngine is MCUNet's inference engine (Lin et al., "MCUNet: Tiny Deep Learning on IoT
Devices", NeurIPS 2020). Its code generator (mit-han-lab/tinyengine, ``code_generator/``, read at
commit 47bb283, MIT licence) sizes a network's SRAM and flash before writing any C; this module
follows it term by term:

* **Layers.** A TFLite model becomes a list of layers (``TfliteConvertor.py``): ``CONV_2D``,
  ``DEPTHWISE_CONV_2D``, ``ADD``, ``AVERAGE_POOL_2D``/``MEAN``, ``FULLY_CONNECTED`` (parsed as a
  1x1 ``CONV_2D``, ``converters/tflite_parser/fc.py``); batch norm, activations and padding are
  folded into the convolution, reshapes skipped. Here: IR ``conv`` and ``linear`` nodes are
  convolutions, ``add``/pooling/``mul``/``concat``/``upsample``/``pixel_shuffle``/``zero`` are
  layers with a new output tensor, and every other node aliases its input.
* **Tensors** are int8, ``ceil(n / 4) * 4`` bytes (``operators/basic_utils.py``, ``tensor.len``).
  A tensor lives from the layer that first touches it to one past its last consumer
  (``GeneralMemoryScheduler.allocateMemory``); a tensor first touched by layer 0 and never used
  again dies after layer 0, any other unused one lives to the end.
* **In-place depthwise**: an int8 depthwise convolution writes over its input, so its output is
  its input tensor (same lifetime, the input's size); after a stride-2 one, later tensors see only
  a quarter of it (``stride2_inplace_idx`` in ``GeneralMemoryScheduler.py`` and
  ``allocator/firstFit.py``).
* **Placement**: tensors sorted by size (largest first, ties in order of creation,
  ``allocator/base_allocator.py``, ``sortSize``), each put at the lowest address free over its
  lifetime (``allocator/firstFit.py``, whose overlap tests are strict inequalities: two tensors
  with the same lifetime may share addresses, as the engine allows). The arena is the highest
  address used (``get_peak``).
* **Runtime buffers** (``operators/conv2d.py``, ``operators/depthwiseConv2d.py``): a convolution's
  im2col buffer ``sbuf`` is ``kh * kw * in_c * 2 * 2`` bytes (two columns, 16 bit); a k x k
  convolution with ``k > 1`` also keeps its weights in 16 bit (``kbuf``, ``2 * weights``); an
  in-place depthwise convolution's ``sbuf`` is ``2 * (H + 2p) * (W + 2p)`` (its padded input
  plane, 16 bit, ``p = floor(kh / 2)``). Each buffer is sized for the largest layer.
* **Peak SRAM** = arena + largest ``sbuf`` + largest ``kbuf`` (``peakmem`` in
  ``GeneralMemoryScheduler.allocateMemory``), the ``buffer`` the generated C declares
  (``CodeGenerator.py``).
* **Flash** = int8 weights (``kh * kw * in_c * out_c``; depthwise ``kh * kw * C``) plus an int32
  bias and an int32 requantisation scale per output channel of every convolution (``get_bias_size``,
  ``get_scale_size``), the ``MODEL_SIZE`` of the generated code. The engine's code size term of
  ``profileResult`` is ``int(self.code * 1024)`` with ``self.code = 0``: the code generator does
  not estimate the compiled library, so neither does this model (the boards' binaries hold about
  64 kB more, see ``docs/cost-model.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from archspace.errors import ParamError
from archspace.ir.graph import Node

__all__ = ["MEMORY_MODELS", "EngineLayer", "TinyEngineMemory", "check_memory_model",
           "engine_layers", "tinyengine_memory"]

#: The memory models a profile can use: MCUNet's convention (the default) and TinyEngine's.
MEMORY_MODELS = ("mcunet", "tinyengine")

_ALIAS_OPS = frozenset({"bn", "act", "identity", "dropout", "flatten", "crop"})
_SRAM_LIMIT = 10 * 1024 * 1024  # GeneralMemoryScheduler's default memory_limit


def check_memory_model(name: str) -> str:
    """``name`` if it is a memory model, else a :class:`~archspace.errors.ParamError`."""
    if name not in MEMORY_MODELS:
        raise ParamError(f"unknown memory model {name!r}; allowed: {', '.join(MEMORY_MODELS)}")
    return name


@dataclass(frozen=True)
class EngineLayer:
    """One TinyEngine layer: its tensors (ids), runtime buffers and flash bytes."""

    node: int
    op: str
    inputs: tuple[int, ...]
    output: int
    sbuf: int
    kbuf: int
    flash: int
    stride2_inplace: bool = False


@dataclass(frozen=True)
class TinyEngineMemory:
    """TinyEngine's figures for one network (bytes)."""

    peak_sram_bytes: int
    flash_bytes: int
    arena_bytes: int
    im2col_bytes: int
    kernel_bytes: int
    #: SRAM in use (arena top among live tensors + the two buffers) at each TinyEngine layer.
    layer_sram: tuple[int, ...]
    layers: tuple[EngineLayer, ...]


def _tensor_bytes(node: Node, act_bytes: int) -> int:
    return math.ceil(node.numel * act_bytes / 4) * 4


def _is_depthwise(node: Node) -> bool:
    a = node.attrs
    return node.op == "conv" and a["groups"] == a["in_ch"] == a["out_ch"] and a["groups"] > 1


def engine_layers(nodes: list[Node]) -> tuple[list[EngineLayer], list[int]]:
    """The TinyEngine layers of a graph, and for each node the tensor (node id) holding it."""
    tensor = list(range(len(nodes)))
    layers: list[EngineLayer] = []
    for node in nodes:
        a = node.attrs
        if node.op == "input":
            continue
        ins = tuple(tensor[i] for i in node.inputs)
        if node.op in _ALIAS_OPS:
            tensor[node.id] = ins[0]
            continue
        if node.op == "conv":
            kh, kw = a["kernel"]
            if _is_depthwise(node):
                c, h, w = nodes[node.inputs[0]].shape
                p = kh // 2
                tensor[node.id] = ins[0]
                layers.append(EngineLayer(node.id, "depthwise", ins, ins[0],
                                          2 * (h + 2 * p) * (w + 2 * p), 0,
                                          kh * kw * c + 8 * c, a["stride"] == 2))
                continue
            weights = kh * kw * (a["in_ch"] // a["groups"]) * a["out_ch"]
            layers.append(EngineLayer(node.id, "conv", ins, node.id, kh * kw * a["in_ch"] * 4,
                                      0 if kh == 1 else 2 * weights,
                                      weights + 8 * a["out_ch"]))
        elif node.op == "linear":
            f_in, f_out = a["in_features"], a["out_features"]
            layers.append(EngineLayer(node.id, "conv", ins, node.id, 4 * f_in, 0,
                                      f_in * f_out + 8 * f_out))
        else:
            layers.append(EngineLayer(node.id, node.op, ins, node.id, 0, 0, 0))
    return layers, tensor


class _Slot:
    __slots__ = ("y0", "y1")

    def __init__(self, y0: int, y1: int) -> None:
        self.y0 = y0
        self.y1 = y1


class _Rect:
    __slots__ = ("end", "placement", "size", "start", "stride2")

    def __init__(self, start: int, end: int, size: int) -> None:
        self.start = start
        self.end = end
        self.size = size
        self.placement = -1
        self.stride2: int | None = None


def _first_fit(rects: list[_Rect], rec: _Rect) -> int:
    """``FirstFit.fit`` (``allocator/firstFit.py``), line by line, including its list edits."""
    start, end, size = rec.start, rec.end, rec.size
    slots = [_Slot(0, _SRAM_LIMIT)]
    for r in rects:
        if r.placement == -1:
            continue
        if (start < r.start < end or start < r.end < end or r.start < start < r.end
                or r.start < end < r.end):
            y0 = r.placement
            y1 = y0 + (math.ceil(r.size / 4) if r.stride2 is not None and start > r.stride2
                       else r.size)
            for s in slots:
                if s.y0 <= y0 <= s.y1 or s.y0 <= y1 <= s.y1 or y0 <= s.y0 <= y1 or y0 <= s.y1 <= y1:
                    if s.y1 > y1:
                        slots.append(_Slot(y1, s.y1))
                    if s.y0 < y0:
                        slots.append(_Slot(s.y0, y0))
                    slots.remove(s)
    lowest = 2**31 - 1
    found = False
    for s in slots:
        if s.y1 - s.y0 >= size and lowest > s.y0:
            lowest = s.y0
            found = True
    if not found:
        raise ValueError("network needs more than TinyEngine's 10 MiB memory limit")
    return lowest


def tinyengine_memory(nodes: list[Node], act_bytes: int = 1) -> TinyEngineMemory:
    """TinyEngine's peak SRAM and flash of the graph ``nodes`` (see the module docstring)."""
    layers, _ = engine_layers(nodes)
    n = len(layers)
    rects: list[_Rect] = []
    index: dict[int, int] = {}
    for i, layer in enumerate(layers):
        for t in (*layer.inputs, layer.output):
            if t in index:
                continue
            end = i + 1 if i == 0 else n
            for j in range(i + 1, n):
                if t in layers[j].inputs:
                    end = j + 1
            index[t] = len(rects)
            rects.append(_Rect(i, end, _tensor_bytes(nodes[t], act_bytes)))
    for i, layer in enumerate(layers):
        if layer.stride2_inplace:
            rects[index[layer.inputs[0]]].stride2 = i
    # sortSize: repeatedly take the first rectangle of the largest size
    order = sorted(range(len(rects)), key=lambda k: (-rects[k].size, k))
    placed = [rects[k] for k in order if rects[k].size > 0]
    for r in placed:
        r.placement = _first_fit(placed, r)
    arena = max((r.placement + r.size for r in placed), default=0)
    sbuf = max((layer.sbuf for layer in layers), default=0)
    kbuf = max((layer.kbuf for layer in layers), default=0)
    in_use = tuple(max((r.placement + r.size for r in placed if r.start <= i < r.end), default=0)
                   + sbuf + kbuf for i in range(n))
    flash = sum(layer.flash for layer in layers)
    return TinyEngineMemory(arena + sbuf + kbuf, flash, arena, sbuf, kbuf, in_use, tuple(layers))
