"""RegNetX: AnyNetX networks whose widths follow a quantized linear rule.

Radosavovic, Kosaraju, Girshick, He, Dollár, "Designing Network Design Spaces", CVPR 2020.

A RegNetX is fixed by its depth ``d``, initial width ``w0``, slope ``wa``, width multiplier
``wm`` and group width ``g`` (bottleneck ratio 1). pycls's ``generate_regnet`` turns them into
stages: block ``j`` gets the continuous width ``u_j = w0 + wa * j``, the exponent
``s_j = round(log(u_j / w0) / log(wm))`` and the width ``w0 * wm^s_j`` rounded to a multiple of
8; consecutive blocks of equal width form a stage (stride 2 at its first block). The network is
then built from the same stem, X blocks and head as :mod:`archspace.spaces.anynet`, after the
same width/group compatibility adjustment.

The continuous parameters are discretised on documented grids (constructor parameters):
``w0`` in {8, 16, ..., 256}, ``wa`` in {8, 12, ..., 64}, ``wm`` in {1.5, 1.6, ..., 3.0},
``d`` in 12..28 and ``g`` in {1, 2, 4, 8, 16, 32}. The default ``wa`` and ``wm`` grids also hold
the exact values of the published RegNetX-200MF, -400MF and -800MF, so these are points of the
space (named archs) rather than approximations. The slope grid stops at 64 (the published
RegNetX up to 4.0GF have slopes of 24 to 39) to keep the default networks to tens of millions
of parameters; pass ``was`` for steeper ones.

As in pycls's sweeps (``check_regnet_constraints``), an arch is valid only if no quantized
stage is empty (the number of distinct widths equals the largest exponent plus one) and it has
``stages`` stages (4, like every published RegNet; ``stages=0`` lifts both checks).
:meth:`RegNetSpace.size` counts the valid (w0, wa, wm, d) combinations exactly by running the
rule over the grid (cached per grid point); sampling rejects invalid combinations, which leaves
it uniform over the valid ones.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

from archspace.errors import ParamError
from archspace.ir.blocks import Block
from archspace.space import Arch, ChainSpace, Decision, Diagram
from archspace.space.decision import Value
from archspace.space.params import CHANNELS, Limit, count_up_to, limits
from archspace.spaces.anynet import (
    adjusted_stages,
    anynetx_blocks,
    anynetx_named_blocks,
    anynetx_terms,
    stages_diagram,
)

__all__ = ["PUBLISHED", "RegNetSpace", "generate_regnet"]

QUANT = 8

#: (w0, wa, wm, depth, group width) of pycls's RegNetX models with group widths in the grid.
PUBLISHED: dict[str, tuple[int, float, float, int, int]] = {
    "RegNetX-200MF": (24, 36.44, 2.49, 13, 8),
    "RegNetX-400MF": (24, 24.48, 2.54, 22, 16),
    "RegNetX-800MF": (56, 35.73, 2.28, 16, 16),
}

DEFAULT_W0 = tuple(range(8, 257, 8))
DEFAULT_WA = tuple(sorted({float(w) for w in range(8, 65, 4)} | {p[1] for p in PUBLISHED.values()}))
DEFAULT_WM = tuple(sorted({round(1.5 + 0.1 * k, 2) for k in range(16)}
                          | {p[2] for p in PUBLISHED.values()}))
DEFAULT_DEPTHS = tuple(range(12, 29))


def _exponent(j: int, w0: float, wa: float, wm: float) -> int:
    return round(math.log((j * wa + w0) / w0) / math.log(wm))


def _quantized(w0: float, wm: float, k: int) -> int:
    return round(w0 * wm ** float(k) / QUANT) * QUANT


def generate_regnet(w0: int, wa: float, wm: float, depth: int) -> tuple[list[int], list[int]]:
    """Per-stage widths and depths of a RegNet (pycls's ``generate_regnet``, q=8)."""
    log_wm = math.log(wm)  # _exponent's divisor, taken once (the same double)
    counts: dict[int, int] = {}  # blocks per width
    k_prev, w = None, 0
    for j in range(depth):
        k = round(math.log((j * wa + w0) / w0) / log_wm)
        if k != k_prev:  # a run of equal exponents has one width
            k_prev, w = k, _quantized(w0, wm, k)
        counts[w] = counts.get(w, 0) + 1
    ws = sorted(counts)
    return ws, [counts[w] for w in ws]


@functools.lru_cache(maxsize=1 << 17)
def _stage_profile(w0: int, wa: float, wm: float, dmax: int
                   ) -> tuple[tuple[int, int, int], ...]:
    """(number of stages, largest exponent + 1, width of its last block) of the RegNets of
    depth 1..dmax (the widths :func:`generate_regnet` gives block by block)."""
    out = []
    stages = 0
    prev = -1
    for j in range(dmax):
        k = _exponent(j, w0, wa, wm)
        w = _quantized(w0, wm, k)
        stages += w != prev  # widths never decrease along j
        prev = w
        out.append((stages, k + 1, w))  # exponents never decrease along j
    return tuple(out)


class RegNetSpace(ChainSpace):
    """RegNetX over a grid of (w0, wa, wm, depth, group width)."""

    name = "regnet"
    kind = "chain"
    paper = "Radosavovic et al. 2020, Designing Network Design Spaces (CVPR)"
    min_resolution = 32

    param_limits = limits(ChainSpace.param_limits, stages=Limit(0, 16), w0s=CHANNELS,
                          was=Limit(0, 10_000), wms=Limit(1, 100, open_low=True),
                          depths=count_up_to(128), group_widths=CHANNELS)

    def __init__(self, resolution: int = 224, num_classes: int = 1000, stages: int = 4,
                 w0s: tuple[int, ...] = DEFAULT_W0, was: tuple[float, ...] = DEFAULT_WA,
                 wms: tuple[float, ...] = DEFAULT_WM, depths: tuple[int, ...] = DEFAULT_DEPTHS,
                 group_widths: tuple[int, ...] = (1, 2, 4, 8, 16, 32)) -> None:
        self._record_params(resolution=resolution, num_classes=num_classes, stages=stages,
                            w0s=w0s, was=was, wms=wms, depths=depths, group_widths=group_widths)
        _check_grids(w0s, was, wms, depths)
        self.default_resolution = resolution
        self.num_classes = num_classes
        self.stages = stages
        self._set_decisions([
            Decision.of("w0", w0s, doc="initial width"),
            Decision.of("wa", was, doc="width slope"),
            Decision.of("wm", wms, doc="width multiplier"),
            Decision.of("d", depths, doc="depth (blocks)"),
            Decision.of("g", group_widths, doc="group width"),
        ])

    # -- constraint ------------------------------------------------------------------------
    def _widths_profile(self, w0: int, wa: float, wm: float, d: int
                        ) -> tuple[tuple[int, int, int], ...]:
        """:func:`_stage_profile` up to the space's largest depth (or ``d``, if larger)."""
        got = self.__dict__.get("_dmax")  # the largest depth, per decisions
        if got is None or got[0] is not self.decisions:
            got = self.__dict__["_dmax"] = (self.decisions,
                                            max(int(x) for x in self.decision("d").choices))
        dmax: int = got[1]
        return _stage_profile(w0, wa, wm, max(dmax, d))

    def _stage_check(self, w0: int, wa: float, wm: float, d: int) -> tuple[int, int]:
        num, total, _ = self._widths_profile(w0, wa, wm, d)[d - 1]
        return num, total

    def _violation(self, values: Sequence[Value | None]) -> str | None:
        if self.stages == 0:
            return None
        w0, wa, wm, d = values[0], values[1], values[2], values[3]
        num, total = self._stage_check(w0, wa, wm, d)  # type: ignore[arg-type]
        if num != total:
            return (f"w0={w0}, wa={wa}, wm={wm}, d={d} leave {total - num} of {total} "
                    "quantized stages empty")
        if num != self.stages:
            return f"w0={w0}, wa={wa}, wm={wm}, d={d} give {num} stages; the space allows {self.stages}"
        return None

    def size(self) -> int:
        w0s, was, wms, ds, gs = (d.choices for d in self.decisions)
        if self.stages == 0:
            return len(w0s) * len(was) * len(wms) * len(ds) * len(gs)
        dmax = max(int(x) for x in ds)
        valid = 0
        for w0 in w0s:
            for wa in was:
                for wm in wms:
                    prof = _stage_profile(w0, wa, wm, dmax)  # type: ignore[arg-type]
                    valid += sum(prof[int(d) - 1][:2] == (self.stages, self.stages)
                                 for d in ds)
        return valid * len(gs)

    # -- networks --------------------------------------------------------------------------
    def named_archs(self) -> dict[str, Arch]:
        out = {}
        for name, (w0, wa, wm, d, g) in PUBLISHED.items():
            values = {"w0": w0, "wa": wa, "wm": wm, "d": d, "g": g}
            members = all(v in self.decision(k).choices for k, v in values.items())
            if members and self._violation([w0, wa, wm, d, g]) is None:
                out[name] = self.make(values)
        return out

    def stage_specs(self, arch: Arch) -> list[tuple[int, int, int, int]]:
        """(depth, width, bottleneck ratio 1, group width) of each stage, before adjustment."""
        if arch.names == self.names:
            vals: tuple[Any, ...] = arch.values
            pos = self._pos
            w0, wa, wm = vals[pos["w0"]], vals[pos["wa"]], vals[pos["wm"]]
            depth, g = vals[pos["d"]], vals[pos["g"]]
        else:
            v: dict[str, Any] = dict(arch.items())
            w0, wa, wm, depth, g = v["w0"], v["wa"], v["wm"], v["d"], v["g"]
        if type(depth) is not int or depth < 1:
            ws, ds = generate_regnet(w0, wa, wm, depth)
        else:  # generate_regnet's widths, from the profile validation computed
            counts: dict[int, int] = {}
            for _, _, w in self._widths_profile(w0, wa, wm, depth)[:depth]:
                counts[w] = counts.get(w, 0) + 1
            ws = sorted(counts)
            ds = [counts[w] for w in ws]
        return [(d, w, 1, int(g)) for w, d in zip(ws, ds, strict=True)]

    def blocks(self, arch: Arch, resolution: int) -> list[Block]:
        return anynetx_blocks(self.stage_specs(arch), self.num_classes)

    def named_blocks(self, arch: Arch, resolution: int) -> list[tuple[str, Block]]:
        return anynetx_named_blocks(self.stage_specs(arch), self.num_classes)

    def latency_terms(self, arch: Arch, resolution: int, part: Callable[..., Any],
                      memo: Callable[[Any], dict[Any, Any]],
                      layer: Callable[[Any], int] | None = None) -> list[tuple[int, int]]:
        """:meth:`blocks` as latency-table terms (see
        :func:`~archspace.spaces.anynet.anynetx_terms`)."""
        return anynetx_terms(self.stage_specs(arch), self.num_classes,
                             (self.in_channels, resolution, resolution), part, memo, layer)

    def diagram(self, arch: Arch) -> Diagram:
        arch = self.validate(arch)
        stages = adjusted_stages(self.stage_specs(arch))
        title = f"{self.label}: RegNetX w0={arch['w0']} wa={arch['wa']} wm={arch['wm']} d={arch['d']}"
        return stages_diagram(title, stages, self.num_classes)


def _check_grids(w0s: tuple[int, ...], was: tuple[float, ...], wms: tuple[float, ...],
                 depths: tuple[int, ...]) -> None:
    if not w0s or any(w <= 0 or w % QUANT for w in w0s):
        raise ParamError(f"regnet w0s must be positive multiples of {QUANT}, got {w0s}")
    if not was or any(a < 0 for a in was):
        raise ParamError(f"regnet was must be >= 0, got {was}")
    if not wms or any(m <= 1 for m in wms):
        raise ParamError(f"regnet wms must be > 1, got {wms}")
    if not depths or any(d < 1 for d in depths):
        raise ParamError(f"regnet depths must be >= 1, got {depths}")
