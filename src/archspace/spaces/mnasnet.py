"""MnasNet's factorized hierarchical search space.

Tan et al., "MnasNet: Platform-Aware Neural Architecture Search for Mobile", CVPR 2019, Sec. 4.
The network is a 3x3 stem to 32 channels, seven blocks over MobileNetV2's skeleton (strides 1, 2,
2, 2, 1, 2, 1 and 1, 2, 3, 4, 3, 3, 1 layers), a 1x1 conv to 1280 and a classifier. Each block
searches one layer that all its layers repeat:

* ``op``: ``conv`` (regular convolution), ``dconv`` (depthwise separable), ``mbconv3``,
  ``mbconv6`` (inverted residuals with expand ratio 3 or 6);
* ``k``: kernel 3 or 5; ``se``: squeeze-and-excitation ratio 0 or 0.25;
* ``skip``: ``none`` or ``identity`` (a residual on every layer whose shape allows it);
* ``filter``: output width 0.75, 1.0 or 1.25 times the block's base width (exact, no rounding:
  every base width is a multiple of 4);
* ``layers``: -1, 0 or +1 layers relative to the base.

The size is exact: where a block may have no layer (base 1, ``layers=-1``) its other decisions
are inactive, and ``skip`` is active only when the block has a second layer (the first layer of
a block never has a residual: it changes the width). The paper's count, ``S^B`` with ``S`` the
product of the choice counts, is :meth:`~MnasNetSpace.size_formulas`'s ``factorized``.

``base`` picks the base widths. The paper takes them from MobileNetV2 (16, 24, 32, 64, 96, 160,
320), but its MnasNet-A1 (widths 16, 24, 40, 80, 112, 160, 320) is not reachable from those:
112 is not 0.75, 1 or 1.25 times 96. The default base ``mnasnet-a1`` centres the multipliers on
MnasNet-A1's widths, so MnasNet-A1 is the point with every multiplier 1.0 (named arch
``mnasnet-a1``); ``base="mobilenetv2"`` is the paper's literal space, whose reference point is
MobileNetV2 (named arch ``mobilenetv2``, with MnasNet's ReLU for ReLU6). Squeeze-and-excitation
reduces to ``int(ratio * block input channels)`` channels, as the MnasNet code does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from archspace.errors import ArchError, ParamError
from archspace.ir.blocks import Block, ClassifierHead, ConvBNAct, MBConv, squeeze_excite
from archspace.ir.graph import Graph, Node
from archspace.space import Arch, ChainSpace, Decision, Diagram, Value
from archspace.spaces.proxyless import chain_diagram

__all__ = ["BASES", "LAYERS", "MNASNET_A1", "OPS", "STRIDES", "MnasConv", "MnasNetSpace"]

OPS = ("conv", "dconv", "mbconv3", "mbconv6")
#: Base widths of the seven blocks.
BASES = {"mnasnet-a1": (16, 24, 40, 80, 112, 160, 320),
         "mobilenetv2": (16, 24, 32, 64, 96, 160, 320)}
#: MobileNetV2's layers and strides per block.
LAYERS = (1, 2, 3, 4, 3, 3, 1)
STRIDES = (1, 2, 2, 2, 1, 2, 1)
#: MnasNet-A1 (op, kernel, SE ratio, layers) per block; skip is identity wherever active.
MNASNET_A1 = (("dconv", 3, 0.0, 1), ("mbconv6", 3, 0.0, 2), ("mbconv3", 5, 0.25, 3),
              ("mbconv6", 3, 0.0, 4), ("mbconv6", 3, 0.25, 2), ("mbconv6", 5, 0.25, 3),
              ("mbconv6", 3, 0.0, 1))
_MOBILENETV2 = tuple(("dconv" if i == 0 else "mbconv6", 3, 0.0, n) for i, n in enumerate(LAYERS))


@dataclass(frozen=True)
class MnasConv(Block):
    """MnasNet's regular-convolution layer: conv, batch norm, ReLU, optional squeeze-excite,
    and a residual when ``skip`` is set and the shape allows it."""

    out_ch: int
    kernel: int
    stride: int = 1
    se_ratio: float = 0.0
    skip: bool = True

    def lower(self, g: Graph, x: Node) -> Node:
        y = g.act(g.bn(g.conv(x, self.out_ch, self.kernel, self.stride)), "relu")
        if self.se_ratio > 0:
            y = squeeze_excite(g, y, max(1, int(x.channels * self.se_ratio)))
        if self.skip and self.stride == 1 and x.channels == self.out_ch:
            y = g.add(x, y)
        return y

    def describe(self) -> str:
        """Diagram label."""
        return (f"Conv k{self.kernel}" + (" SE" if self.se_ratio else "") + f"\n{self.out_ch}"
                + (f" s{self.stride}" if self.stride > 1 else ""))


class MnasNetSpace(ChainSpace):
    """Per-block op, kernel, SE, skip, width and depth over MobileNetV2's seven blocks."""

    name = "mnasnet"
    kind = "chain"
    paper = "Tan et al. 2019, MnasNet (CVPR)"
    min_resolution = 32

    def __init__(self, resolution: int = 224, num_classes: int = 1000,
                 base: str = "mnasnet-a1") -> None:
        self._record_params(resolution=resolution, num_classes=num_classes, base=base)
        if base not in BASES:
            raise ParamError(f"parameter base={base!r} of space 'mnasnet' is unknown; allowed: "
                             f"{', '.join(BASES)}")
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ParamError(f"parameter num_classes={num_classes!r} of space 'mnasnet' must be "
                             "an integer >= 1")
        self.base = base
        self.num_classes = num_classes
        self.default_resolution = self.check_resolution(resolution)
        self._set_decisions(d for i in range(len(LAYERS)) for d in self._block_decisions(i))

    def _block_decisions(self, i: int) -> list[Decision]:
        p = f"s{i + 1}."
        deltas = (-1, 0, 1)
        exists = [d for d in deltas if LAYERS[i] + d >= 1]
        repeats = [d for d in deltas if LAYERS[i] + d >= 2]
        when = None if len(exists) == 3 else (p + "layers", exists)
        return [
            Decision.of(p + "layers", deltas, doc="layers relative to the base"),
            Decision.of(p + "op", OPS, when, doc="convolution op"),
            Decision.of(p + "k", (3, 5), when, doc="kernel size"),
            Decision.of(p + "se", (0.0, 0.25), when, doc="squeeze-and-excitation ratio"),
            Decision.of(p + "skip", ("none", "identity"),
                        None if len(repeats) == 3 else (p + "layers", repeats),
                        doc="residual on layers whose shape allows it"),
            Decision.of(p + "filter", (0.75, 1.0, 1.25), when, doc="width relative to the base"),
        ]

    def size_formulas(self) -> dict[str, int]:
        """``factorized``: the paper's ``S^B`` (``S`` = product of one block's choice counts,
        ``B`` = 7), which counts a block's inactive choices as distinct."""
        per_block = 1
        for d in self.decisions[:6]:
            per_block *= len(d.choices)
        return {"factorized": per_block ** len(LAYERS)}

    def named_archs(self) -> dict[str, Arch]:
        name, ref = (("mnasnet-a1", MNASNET_A1) if self.base == "mnasnet-a1"
                     else ("mobilenetv2", _MOBILENETV2))
        values: dict[str, Value] = {}
        for i, (op, k, se, n) in enumerate(ref):
            p = f"s{i + 1}."
            values.update({p + "layers": n - LAYERS[i], p + "op": op, p + "k": k, p + "se": se,
                           p + "filter": 1.0})
            if n >= 2:
                values[p + "skip"] = "identity"
        try:
            return {name: self.make(values)}
        except ArchError:  # a restricted sub-space without some of its choices
            return {}

    def _stages(self, arch: Arch) -> Iterator[tuple[str, int, int, tuple[str, int, int, float,
                                                                          bool]]]:
        """Each stage with at least one layer: its name prefix (``s2.``), layer count, first
        stride and its layers' (op, width, kernel, SE ratio, identity skip)."""
        v = dict(arch.items())
        for i, (base, n, stride) in enumerate(zip(BASES[self.base], LAYERS, STRIDES, strict=True)):
            p = f"s{i + 1}."
            layers = n + int(v[p + "layers"])  # type: ignore[arg-type]
            if layers:
                yield p, layers, stride, (str(v[p + "op"]), int(base * float(v[p + "filter"])),  # type: ignore[arg-type]
                                          int(v[p + "k"]), float(v[p + "se"]),  # type: ignore[arg-type]
                                          v[p + "skip"] == "identity")

    def blocks(self, arch: Arch, resolution: int) -> list[Block]:
        return [b for _, b in self.named_blocks(arch, resolution)]

    def named_blocks(self, arch: Arch, resolution: int) -> list[tuple[str, Block]]:
        """Stem ``b0``, layers by position in their stage (``s2.b1``), head ``head0``, ``head1``:
        a layer's name never depends on the depths of earlier stages."""
        out: list[tuple[str, Block]] = [("b0", _STEM)]
        for p, layers, stride, (op, width, k, se, skip) in self._stages(arch):
            for j in range(layers):
                out.append((f"{p}b{j}", _layer(op, width, k, stride if j == 0 else 1, se, skip)))
        out += [("head0", _HEAD),
                ("head1", ClassifierHead(self.num_classes, 0.2))]
        return out

    def latency_terms(self, arch: Arch, resolution: int, part: Callable[..., Any],
                      memo: Callable[[Any], dict[Any, Any]]) -> list[tuple[int, int]]:
        """:meth:`named_blocks` as latency-table terms (see
        :meth:`~archspace.cost.latency_table.LatencyTable.predict`): the stem, per stage its
        first layer and its other (equal) layers' sum, and the head. A layer's sum is kept in
        the table's ``memo`` under its parameters and input shape (a new one lowered once by
        ``part``)."""
        sums = memo("mnasnet-layer")
        terms, shape = part(_block_part, ((self.in_channels, resolution, resolution),), _STEM)
        out = [terms]
        for _, layers, stride, spec in self._stages(arch):
            for s, times in ((stride, 1), (1, layers - 1)):
                if times:
                    key = (spec, s, shape)
                    hit = sums.get(key)
                    if hit is None:
                        op, width, k, se, skip = spec
                        (ms, count), after = part(_block_part, (shape,),
                                                  _layer(op, width, k, s, se, skip))
                        hit = sums[key] = (ms, count, after)
                    out.append((hit[0] * times, hit[1] * times))
                    shape = hit[2]
        out.append(part(_head_part, (shape,), self.num_classes)[0])
        return out

    def diagram(self, arch: Arch) -> Diagram:
        return chain_diagram(self, arch)


_STEM = ConvBNAct(32, 3, 2, "relu")
_HEAD = ConvBNAct(1280, 1, 1, "relu")


def _block_part(g: Graph, x: Node, block: Block) -> Node:
    """``block`` lowered on ``x``, a latency-table piece."""
    return block.lower(g, x)


def _head_part(g: Graph, x: Node, num_classes: int) -> Node:
    """The head blocks of :meth:`MnasNetSpace.named_blocks` lowered on ``x``."""
    return ClassifierHead(num_classes, 0.2).lower(g, _HEAD.lower(g, x))


def _layer(op: str, out: int, k: int, stride: int, se: float, skip: bool) -> Block:
    if op == "conv":
        return MnasConv(out, k, stride, se, skip)
    expand = {"dconv": 1, "mbconv3": 3, "mbconv6": 6}[op]
    return MBConv(out, k, expand, stride, "relu", se, skip=skip)
