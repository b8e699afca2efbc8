"""MobileNetV2 chain-structured space.

Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018.
The network is MobileNetV2's: a 3x3 stem, seven stages of inverted-residual blocks, a 1x1 conv to
1280 channels and a linear classifier. Each searchable block (all but the first, fixed expand-1
block) picks its depthwise kernel in {3, 5, 7} and its expand ratio in {3, 6}, the per-block
choices ProxylessNAS searches. ``width`` scales every stage (rounded to multiples of 8). The
reference MobileNetV2 (every block k3, e6) is the named arch ``mobilenetv2``.
"""

from __future__ import annotations

from archspace.ir.blocks import Block, ClassifierHead, ConvBNAct, MBConv, make_divisible
from archspace.space import Arch, ChainSpace, Decision, Diagram
from archspace.space.params import KERNELS, WIDTH, Limit, limits
from archspace.spaces.proxyless import chain_diagram

__all__ = ["STAGES", "MobileNetV2Space"]

#: (expand ratio, channels, blocks, first stride) of MobileNetV2's seven stages.
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
          (6, 160, 3, 2), (6, 320, 1, 1))


class MobileNetV2Space(ChainSpace):
    """Per-block kernel x expand ratio over the MobileNetV2 backbone."""

    name = "mobilenetv2"
    kind = "chain"
    paper = "Sandler et al. 2018, MobileNetV2 (CVPR)"
    min_resolution = 32

    param_limits = limits(ChainSpace.param_limits, width=WIDTH, kernels=KERNELS,
                          expands=Limit(1, 32))

    def __init__(self, width: float = 1.0, resolution: int = 224, num_classes: int = 1000,
                 kernels: tuple[int, ...] = (3, 5, 7), expands: tuple[int, ...] = (3, 6)) -> None:
        self._record_params(width=width, resolution=resolution, num_classes=num_classes,
                            kernels=kernels, expands=expands)
        self.width = width
        self.default_resolution = resolution
        self.num_classes = num_classes
        self._layout = self._stage_layout()
        decisions = []
        for i, (_, _, _, searchable) in enumerate(self._layout):
            if searchable:
                decisions.append(Decision.of(f"b{i}.k", kernels, doc="depthwise kernel"))
                decisions.append(Decision.of(f"b{i}.e", expands, doc="expand ratio"))
        self._set_decisions(decisions)

    def _stage_layout(self) -> list[tuple[int, int, int, bool]]:
        """(stage, out channels, stride, searchable) of every inverted-residual block."""
        layout = []
        for s, (t, c, n, stride) in enumerate(STAGES):
            out = make_divisible(c * self.width)
            for j in range(n):
                layout.append((s, out, stride if j == 0 else 1, t != 1))
        return layout

    def named_archs(self) -> dict[str, Arch]:
        ref = {n: (3 if n.endswith(".k") else 6) for n in self.names}
        if not all(ref[n] in self.decision(n).choices for n in self.names):
            return {}
        return {"mobilenetv2": self.make(ref)}

    def blocks(self, arch: Arch, resolution: int) -> list[Block]:
        stem = make_divisible(32 * self.width)
        last = make_divisible(1280 * max(1.0, self.width))
        out: list[Block] = [ConvBNAct(stem, 3, 2)]
        vals = dict(arch.items())
        for i, (_, ch, stride, searchable) in enumerate(self._layout):
            if searchable:
                out.append(MBConv(ch, int(vals[f"b{i}.k"]), vals[f"b{i}.e"], stride))  # type: ignore[arg-type]
            else:
                out.append(MBConv(ch, 3, 1, stride))
        out += [ConvBNAct(last, 1, 1), ClassifierHead(self.num_classes, 0.2)]
        return out

    def diagram(self, arch: Arch) -> Diagram:
        """The chain as short-labelled blocks coloured by op (``MB6 k3``), as MCUNet's."""
        return chain_diagram(self, arch)
