"""MCUNet's TinyNAS design spaces: a family of MobileNetV2-like spaces.

Lin et al., "MCUNet: Tiny Deep Learning on IoT Devices", NeurIPS 2020, Sec. 3.1. TinyNAS first
picks a *search space* for the microcontroller, one member of a family indexed by a width
multiplier ``width`` (0.2 to 1.0 in steps of 0.1) and an input resolution ``resolution`` (48 to
224 in steps of 16), then searches inside it. Each member is the ProxylessNAS/Once-for-All
backbone MCUNet's code builds: a 3x3 stem to 32 and a fixed 3x3 MBConv1 to 16, five searched
stages of widths 24, 40, 80, 96, 192 (strides 2, 2, 2, 1, 2), one searched MBConv block to 320,
a 1x1 conv to 1280 (grown only for ``width > 1``) and a classifier; every width is scaled by
``width`` and rounded to a multiple of 8. Each searched stage has depth 2, 3 or 4 and each of
its blocks (and the 320 block) a kernel in {3, 5, 7} and an expand ratio in {3, 4, 5, 6}, so one
member holds ``(12^2 + 12^3 + 12^4)^5 * 12`` architectures. ``mix_layer=False`` drops the 1x1
head conv (the code's ``no_mix_layer`` option, which small MCUNet models use to save flash).

The released ImageNet networks of MCUNet's model zoo (mit-han-lab/mcunet, ``assets/configs/``,
commit a889f956, MIT licence) are named archs, ``mcunet-in0`` to ``mcunet-in4`` (see
:mod:`archspace.spaces.mcunet_zoo`); each is the paper's network in the member
:meth:`~archspace.space.Space.named_space` gives (its width and resolution, no mix layer).

:meth:`MCUNetSpace.family` builds a grid of members (the default grid is :data:`WIDTHS` x
:data:`RESOLUTIONS`, 108 spaces). Arch strings are compact: stages separated by ``/``, blocks
by ``-``, each block ``k<kernel>e<expand>``, the 320 block last, e.g.
``k3e4-k5e6/k7e3-k3e3-k5e6/k3e3-k3e3/k5e4-k5e4/k7e6-k7e6/k3e6``; the generic ``name=value`` form
is accepted too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from archspace.errors import ArchError, ParamError, SpaceError
from archspace.ir.blocks import Block, ClassifierHead, ConvBNAct, MBConv, make_divisible
from archspace.space import Arch, ChainSpace, Decision, Diagram
from archspace.space.params import WIDTH, limits
from archspace.spaces.mcunet_zoo import ZOO
from archspace.spaces.proxyless import _check_width, chain_diagram

__all__ = ["DEPTHS", "EXPANDS", "KERNELS", "LAST_WIDTH", "RESOLUTIONS", "RESOLUTION_STEP", "STAGES",
           "WIDTHS", "MCUNetSpace"]

#: The default grid of width multipliers and input resolutions (108 spaces).
WIDTHS = tuple(round(0.1 * k, 1) for k in range(2, 11))
RESOLUTIONS = tuple(range(48, 225, 16))
RESOLUTION_STEP = 16
MIN_RESOLUTION = 32
#: (width, first stride) of the five searched stages.
STAGES = ((24, 2), (40, 2), (80, 2), (96, 1), (192, 2))
#: Width of the last searched block (one block, stride 1).
LAST_WIDTH = 320
DEPTHS = (2, 3, 4)
KERNELS = (3, 5, 7)
EXPANDS = (3, 4, 5, 6)
_BLOCK = re.compile(r"k(\d+)e(\d+)")


class MCUNetSpace(ChainSpace):
    """One member of the TinyNAS family: per-stage depth, per-block kernel and expand ratio."""

    name = "mcunet"
    kind = "chain"
    paper = "Lin et al. 2020, MCUNet (NeurIPS)"
    min_resolution = MIN_RESOLUTION
    resolution_step = RESOLUTION_STEP

    param_limits = limits(ChainSpace.param_limits, width=WIDTH)

    def __init__(self, width: float = 1.0, resolution: int = 224, num_classes: int = 1000,
                 mix_layer: bool = True) -> None:
        self._record_params(width=width, resolution=resolution, num_classes=num_classes,
                            mix_layer=mix_layer)
        _check_width(self.name, width)
        if (isinstance(resolution, bool) or not isinstance(resolution, int)
                or resolution < MIN_RESOLUTION or resolution % RESOLUTION_STEP):
            raise SpaceError(f"space 'mcunet' cannot take resolution {resolution!r}; allowed: "
                             f"multiples of {RESOLUTION_STEP} >= {MIN_RESOLUTION} (the default grid "
                             f"is {RESOLUTIONS[0]} to {RESOLUTIONS[-1]})")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ParamError(f"parameter num_classes={num_classes!r} of space 'mcunet' must be "
                             "an integer >= 1")
        self.width = width
        self.num_classes = num_classes
        self.default_resolution = resolution
        stem, first = make_divisible(32 * width), make_divisible(16 * width)
        self._stem: tuple[Block, ...] = (ConvBNAct(stem, 3, 2), MBConv(first, 3, 1, 1))
        head = make_divisible(1280 * width) if width > 1.0 else 1280
        self._last = {(k, e): MBConv(make_divisible(LAST_WIDTH * width), k, e, 1)
                      for k in KERNELS for e in EXPANDS}
        self._tail: tuple[Block, ...] = (
            *((ConvBNAct(head, 1, 1),) if mix_layer else ()),
            ClassifierHead(num_classes, 0.1))
        self._table = [
            [{(k, e): MBConv(make_divisible(w * width), k, e, s if j == 0 else 1)
              for k in KERNELS for e in EXPANDS} for j in range(max(DEPTHS))]
            for w, s in STAGES]
        decisions = []
        for i in range(1, len(STAGES) + 1):
            decisions.append(Decision.of(f"s{i}.d", DEPTHS, doc="stage depth"))
            for j in range(max(DEPTHS)):
                when = None if j < min(DEPTHS) else (f"s{i}.d", [d for d in DEPTHS if d > j])
                decisions.append(Decision.of(f"s{i}.b{j}.k", KERNELS, when, doc="depthwise kernel"))
                decisions.append(Decision.of(f"s{i}.b{j}.e", EXPANDS, when, doc="expand ratio"))
        last = len(STAGES) + 1
        decisions.append(Decision.of(f"s{last}.k", KERNELS, doc="depthwise kernel of the last block"))
        decisions.append(Decision.of(f"s{last}.e", EXPANDS, doc="expand ratio of the last block"))
        self._set_decisions(decisions)

    @classmethod
    def family(cls, widths: Iterable[float] = WIDTHS, resolutions: Iterable[int] = RESOLUTIONS,
               **params: Any) -> list[MCUNetSpace]:
        """Every member of the grid ``widths`` x ``resolutions`` (width-major order); ``params``
        go to every member (e.g. ``num_classes``); a ``width`` or ``resolution`` among them
        fixes that axis of the grid to the one value."""
        if "width" in params:
            widths = (params.pop("width"),)
        if "resolution" in params:
            resolutions = (params.pop("resolution"),)
        res = tuple(resolutions)
        return [cls(width=w, resolution=r, **params) for w in widths for r in res]

    # -- named archs: MCUNet's model zoo --------------------------------------------------
    def named_archs(self) -> dict[str, Arch]:
        """MCUNet's released ImageNet networks (``mcunet-in0`` to ``mcunet-in4``)."""
        return {name: self.parse_arch(net.arch) for name, net in ZOO.items()}

    def named_params(self, name: str) -> dict[str, Any]:
        """The member where ``name`` is the released network: its width and resolution, and
        no mix layer (the zoo's networks have none)."""
        self.named(name)
        net = ZOO[name]
        return {"width": net.width, "resolution": net.resolution, "mix_layer": False}

    # -- compact arch strings --------------------------------------------------------------
    def format_arch(self, arch: Arch) -> str:
        """Stages joined by ``/``, blocks by ``-``, the last block last:
        ``k3e4-k5e6/k7e3-k3e3-k5e6/.../k3e6``."""
        v = dict(arch.items())
        last = len(STAGES) + 1
        return "/".join([*("-".join(f"k{v[f's{i}.b{j}.k']}e{v[f's{i}.b{j}.e']}"
                                    for j in range(int(v[f"s{i}.d"])))  # type: ignore[arg-type]
                           for i in range(1, last)), f"k{v[f's{last}.k']}e{v[f's{last}.e']}"])

    def parse_arch(self, text: str) -> Arch:
        """Inverse of :meth:`format_arch` (``name=value`` strings are also accepted)."""
        if "=" in text:
            return super().parse_arch(text)
        stages = text.strip().split("/")
        if len(stages) != len(STAGES) + 1:
            raise ArchError(f"mcunet arch {text!r} has {len(stages)} stages; expected "
                            f"{self.arch_format_hint()}")
        values: dict[str, int] = {}
        for i, stage in enumerate(stages, 1):
            blocks = stage.split("-")
            if i > len(STAGES):
                if len(blocks) != 1:
                    raise ArchError(f"mcunet arch's last stage has {len(blocks)} blocks; "
                                    "allowed: 1")
            elif len(blocks) > max(DEPTHS):
                raise ArchError(f"mcunet arch stage {i} has {len(blocks)} blocks; allowed: "
                                f"{self.decision(f's{i}.d').describe()}")
            else:
                values[f"s{i}.d"] = len(blocks)
            for j, b in enumerate(blocks):
                m = _BLOCK.fullmatch(b.strip())
                if m is None:
                    raise ArchError(f"mcunet arch block {b!r} (stage {i}) is malformed; expected "
                                    f"{self.arch_format_hint()}")
                key = f"s{i}" if i > len(STAGES) else f"s{i}.b{j}"
                values[f"{key}.k"], values[f"{key}.e"] = int(m[1]), int(m[2])
        return self.make(values)

    def arch_format_hint(self) -> str:
        return (f"{len(STAGES)} stages joined by '/', each {min(DEPTHS)}-{max(DEPTHS)} blocks "
                f"kKeE joined by '-' (K in {', '.join(map(str, KERNELS))}; E in "
                f"{', '.join(map(str, EXPANDS))}), then '/' and the last block kKeE, e.g. "
                "k3e4-k5e6/k7e3-k3e3-k5e6/k3e3-k3e3/k5e4-k5e4/k7e6-k7e6/k3e6")

    # -- network ---------------------------------------------------------------------------
    def blocks(self, arch: Arch, resolution: int) -> list[Block]:
        return [b for _, b in self.named_blocks(arch, resolution)]

    def named_blocks(self, arch: Arch, resolution: int) -> list[tuple[str, Block]]:
        """Stem ``b0``, ``b1``; stage blocks by position, ``s<i>.b<j>``; the last block ``s6``;
        the head ``head0``, ``head1``: a block's name never depends on earlier depths."""
        vals = arch.values
        out = [(f"b{k}", b) for k, b in enumerate(self._stem)]
        pos = 0
        for i, table in enumerate(self._table, 1):
            depth = vals[pos]
            for j in range(depth):  # type: ignore[arg-type]
                out.append((f"s{i}.b{j}",
                            table[j][vals[pos + 1 + 2 * j], vals[pos + 2 + 2 * j]]))  # type: ignore[index]
            pos += 1 + 2 * len(table)
        out.append((f"s{len(self._table) + 1}", self._last[vals[pos], vals[pos + 1]]))  # type: ignore[index]
        out += [(f"head{k}", b) for k, b in enumerate(self._tail)]
        return out

    def diagram(self, arch: Arch) -> Diagram:
        return chain_diagram(self, arch)

