"""Auto-DeepLab's network-level space: exact path counts, uniform sampling, the built network."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest
import torch

from archspace import ArchError, SpaceError, get_space
from archspace.plots._layout import layout
from archspace.spaces.autodeeplab import LEVELS, PAPER_PATH, AutoDeepLabSpace


def brute_force_paths(layers: int) -> list[tuple[int, ...]]:
    """Every path from rate 4 moving at most one level per layer, by plain enumeration."""
    out = []
    for path in itertools.product(LEVELS, repeat=layers):
        idx = [0] + [LEVELS.index(v) for v in path]
        if all(abs(a - b) <= 1 for a, b in itertools.pairwise(idx)):
            out.append(path)
    return out


@pytest.mark.parametrize("layers", [1, 2, 3, 5, 7])
def test_size_is_the_exact_path_count(layers: int) -> None:
    space = AutoDeepLabSpace(layers=layers)
    paths = brute_force_paths(layers)
    assert space.size() == len(paths)
    assert sorted(tuple(a.values) for a in space.enumerate()) == sorted(paths)


def test_default_size_and_first_layers_reach_only_nearby_rates() -> None:
    space = get_space("autodeeplab")
    assert space.size() == 75025  # counted by the DP; the brute force above agrees for small L
    assert space.decision("l0").choices == (4, 8)
    assert space.decision("l1").choices == (4, 8, 16)
    assert space.decision("l5").choices == LEVELS


def test_restricted_size_is_exact_and_empty_space_is_reported() -> None:
    space = AutoDeepLabSpace(layers=5).restrict({"l2": [16], "l4": [4, 8]})
    expected = [p for p in brute_force_paths(5) if p[2] == 16 and p[4] in (4, 8)]
    assert space.size() == len(expected) == sum(1 for _ in space.enumerate())
    empty = AutoDeepLabSpace(layers=3).restrict({"l0": [4], "l1": [16]})
    assert empty.size() == 0
    with pytest.raises(SpaceError, match="no architectures"):
        empty.sample(0)


def test_sampling_is_uniform_over_paths_and_fast_for_long_paths() -> None:
    space = AutoDeepLabSpace(layers=3)
    n_paths = space.size()
    counts = Counter(space.sample(random.Random(i)) for i in range(4000))
    assert len(counts) == n_paths
    expected = 4000 / n_paths
    assert all(0.7 * expected < c < 1.3 * expected for c in counts.values())
    long = AutoDeepLabSpace(layers=60)
    rng = random.Random(0)
    for _ in range(50):
        long.validate(long.sample(rng))


def test_jumps_of_two_levels_are_rejected() -> None:
    space = AutoDeepLabSpace(layers=4)
    with pytest.raises(ArchError, match=r"l2=32 is more than one level away from l1=8"):
        space.make({"l0": 8, "l1": 8, "l2": 32, "l3": 32})
    with pytest.raises(ArchError, match="l0"):
        space.make({"l0": 16, "l1": 16, "l2": 16, "l3": 16})  # layer 0 can only reach 4 or 8


def test_named_arch_is_the_papers_path() -> None:
    space = get_space("autodeeplab")
    arch = space.named("autodeeplab")
    assert space.path(arch) == list(PAPER_PATH)
    assert AutoDeepLabSpace(layers=11).named_archs() == {}


def test_network_channels_follow_the_level_rule_and_output_is_full_resolution() -> None:
    space = AutoDeepLabSpace(filter_multiplier=8, block_multiplier=5)
    arch = space.named("autodeeplab")
    g = space.lower(arch, 64)
    cell_out = {n.name.split(".")[0]: n for n in g if n.op == "add" and n.name.startswith("l")}
    for i, level in enumerate(PAPER_PATH):
        node = cell_out[f"l{i}"]
        assert node.shape == (40 * level // 4, 64 // level, 64 // level)
    assert g.output.shape == (19, 64, 64)
    assert g.output.op == "upsample" and g.output.attrs["mode"] == "bilinear"
    assert sum(n.op == "upsample" for n in g) == 3 + 1 + 1  # three up-moves, image pooling, output


def test_aspp_rates_scale_with_the_final_rate() -> None:
    space = AutoDeepLabSpace(layers=2)
    for path, rates in (((4, 4), (24, 48, 72)), ((8, 16), (6, 12, 18))):
        g = space.lower(space.make({"l0": path[0], "l1": path[1]}), 600)
        dil = sorted(n.attrs["dilation"] for n in g if n.op == "conv" and n.attrs["dilation"] > 1)
        assert tuple(dil) == rates


def test_aspp_rates_shrink_with_the_input_so_no_branch_sees_only_padding() -> None:
    space = AutoDeepLabSpace(layers=2)
    found = 0
    for r in (32, 48, 96, 128, 224):
        for path in ((4, 4), (4, 8), (8, 16)):
            g = space.lower(space.make({"l0": path[0], "l1": path[1]}), r)
            for n in g:
                if n.op == "conv" and n.attrs["kernel"] == (3, 3) and "atrous" in n.name:
                    size = min(g.nodes[n.inputs[0]].shape[1:])
                    assert 2 * n.attrs["dilation"] < size or n.attrs["dilation"] == 1
                    found += 1
    assert found == 5 * 3 * 3


def test_odd_resolution_builds_and_runs() -> None:
    space = AutoDeepLabSpace(layers=6, filter_multiplier=4, aspp_channels=16, num_classes=3)
    arch = space.make({"l0": 8, "l1": 16, "l2": 32, "l3": 16, "l4": 8, "l5": 4})
    model = space.build(arch, 50).eval()
    with torch.no_grad():
        y = model(torch.randn(2, 3, 50, 50))
    assert y.shape == (2, 3, 50, 50)
    assert sum(p.numel() for p in model.parameters()) == space.profile(arch, 50).params


def test_lattice_diagram_follows_the_path() -> None:
    space = AutoDeepLabSpace(layers=5)
    arch = space.make({"l0": 4, "l1": 8, "l2": 16, "l3": 16, "l4": 8})
    d = space.diagram(arch)
    assert d.kind == "lattice" and len(d.edges) == 6
    pos = {n.id: n.pos for n in d.nodes}
    on_path = [pos[e.dst] for e in d.edges[:-1]]
    assert on_path == [(1.0, 0), (2.0, 1), (3.0, 2), (4.0, 2), (5.0, 1)]
    assert len(d.nodes) == 1 + 5 * len(LEVELS) + 1
    assert layout(d)[0].kind == "lattice"
