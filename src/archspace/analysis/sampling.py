"""Uniform samples of a space and their analytic costs, fast enough for large grids of spaces.

TinyNAS-style studies (Lin et al., "MCUNet: Tiny Deep Learning on IoT Devices", NeurIPS 2020)
profile a thousand random models in each of a hundred spaces. The generic path draws archs with
``space.sample`` and calls ``space.profile`` on each. Chain spaces (the stock sampler and chain
profiler, no cross-decision constraints) get a factorised path instead, built on a *slot*
model of their block chains:

1. *slots*: take a base arch in which every decision is active (for a stage-depth decision, the
   value that activates all its blocks) and call each of its blocks a slot;
2. *probe*: change one decision at a time (keeping all active) and record which slots change;
   a slot depends on those decisions and exists in an arch when all of them are active. No
   probe may change the number of blocks or any block's input shape;
3. *tabulate*: encode each sampled arch's choice indices per slot as a mixed-radix code; the
   cost of slot ``k`` for code ``c`` comes from a real ``space.blocks`` call, which also
   re-checks every slot of that arch against the model (count, input shapes, known entries);
4. *sum*: params, MACs and flash are sums over existing slots, peak SRAM their maximum (the
   chain rule of :mod:`archspace.cost.chain`), as numpy array operations;
5. *check*: a few sampled archs are profiled from their full block chain; any disagreement (a
   dependency the probe missed) discards the tables and falls back to the generic path.

Sampling draws every decision's index independently and clears the inactive ones, which is the
distribution ``space.sample`` draws. Both paths give the costs ``space.profile`` gives; the tests
compare them arch by arch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from archspace.cost.chain import ChainProfiler
from archspace.cost.profile import Profile
from archspace.cost.tinyengine import check_memory_model
from archspace.space import Arch, ChainSpace, Space
from archspace.space.base import Space as _BaseSpace

__all__ = ["COST_KEYS", "CostSample", "SegmentCache", "sample_costs"]

#: The cost arrays of a sample, named as :class:`~archspace.cost.Profile`'s fields.
COST_KEYS = ("params", "macs", "peak_sram_bytes", "flash_bytes")
_CHECKS = 8

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]



@dataclass(frozen=True)
class CostSample:
    """Costs of ``n`` archs drawn uniformly from one space (``path``: how they were computed)."""

    params: IntArray
    macs: IntArray
    peak_sram_bytes: IntArray
    flash_bytes: IntArray
    path: str
    #: Predicted latency (ms) of each arch, when sampled with a latency table.
    latency_ms: npt.NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return len(self.macs)

    def as_dict(self) -> dict[str, Any]:
        """The four arrays by :data:`COST_KEYS` name (what constraints read), and
        ``latency_ms`` when predicted."""
        out = {k: getattr(self, k) for k in COST_KEYS}
        if self.latency_ms is not None:
            out["latency_ms"] = self.latency_ms
        return out


class SegmentCache:
    """The profile of each (block, input shape) met so far; share one among the spaces of a
    study (spaces of a family have blocks in common)."""

    def __init__(self) -> None:
        self.profiler = ChainProfiler()
        self._segments: dict[tuple[Any, tuple[int, ...]], Profile] = {}

    def segment(self, block: Any, shape: tuple[int, ...]) -> Profile:
        """The profile of ``block`` applied to an input of ``shape``."""
        seg = self._segments.get((block, shape))
        if seg is None:
            seg = self._segments[(block, shape)] = self.profiler.profile(shape, [block])
        return seg


class _Unfactorisable(Exception):
    """The space's blocks do not follow the slot model the fast path needs."""


def sample_costs(space: Space, n: int, seed: int, cache: SegmentCache | None = None,
                 memory_model: str = "mcunet", latency: Any = None) -> CostSample:
    """Costs of ``n`` archs drawn uniformly (per active decision, as ``space.sample`` draws)
    from ``space`` at its default resolution, reproducible from ``seed``. ``cache`` (a dict
    shared by the spaces of one study) keeps the cost of each (block, input shape) profiled.

    With ``memory_model="tinyengine"`` the same archs are drawn, and each one's peak SRAM and
    flash are TinyEngine's, from its whole network (TinyEngine places tensors over the whole
    schedule, so they do not factorise over blocks; about a millisecond per arch).

    With ``latency`` (a :class:`~archspace.cost.latency_table.LatencyTable`) the sample also
    holds each arch's predicted latency (``latency_ms``)."""
    check_memory_model(memory_model)
    if _factorable(space):
        try:
            fact = _Factorised(space, np.random.default_rng(seed), cache)  # type: ignore[arg-type]
            if memory_model == "mcunet" and latency is None:
                return fact.sample(n)
            return fact.sample_engine(n, memory_model, latency)
        except _Unfactorisable:
            pass
    return _generic(space, n, seed, memory_model, latency)


