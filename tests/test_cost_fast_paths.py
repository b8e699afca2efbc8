"""The fast profiling paths (per-arch LRU cache, chain block cache, the faster peak-memory pass)
give exactly the profile of lowering the whole arch and running ``profile_graph`` on it."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archspace.cost import profile_graph
from archspace.cost.memory import INPLACE_OPS, peak_memory
from archspace.errors import ArchError, SpaceError
from archspace.ir.graph import Node
from archspace.space import Space
from archspace.spaces import get_space
from archspace.spaces._registry import list_spaces

SPACES = list_spaces()
_SPACE_CACHE: dict[str, Space] = {}


def _space(name: str) -> Space:
    return _SPACE_CACHE.get(name) or _SPACE_CACHE.setdefault(name, get_space(name))


def _reference_peak(nodes: list[Node], act_bytes: int) -> tuple[int, list[int]]:
    """The allocator of ``archspace.cost.memory`` written the plain way (the oracle)."""
    last = list(range(len(nodes)))
    for node in nodes:
        for i in node.inputs:
            last[i] = node.id
    last[-1] = len(nodes)
    size = [n.numel * act_bytes for n in nodes]

    def inplace(node: Node) -> bool:
        a = node.attrs
        return node.op in INPLACE_OPS or (node.op == "conv" and a["groups"] == a["in_ch"]
                                          == a["out_ch"] and a["groups"] > 1)

    live = peak = 0
    trace = []
    for node in nodes:
        i = node.id
        first = node.inputs[0] if node.inputs else -1
        if first >= 0 and last[first] == i and inplace(node) and node.inputs.count(first) == 1:
            now = live - size[first] + max(size[first], size[i])
            live += size[i] - size[first]
            freed = [j for j in set(node.inputs[1:]) if last[j] == i]
        else:
            now = live + size[i]
            live += size[i]
            freed = [j for j in set(node.inputs) if last[j] == i]
        peak = max(peak, now)
        live -= sum(size[j] for j in freed)
        if last[i] == i:
            live -= size[i]
        trace.append(now)
    return peak, trace


def _resolution(space: Space, rng: random.Random) -> int:
    """The default resolution, or another one the space takes (a multiple of its step)."""
    step = space.resolution_step
    r = space.default_resolution + step * rng.choice((-2, -1, 0, 1, 2))
    return max(r, space.min_resolution + (-space.min_resolution) % step)


@pytest.mark.parametrize("name", SPACES)
@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), act_bytes=st.sampled_from((1, 2)))
def test_profile_equals_full_graph_profile(name: str, seed: int, act_bytes: int) -> None:
    space = _space(name)
    rng = random.Random(seed)
    arch = space.sample(rng)
    for r in (None, _resolution(space, rng)):
        try:
            graph = space.lower(arch, r)
        except SpaceError:
            continue  # this arch does not fit the other resolution; checked elsewhere
        full = profile_graph(graph, act_bytes)
        for _ in range(2):  # the first call fills the caches, the second reads them
            fast = space.profile(arch, r, act_bytes=act_bytes)
            assert (fast.params, fast.macs, fast.peak_sram_bytes, fast.flash_bytes,
                    fast.input_shape, fast.output_shape) == (
                full.params, full.macs, full.peak_sram_bytes, full.flash_bytes,
                full.input_shape, full.output_shape)
        assert peak_memory(graph.nodes, act_bytes, per_node=True) == \
            _reference_peak(graph.nodes, act_bytes)


def test_profile_cache_is_bounded_and_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    import archspace.space.base as base

    monkeypatch.setattr(base, "PROFILE_CACHE_SIZE", 3)
    space = get_space("nb201")
    rng = random.Random(1)
    archs = [space.sample(rng) for _ in range(5)]
    for a in archs:
        space.profile(a)
    cache = space.__dict__["_profile_cache"]
    assert len(cache) == 3 and [k[0] for k in cache] == archs[2:]
    assert space.profile(archs[0]) == profile_graph(space.lower(archs[0]))


def test_restricted_space_does_not_reuse_the_parents_profiles() -> None:
    space = get_space("nb201")
    arch = space.sample(random.Random(2))
    space.profile(arch)
    name = next(n for n, v in arch.items() if v is not None)
    sub = space.restrict(exclude={name: [arch[name]]})
    with pytest.raises((ArchError, SpaceError)):
        sub.profile(arch)


@pytest.mark.parametrize(("name", "params"), [
    ("darts", {"C": 8, "layers": 5}),
    ("nasnet", {"B": 3, "cells": 2, "channels": 8, "combine": ("concat",)}),
    ("nasnet", {"B": 2, "M": 0, "combine": ("add", "concat")}),
    ("autodeeplab", {"layers": 4, "filter_multiplier": 8, "aspp_channels": 32}),
])
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_segment_profile_equals_full_graph_at_other_settings(name: str, params: dict[str, object],
                                                             seed: int) -> None:
    space = get_space(name, **params)
    rng = random.Random(seed)
    arch = space.sample(rng)
    r = _resolution(space, rng)
    full = profile_graph(space.lower(arch, r))
    assert space.profile(arch, r) == full
    assert space.profile(arch, r).output_shape == full.output_shape
