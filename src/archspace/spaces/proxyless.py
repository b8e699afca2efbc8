"""ProxylessNAS's mobile search space.

Cai, Zhu and Han, "ProxylessNAS: Direct Neural Architecture Search on Target Task and Hardware",
ICLR 2019. The backbone is the one of the paper's ImageNet search (its code's defaults): a 3x3 stem
to 32 channels, a fixed 3x3 MBConv1 to 16, six stages of widths 24, 40, 80, 96, 192, 320 with
4, 4, 4, 4, 4, 1 blocks and first strides 2, 2, 2, 1, 2, 1, a 1x1 conv to 1280 and a classifier.
Every searchable block picks one of six MBConv candidates (kernel 3, 5 or 7 x expand ratio 3 or
6) or, where the block has an identity shortcut (stride 1, same width in and out: every block but
the first of a stage), ``zero``, which skips the block.

``width`` scales every width (rounded to multiples of 8; the 1280 head only grows, as in the
paper's code). ``stage_widths`` replaces the six stage widths: the released ProxylessNAS-Mobile
network widens the first searched stage from 24 to 32, so it is exactly the named arch
``proxylessnas-mobile`` at ``stage_widths=(32, 40, 80, 96, 192, 320)`` (4,080,512 parameters,
320.4M MACs, the paper's 4.1M and 320M); at the default widths the same choices give 4,073,520
parameters and 304.2M MACs. The GPU and CPU networks also change the stem, first block and head
widths (40, 24, 1728/1432), so they are not points of this backbone.
"""

from __future__ import annotations

import itertools

from archspace.errors import ArchError, ParamError
from archspace.ir.blocks import Block, ClassifierHead, ConvBNAct, MBConv, make_divisible
from archspace.space import Arch, ChainSpace, Decision, Diagram, DiagramEdge, DiagramNode
from archspace.space.params import CHANNELS, WIDTH, limits

__all__ = ["CANDIDATES", "MOBILE", "STAGES", "STAGE_WIDTHS", "ProxylessSpace", "block_label", "chain_diagram"]

#: (width, blocks, first stride) of the six searched stages.
STAGES = ((24, 4, 2), (40, 4, 2), (80, 4, 2), (96, 4, 1), (192, 4, 2), (320, 1, 1))
STAGE_WIDTHS = tuple(w for w, _, _ in STAGES)
#: The MBConv candidates, ``k<kernel>e<expand>``, in the paper's order.
CANDIDATES = ("k3e3", "k3e6", "k5e3", "k5e6", "k7e3", "k7e6")
#: ProxylessNAS-Mobile (the released ``proxyless_mobile`` network), stage by stage.
MOBILE = (("k5e3", "k3e3", "zero", "zero"), ("k7e3", "k3e3", "k5e3", "k5e3"),
          ("k7e6", "k5e3", "k5e3", "k5e3"), ("k5e6", "k5e3", "k5e3", "k5e3"),
          ("k7e6", "k7e6", "k7e3", "k7e3"), ("k7e6",))


