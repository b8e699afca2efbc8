"""Composite layers that several spaces share, written over the primitive IR ops.

Functions take a graph and an input node and return the output node. The frozen dataclasses
are *chain blocks*: hashable descriptions of one stage of a chain-structured network, so the
cost model can profile each distinct block once and reuse it (see :mod:`archspace.cost.chain`).
"""

from __future__ import annotations

from dataclasses import dataclass

from archspace.ir.graph import Graph, Node
from archspace.ir.segments import segment

__all__ = [
    "Block", "ClassifierHead", "ConvBNAct", "MBConv", "conv_bn_act", "dil_conv",
    "factorized_reduce", "make_divisible", "relu_conv_bn", "sep_conv", "squeeze_excite",
]


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of ``divisor`` without losing more than 10%
    (the rule of the MobileNet reference implementations)."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def conv_bn_act(g: Graph, x: Node, out_ch: int, kernel: int, stride: int = 1,
                act: str | None = "relu6", groups: int = 1, dilation: int = 1,
                name: str | None = None) -> Node:
    """Convolution, batch norm and an optional activation."""
    y = g.bn(g.conv(x, out_ch, kernel, stride, None, dilation, groups, name=name))
    return g.act(y, act) if act else y


def squeeze_excite(g: Graph, x: Node, mid_ch: int, gate: str = "sigmoid",
                   act: str = "relu") -> Node:
    """Squeeze-and-excitation (Hu et al. 2018): gap, 1x1 reduce, act, 1x1 expand, gate, scale."""
    with g.scope("se"):
        s = g.gap(x)
        s = g.act(g.conv(s, mid_ch, 1, bias=True, name="reduce"), act)
        s = g.act(g.conv(s, x.channels, 1, bias=True, name="expand"), gate)
        return g.mul(x, s)


@segment
def relu_conv_bn(g: Graph, x: Node, out_ch: int, kernel: int, stride: int = 1,
                 dilation: int = 1, affine: bool = True) -> Node:
    """ReLU-Conv-BN, the op of NAS-Bench-201 and DARTS."""
    return g.bn(g.conv(g.relu(x), out_ch, kernel, stride, None, dilation), affine=affine)


@segment
def sep_conv(g: Graph, x: Node, out_ch: int, kernel: int, stride: int = 1,
             affine: bool = True) -> Node:
    """DARTS separable convolution: (ReLU, depthwise, pointwise, BN) twice."""
    y = g.bn(g.conv(g.dwconv(g.relu(x), kernel, stride), x.channels, 1), affine=affine)
    return g.bn(g.conv(g.dwconv(g.relu(y), kernel, 1), out_ch, 1), affine=affine)


@segment
def dil_conv(g: Graph, x: Node, out_ch: int, kernel: int, stride: int = 1, dilation: int = 2,
             affine: bool = True) -> Node:
    """DARTS dilated convolution: ReLU, dilated depthwise, pointwise, BN."""
    return g.bn(g.conv(g.dwconv(g.relu(x), kernel, stride, dilation), out_ch, 1), affine=affine)


@segment
def factorized_reduce(g: Graph, x: Node, out_ch: int, affine: bool = True) -> Node:
    """Halve the resolution with two offset stride-2 1x1 convolutions (DARTS/NASNet)."""
    with g.scope("reduce"):
        r = g.relu(x)
        a = g.conv(r, out_ch // 2, 1, 2, 0)
        b = g.conv(g.crop(r, 1, 1), out_ch - out_ch // 2, 1, 2, 0)
        if a.shape[1:] != b.shape[1:]:
            b = g.conv(r, out_ch - out_ch // 2, 1, 2, 0, name="conv_odd")
        return g.bn(g.concat(a, b), affine=affine)


class Block:
    """A hashable chain block: ``lower(g, x)`` appends it to ``g`` and returns its output."""

    def lower(self, g: Graph, x: Node) -> Node:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass(frozen=True)
class ConvBNAct(Block):
    """Convolution, batch norm, activation."""

    out_ch: int
    kernel: int
    stride: int = 1
    act: str | None = "relu6"

    def lower(self, g: Graph, x: Node) -> Node:
        return conv_bn_act(g, x, self.out_ch, self.kernel, self.stride, self.act)


@dataclass(frozen=True)
class MBConv(Block):
    """Inverted residual block (MobileNetV2, Sandler et al. 2018), optionally with SE.

    ``expand`` multiplies the input channels; with expand 1 there is no expansion conv.
    The residual is added when stride is 1, channels match and ``skip`` is set.
    """

    out_ch: int
    kernel: int
    expand: float
    stride: int = 1
    act: str = "relu6"
    se_ratio: float = 0.0
    se_gate: str = "sigmoid"
    skip: bool = True

    def lower(self, g: Graph, x: Node) -> Node:
        in_ch = x.channels
        mid = round(in_ch * self.expand)
        y = x
        if self.expand != 1:
            y = conv_bn_act(g, y, mid, 1, 1, self.act, name="expand")
        y = g.act(g.bn(g.dwconv(y, self.kernel, self.stride)), self.act)
        if self.se_ratio > 0:
            y = squeeze_excite(g, y, max(1, int(in_ch * self.se_ratio)), self.se_gate)
        y = g.bn(g.conv(y, self.out_ch, 1, name="project"))
        if self.skip and self.stride == 1 and in_ch == self.out_ch:
            y = g.add(x, y)
        return y


@dataclass(frozen=True)
class ClassifierHead(Block):
    """Global average pooling, optional dropout, linear classifier."""

    num_classes: int
    dropout: float = 0.0

    def lower(self, g: Graph, x: Node) -> Node:
        y = g.flatten(g.gap(x))
        if self.dropout > 0:
            y = g.dropout(y, self.dropout)
        return g.linear(y, self.num_classes, name="classifier")
