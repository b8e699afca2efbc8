"""A user-defined search space: a small inverted-residual chain for 8-32 px inputs.

Variable depth (2 to 4 blocks; blocks past the depth have no decisions) and a coupled choice
(squeeze-and-excitation is searched only for blocks that expand their input). The catalog's
spaces are written the same way; see ``archspace.spaces.mobilenetv2`` for a full one.

    archspace size examples.tinynet:TinyNet
    archspace sample examples.tinynet:TinyNet -n 3 --seed 0
    archspace search --space examples.tinynet:TinyNet --estimator train -e dataset=digits ...

Run those from the repository root (or put this file's directory on PYTHONPATH).
"""

from __future__ import annotations

from archspace import Arch, ChainSpace, Decision
from archspace.ir.blocks import Block, ClassifierHead, ConvBNAct, MBConv


class TinyNet(ChainSpace):
    """Stem, 2-4 MBConv blocks (kernel, expand ratio, optional SE), classifier."""

    name = "tinynet"
    kind = "chain"
    min_resolution = 8

    def __init__(self, width: int = 16, num_classes: int = 10, resolution: int = 32) -> None:
        self._record_params(width=width, num_classes=num_classes, resolution=resolution)
        self.width, self.num_classes = width, num_classes
        self.default_resolution = self.check_resolution(resolution)
        decisions = [Decision.of("depth", (2, 3, 4))]
        for b in range(4):
            when = None if b < 2 else ("depth", range(b + 1, 5))  # exists only if depth > b
            decisions += [
                Decision.of(f"b{b}.kernel", (3, 5), when),
                Decision.of(f"b{b}.expand", (1, 3, 6), when),
                Decision.of(f"b{b}.se", ("no", "yes"), (f"b{b}.expand", (3, 6))),
            ]
        self._set_decisions(decisions)

    def blocks(self, arch: Arch, resolution: int) -> list[Block]:
        chain: list[Block] = [ConvBNAct(self.width, 3, 1)]
        for b in range(int(arch["depth"])):  # type: ignore[arg-type]
            chain.append(MBConv(self.width * (1 + b // 2), int(arch[f"b{b}.kernel"]),  # type: ignore[arg-type]
                                float(arch[f"b{b}.expand"]), stride=2 if b % 2 else 1,  # type: ignore[arg-type]
                                se_ratio=0.25 if arch[f"b{b}.se"] == "yes" else 0.0))
        return [*chain, ClassifierHead(self.num_classes)]
