"""Fast profiling of chain-structured networks by caching the cost of each distinct block.

A chain network is a sequence of blocks where only the running tensor crosses a block boundary.
Its parameters, MACs and flash are sums over blocks and its peak memory is the largest peak of any
block (each block's peak counts its own input and output). Each distinct (block, input shape) is
lowered to the IR once and profiled with :func:`~archspace.cost.profile.profile_graph`, so the
fast path and a full-graph profile give identical numbers (tests check this).
"""

from __future__ import annotations

from collections.abc import Iterable

from archspace.cost.profile import Profile, profile_graph
from archspace.ir.blocks import Block
from archspace.ir.graph import Graph

__all__ = ["ChainProfiler"]

_Seg = tuple[int, int, int, int, tuple[int, ...]]


class ChainProfiler:
    """Profiles chains of :class:`~archspace.ir.blocks.Block` with a per-block cache."""

    def __init__(self, act_bytes: int = 1) -> None:
        self.act_bytes = act_bytes
        self._cache: dict[tuple[Block, tuple[int, ...]], _Seg] = {}

    def _segment(self, block: Block, shape: tuple[int, ...]) -> _Seg:
        g = Graph()
        block.lower(g, g.input(shape))
        p = profile_graph(g, self.act_bytes)
        seg = (p.params, p.macs, p.peak_sram_bytes, p.flash_bytes, p.output_shape)
        self._cache[(block, shape)] = seg
        return seg

    def profile(self, input_shape: tuple[int, ...], blocks: Iterable[Block]) -> Profile:
        """Profile of the chain ``blocks`` applied to an input of ``input_shape``."""
        cache = self._cache
        shape = input_shape
        params = macs = flash = peak = 0
        for block in blocks:
            seg = cache.get((block, shape)) or self._segment(block, shape)
            params += seg[0]
            macs += seg[1]
            peak = max(peak, seg[2])
            flash += seg[3]
            shape = seg[4]
        return Profile(params, macs, peak, flash, input_shape, shape)