def _generic(space: Space, n: int, seed: int, memory_model: str = "mcunet",
             latency: Any = None) -> CostSample:
    rng = random.Random(seed)
    extra: dict[str, Any] = {} if memory_model == "mcunet" else {"memory_model": memory_model}
    archs = [space.sample(rng) for _ in range(n)]
    profiles = [space.profile(a, **extra) for a in archs]
    cols = {k: np.fromiter((getattr(p, k) for p in profiles), np.int64, n) for k in COST_KEYS}
    lat = None if latency is None else np.array([latency.predict(space, a) for a in archs], float)
    return CostSample(**cols, path="generic", latency_ms=lat)


def _factorable(space: Space) -> bool:
    """Chain spaces with the stock sampler and profiler and no cross-decision constraints."""
    cls = type(space)
    return (isinstance(space, ChainSpace) and cls.sample is _BaseSpace.sample
            and cls._violation is _BaseSpace._violation and cls.profile is ChainSpace.profile)


class _Factorised:
    """The slot model of one chain space at its default resolution."""

    def __init__(self, space: ChainSpace, rng: np.random.Generator,
                 segments: SegmentCache | None = None,
                 base: list[int] | None = None) -> None:
        self.space = space
        self.rng = rng
        self.r = space.check_resolution(None)
        self.shape0: tuple[int, ...] = (space.in_channels, self.r, self.r)
        self.cache = SegmentCache() if segments is None else segments
        self._segment = self.cache.segment
        self.choices = [d.choices for d in space.decisions]
        self.radix = [len(c) for c in self.choices]
        self._conditions()
        base = base if base is not None else self._all_active_base()
        self.slots, self.slot_shapes = self._blocks(base, [True] * len(base))
        self.slot_out = [*self.slot_shapes[1:], self._segment(self.slots[-1], self.slot_shapes[-1])
                         .output_shape] if self.slots else []
        self.deps = self._probe(base)
        self.tables: list[dict[int, tuple[int, int, int, int]]] = [{} for _ in self.slots]
        self.known: list[dict[int, Any]] = [{} for _ in self.slots]

    # -- the decisions' conditions ---------------------------------------------------------
    def _conditions(self) -> None:
        """``cond[i]``: (parent position, parent choice indices that activate i) or None."""
        names = self.space.names
        self.cond: list[tuple[int, BoolArray] | None] = []
        for d in self.space.decisions:
            if d.when is None:
                self.cond.append(None)
                continue
            p = names.index(d.when[0])
            self.cond.append((p, np.array([c in d.when[1] for c in self.space.decisions[p].choices])))
        # choices that keep every decision active (a depth activating all its blocks)
        self.allowed = [np.ones(k, dtype=bool) for k in self.radix]
        for c in self.cond:
            if c is not None:
                self.allowed[c[0]] &= c[1]

    def _all_active_base(self) -> list[int]:
        if not all(a.any() for a in self.allowed):
            raise _Unfactorisable
        return [int(self.rng.choice(np.flatnonzero(a))) for a in self.allowed]

    def _active(self, idx: IntArray) -> BoolArray:
        """(n, decisions) mask of active decisions, in decision order."""
        act = np.ones(idx.shape, dtype=bool)
        for i, c in enumerate(self.cond):
            if c is not None:
                act[:, i] = act[:, c[0]] & c[1][idx[:, c[0]]]
        return act

    # -- blocks and their costs -------------------------------------------------------------
    def _arch(self, idx: list[int], act: list[bool]) -> Arch:
        return Arch(self.space.names, tuple(ch[i] if a else None
                                            for ch, i, a in zip(self.choices, idx, act, strict=True)))

    def _blocks(self, idx: list[int], act: list[bool]) -> tuple[list[Any], list[tuple[int, ...]]]:
        blocks = self.space.blocks(self._arch(idx, act), self.r)
        shapes: list[tuple[int, ...]] = []
        shape = self.shape0
        for b in blocks:
            shapes.append(shape)
            shape = self._segment(b, shape).output_shape
        return blocks, shapes

    def _probe(self, base: list[int]) -> list[list[int]]:
        """Each slot's decisions: those whose change (all else as in ``base``) changes it."""
        deps: list[set[int]] = [set() for _ in self.slots]
        values = list(self._arch(base, [True] * len(base)).values)
        names = self.space.names
        for i in range(len(base)):
            for c in np.flatnonzero(self.allowed[i]).tolist():
                if c == base[i]:
                    continue
                changed = values.copy()
                changed[i] = self.choices[i][c]
                blocks = self.space.blocks(Arch(names, tuple(changed)), self.r)
                if len(blocks) != len(self.slots):
                    raise _Unfactorisable
                for k, (a, b) in enumerate(zip(blocks, self.slots, strict=True)):
                    if a is not b and a != b:
                        shape = self.slot_shapes[k]
                        if self._segment(a, shape).output_shape != self._segment(b, shape).output_shape:
                            raise _Unfactorisable
                        deps[k].add(i)
        return [sorted(d) for d in deps]

    # -- tables -----------------------------------------------------------------------------
    def _codes(self, idx: IntArray, act: BoolArray) -> tuple[IntArray, BoolArray]:
        """(slots, n) mixed-radix codes of each slot's decisions, and which slots exist."""
        n = idx.shape[0]
        codes = np.zeros((len(self.deps), n), np.int64)
        exists = np.ones((len(self.deps), n), dtype=bool)
        for k, dep in enumerate(self.deps):
            for i in dep:
                codes[k] = codes[k] * self.radix[i] + idx[:, i]
                exists[k] &= act[:, i]
        return codes, exists

    def _fill(self, row: list[int], act: list[bool], codes: list[int], exists: list[bool]) -> None:
        """Tabulate every slot of one arch, checking it against the slot model: as many blocks
        as present slots, each new block keeping its slot's output shape, known ones equal, and
        every present slot fed the shape it was probed with."""
        blocks = self.space.blocks(self._arch(row, act), self.r)
        present = [k for k, e in enumerate(exists) if e]
        if len(blocks) != len(present):
            raise _Unfactorisable
        feed = self.shape0
        for k, b in zip(present, blocks, strict=True):
            shape = self.slot_shapes[k]
            if feed != shape:
                raise _Unfactorisable
            feed = self.slot_out[k]
            seen = self.known[k].get(codes[k])
            if seen is None:
                p = self._segment(b, shape)
                if p.output_shape != feed:
                    raise _Unfactorisable
                self.known[k][codes[k]] = b
                self.tables[k][codes[k]] = (p.params, p.macs, p.peak_sram_bytes, p.flash_bytes)
            elif seen is not b and seen != b:
                raise _Unfactorisable
        if feed != self.slot_out[-1]:
            raise _Unfactorisable

    def _cover(self, idx: IntArray, act: BoolArray, codes: IntArray, exists: BoolArray) -> None:
        """Fill the tables from the first row showing each (slot, code) the sample uses."""
        rows: set[int] = set()
        for k in range(len(self.slots)):
            where = np.flatnonzero(exists[k])
            _, first = np.unique(codes[k][where], return_index=True)
            rows.update(where[first].tolist())
        for j in sorted(rows):
            col, ex = codes[:, j].tolist(), exists[:, j].tolist()
            if any(e and c not in known for c, e, known in zip(col, ex, self.known, strict=True)):
                self._fill(idx[j].tolist(), act[j].tolist(), col, ex)

    def sample(self, n: int) -> CostSample:
        """Costs of ``n`` archs drawn uniformly."""
        return self.costs(np.stack([self.rng.integers(k, size=n) for k in self.radix], axis=1))

    def sample_engine(self, n: int, memory_model: str, latency: Any = None) -> CostSample:
        """The archs :meth:`sample` draws, with peak SRAM and flash of ``memory_model``
        profiled arch by arch (unless it is ``mcunet``), and with ``latency`` (a latency table)
        each arch's predicted latency."""
        idx = np.stack([self.rng.integers(k, size=n) for k in self.radix], axis=1)
        act = self._active(idx)
        base = self.costs(idx)
        if memory_model == "mcunet":
            peak, flash, path = base.peak_sram_bytes, base.flash_bytes, "factorised"
        else:
            peak, flash = np.zeros(n, np.int64), np.zeros(n, np.int64)
            path = f"factorised+{memory_model}"
        lat = None if latency is None else np.zeros(n, np.float64)
        for j in range(n):
            arch = self._arch(idx[j].tolist(), act[j].tolist())
            if memory_model != "mcunet":
                p = self.space.profile(arch, memory_model=memory_model)
                peak[j], flash[j] = p.peak_sram_bytes, p.flash_bytes
            if lat is not None:
                lat[j] = latency.predict(self.space, arch)
        return CostSample(base.params, base.macs, peak, flash, path=path, latency_ms=lat)

    def costs(self, idx: IntArray) -> CostSample:
        """Costs of the archs whose choice indices are the rows of ``idx`` (indices of inactive
        decisions are ignored)."""
        n = idx.shape[0]
        act = self._active(idx)
        codes, exists = self._codes(idx, act)
        self._cover(idx, act, codes, exists)
        out = np.zeros((4, n), np.int64)
        for k, table in enumerate(self.tables):
            if not table:
                continue
            keys = np.array(sorted(table), np.int64)
            vals = np.array([table[c] for c in keys.tolist()], np.int64)
            pos = np.minimum(np.searchsorted(keys, codes[k]), len(keys) - 1)
            look = np.where(exists[k][:, None], vals[pos], 0)
            out[0] += look[:, 0]
            out[1] += look[:, 1]
            np.maximum(out[2], look[:, 2], out=out[2])
            out[3] += look[:, 3]
        self._check(idx, act, out)
        return CostSample(out[0], out[1], out[2], out[3], path="factorised")

    def _check(self, idx: IntArray, act: BoolArray, out: IntArray) -> None:
        """Profile a few rows from their full block chains; a mismatch means the slot model
        missed a dependency."""
        for j in self.rng.choice(idx.shape[0], size=min(_CHECKS, idx.shape[0]), replace=False):
            arch = self._arch(idx[j].tolist(), act[j].tolist())
            p = self.cache.profiler.profile(self.shape0, self.space.blocks(arch, self.r))
            if (p.params, p.macs, p.peak_sram_bytes, p.flash_bytes) != tuple(out[:, j].tolist()):
                raise _Unfactorisable
