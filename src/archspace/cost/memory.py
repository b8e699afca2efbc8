"""Peak activation memory (SRAM) under MCUNet's convention (Lin et al., NeurIPS 2020).

The network runs layer by layer in the graph's topological order with int8 activations
(``act_bytes`` per element). While a node runs, memory holds its inputs, its output and every
tensor produced earlier and still needed later (a residual input stays alive until its add).
Some ops write their output over their input when that input has no later use:

* batch norm, activations, identity, dropout, flatten and crop (fused into the producing layer
  on a microcontroller), and the add of a residual (accumulated into one operand);
* depthwise convolution, computed in place channel by channel, as TinyEngine does.

An in-place node needs ``max(input, output)`` for its buffer instead of both. The peak is the
largest total over the schedule. For MobileNetV2 1.0 at 224x224 this gives 1,404,928 bytes at the
second block's expansion (16x112x112 in, 96x112x112 out), the figure MCUNet quotes.
"""

from __future__ import annotations

from archspace.ir.graph import Node

__all__ = ["INPLACE_OPS", "peak_memory"]

INPLACE_OPS = frozenset({"bn", "act", "identity", "dropout", "flatten", "crop", "add"})


def _is_inplace(node: Node) -> bool:
    if node.op in INPLACE_OPS:
        return True
    a = node.attrs
    return node.op == "conv" and a["groups"] == a["in_ch"] == a["out_ch"] and a["groups"] > 1


def peak_memory(nodes: list[Node], act_bytes: int = 1,
                per_node: bool = False) -> tuple[int, list[int]]:
    """Peak bytes over the schedule, and (with ``per_node``) the bytes in use at each node."""
    n = len(nodes)
    last = list(range(n))
    size = [0] * n
    for node in nodes:
        i = node.id
        for j in node.inputs:
            last[j] = i
        b = act_bytes
        for d in node.shape:
            b *= d
        size[i] = b
    if n:
        last[-1] = n  # the graph output lives to the end
    live = 0
    peak = 0
    trace: list[int] = []
    for node in nodes:
        i = node.id
        ins = node.inputs
        if not ins:
            now = live = live + size[i]
        else:
            first = ins[0]
            if (last[first] == i and (len(ins) == 1 or ins.count(first) == 1)
                    and _is_inplace(node)):
                si, sf = size[i], size[first]
                now = live - sf + (sf if sf > si else si)
                live += si - sf
                rest = ins[1:]
            else:
                now = live = live + size[i]
                rest = ins
            if len(rest) == 1:
                if last[rest[0]] == i:
                    live -= size[rest[0]]
            elif rest:
                for j in set(rest):
                    if last[j] == i:
                        live -= size[j]
        if now > peak:
            peak = now
        if last[i] == i:  # produced but never used
            live -= size[i]
        if per_node:
            trace.append(now)
    return peak, trace