class ProxylessSpace(ChainSpace):
    """One op (six MBConvs or ``zero``) per block of ProxylessNAS's mobile backbone."""

    name = "proxyless"
    kind = "chain"
    paper = "Cai et al. 2019, ProxylessNAS (ICLR)"
    min_resolution = 32

    param_limits = limits(ChainSpace.param_limits, width=WIDTH, stage_widths=CHANNELS)

    def __init__(self, width: float = 1.0, resolution: int = 224, num_classes: int = 1000,
                 stage_widths: tuple[int, ...] = STAGE_WIDTHS) -> None:
        self._record_params(width=width, resolution=resolution, num_classes=num_classes,
                            stage_widths=stage_widths)
        _check_width(self.name, width)
        if (len(stage_widths) != len(STAGES)
                or not all(isinstance(w, int) and w > 0 for w in stage_widths)):
            raise ParamError(f"parameter stage_widths={stage_widths!r} of space 'proxyless' must be "
                             f"{len(STAGES)} positive integers (default {STAGE_WIDTHS})")
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ParamError(f"parameter num_classes={num_classes!r} of space 'proxyless' must be "
                             "an integer >= 1")
        self.width = width
        self.num_classes = num_classes
        self.default_resolution = self.check_resolution(resolution)
        stem, first = make_divisible(32 * width), make_divisible(16 * width)
        head = make_divisible(1280 * width) if width > 1.0 else 1280
        self._stem: list[Block] = [ConvBNAct(stem, 3, 2), MBConv(first, 3, 1, 1)]
        self._tail: list[Block] = [ConvBNAct(head, 1, 1), ClassifierHead(num_classes)]
        self._table: list[dict[str, Block | None]] = []
        decisions = []
        in_ch = first
        for s, ((_, n, stride), base) in enumerate(zip(STAGES, stage_widths, strict=True), 1):
            out = make_divisible(base * width)
            for j in range(n):
                st = stride if j == 0 else 1
                ops = {c: MBConv(out, int(c[1]), int(c[3]), st) for c in CANDIDATES}
                choices = [*CANDIDATES, "zero"] if st == 1 and in_ch == out else list(CANDIDATES)
                decisions.append(Decision.of(f"s{s}.b{j}", choices,
                                             doc="MBConv kernel and expand ratio, or zero (skip)"))
                self._table.append({**ops, "zero": None})
                in_ch = out
        self._set_decisions(decisions)

    def named_archs(self) -> dict[str, Arch]:
        values = dict(zip(self.names, itertools.chain.from_iterable(MOBILE), strict=True))
        try:
            return {"proxylessnas-mobile": self.make(values)}
        except ArchError:  # a restricted sub-space without some of its choices
            return {}

    def blocks(self, arch: Arch, resolution: int) -> list[Block]:
        return [b for _, b in self.named_blocks(arch, resolution)]

    def named_blocks(self, arch: Arch, resolution: int) -> list[tuple[str, Block]]:
        """Stem ``b0``, ``b1``; each searched block by its decision (``s1.b2``), so a ``zero``
        block shifts no name; the head ``head0``, ``head1``."""
        mids = [(n, b) for n, t, v in zip(self.names, self._table, arch.values, strict=True)
                if (b := t[v]) is not None]  # type: ignore[index]
        return [*((f"b{k}", b) for k, b in enumerate(self._stem)), *mids,
                *((f"head{k}", b) for k, b in enumerate(self._tail))]

    def diagram(self, arch: Arch) -> Diagram:
        return chain_diagram(self, arch)


def _check_width(space: str, width: float) -> None:
    if isinstance(width, bool) or not isinstance(width, int | float) or not width > 0:
        raise ParamError(f"parameter width={width!r} of space {space!r} must be a number > 0 "
                         "(a multiplier of every channel count)")


def block_label(block: Block) -> str:
    """A short label for a chain block: ``MB6 k5``, ``Conv 3x3``, ``FC`` and its output."""
    if isinstance(block, MBConv):
        expand = int(block.expand) if float(block.expand).is_integer() else block.expand
        head = f"MB{expand} k{block.kernel}" + (" SE" if block.se_ratio else "")
        return f"{head}\n{block.out_ch}" + (f" s{block.stride}" if block.stride > 1 else "")
    if isinstance(block, ConvBNAct):
        return (f"Conv {block.kernel}x{block.kernel}\n{block.out_ch}"
                + (f" s{block.stride}" if block.stride > 1 else ""))
    if isinstance(block, ClassifierHead):
        return f"Pool, FC\n{block.num_classes}"
    describe = getattr(block, "describe", None)
    return describe() if callable(describe) else type(block).__name__


def chain_diagram(space: ChainSpace, arch: Arch) -> Diagram:
    """The chain of ``arch`` as a strip of short-labelled blocks, coloured by op (``MB6``...)."""
    arch = space.validate(arch)
    labels = [block_label(b) for b in space.blocks(arch, space.default_resolution)]
    nodes = tuple(DiagramNode(f"b{k}", text, group=text.split()[0].rstrip(","))
                  for k, text in enumerate(labels))
    edges = tuple(DiagramEdge(a.id, b.id) for a, b in itertools.pairwise(nodes))
    return Diagram("strip", space.label, nodes, edges)
