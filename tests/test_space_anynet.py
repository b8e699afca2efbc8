"""AnyNetX A-E: exact sizes (closed forms and enumeration), monotone sampling, the X block."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter

import pytest

from archspace import ArchError, ParamError, SpaceError
from archspace.cost import profile_graph
from archspace.ir.graph import Graph
from archspace.spaces.anynet import AnyNetSpace, XBlock, adjust_compatibility

D, W, B, G = 16, 128, 3, 6  # depths, widths, bottleneck ratios, group widths per stage


def test_paper_sizes_in_closed_form() -> None:
    multisets = math.comb(W + 3, 4)  # non-decreasing width sequences over 4 stages
    expected = {
        "A": (D * W * B * G) ** 4,
        "B": B * (D * W * G) ** 4,
        "C": B * G * (D * W) ** 4,
        "D": B * G * D ** 4 * multisets,
        "E": B * G * math.comb(D + 3, 4) * multisets,
    }
    for variant, n in expected.items():
        assert AnyNetSpace(variant=variant).size() == n
    assert f"{expected['A']:.2e}" == "1.85e+18"  # the paper's "about 10^18"
    assert 6 < math.log10(expected["A"] / expected["E"]) < 7  # "about 10^7 fewer"


SMALL = {"stages": 3, "max_depth": 3, "max_width": 24, "ratios": (1, 2), "group_widths": (1, 2)}


@pytest.mark.parametrize("variant", ["A", "B", "C", "D", "E"])
def test_size_equals_enumeration_on_small_spaces(variant: str) -> None:
    space = AnyNetSpace(variant=variant, **SMALL)
    assert space.size() == sum(1 for _ in space.enumerate())
    sub = space.restrict({"s2.w": [16]}, exclude={"s3.d": [1]})
    assert sub.size() == sum(1 for _ in sub.enumerate())


def test_monotone_variants_reject_decreasing_stages() -> None:
    space = AnyNetSpace(variant="E", **SMALL)
    good = {"b": 1, "g": 1, "s1.d": 1, "s1.w": 8, "s2.d": 2, "s2.w": 8, "s3.d": 2, "s3.w": 24}
    space.make(good)
    with pytest.raises(ArchError, match=r"widths must not decrease.*s3\.w=16 < s2\.w=24"):
        space.make(good | {"s2.w": 24, "s3.w": 16})
    with pytest.raises(ArchError, match="depths must not decrease"):
        space.make(good | {"s2.d": 3})
    AnyNetSpace(variant="D", **SMALL).make(good | {"s2.d": 3})  # D leaves depths free


def test_sampling_is_uniform_over_valid_archs() -> None:
    space = AnyNetSpace(variant="E", stages=2, max_depth=2, max_width=16, ratios=(1,),
                        group_widths=(1,))
    n = space.size()
    assert n == 3 * 3  # (d1 <= d2) x (w1 <= w2), each 3 of the 4 pairs
    counts = Counter(space.sample(random.Random(i)) for i in range(3000))
    assert len(counts) == n
    assert all(0.75 * 3000 / n < c < 1.25 * 3000 / n for c in counts.values())
    big = AnyNetSpace(variant="E")
    rng = random.Random(0)
    for _ in range(100):
        specs = big.stage_specs(big.validate(big.sample(rng)))
        assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in itertools.pairwise(specs))
    with pytest.raises(SpaceError, match="no architectures"):
        big.restrict({"s1.w": [1024], "s4.w": [8]}).sample(0)


def test_shared_decisions_per_variant() -> None:
    names = {v: set(AnyNetSpace(variant=v).names) for v in "ABCDE"}
    assert {"s1.b", "s1.g"} <= names["A"] and "b" not in names["A"]
    assert "b" in names["B"] and "s1.g" in names["B"] and "s1.b" not in names["B"]
    assert {"b", "g"} <= names["C"] and not any(n.endswith((".b", ".g")) for n in names["C"])
    assert names["C"] == names["D"] == names["E"]
    with pytest.raises(ParamError, match="one of A, B, C, D, E"):
        AnyNetSpace(variant="F")


def test_compatibility_adjustment_follows_pycls() -> None:
    assert adjust_compatibility(24, 1, 16) == (32, 16)  # 24/16 = 1.5 rounds to 2 groups
    assert adjust_compatibility(152, 1, 16) == (160, 16)  # 9.5 -> 10 (half to even)
    assert adjust_compatibility(392, 1, 16) == (384, 16)  # 24.5 -> 24
    assert adjust_compatibility(8, 4, 32) == (8, 2)  # group width capped at the bottleneck
    assert adjust_compatibility(40, 4, 8) == (32, 8)  # bottleneck 10 -> 8
    assert adjust_compatibility(64, 2, 32) == (64, 32)


def test_x_block_structure_and_parameters() -> None:
    g = Graph()
    x = g.input((32, 16, 16))
    y = XBlock(out_ch=64, stride=2, bottleneck=32, group_width=8).lower(g, x)
    assert y.shape == (64, 8, 8)
    convs = [n for n in g if n.op == "conv"]
    assert [(n.attrs["kernel"], n.attrs["groups"], n.attrs["stride"]) for n in convs] == [
        ((1, 1), 1, 1), ((3, 3), 4, 2), ((1, 1), 1, 1), ((1, 1), 1, 2)]
    params = 32 * 32 + 32 * 8 * 9 + 32 * 64 + 32 * 64 + 2 * (32 + 32 + 64 + 64)
    assert profile_graph(g).params == params
    g2 = Graph()
    XBlock(64, 1, 64, 16).lower(g2, g2.input((64, 8, 8)))
    assert not any(n.name.endswith("proj") for n in g2)  # identity shortcut when shapes match


def test_network_layout_and_diagram() -> None:
    space = AnyNetSpace(variant="A", num_classes=10)
    arch = space.make({**{f"s{i}.d": i for i in range(1, 5)},
                       **{f"s{i}.w": 8 * 2 ** i for i in range(1, 5)},
                       **{f"s{i}.b": 1 for i in range(1, 5)}, **{f"s{i}.g": 8 for i in range(1, 5)}})
    p = space.profile(arch, 64)
    assert p.output_shape == (10,)
    assert len(space.blocks(arch, 64)) == 1 + (1 + 2 + 3 + 4) + 1
    d = space.diagram(arch)
    assert d.kind == "strip" and [n.id for n in d.nodes] == ["stem", "s1", "s2", "s3", "s4", "head"]
    assert "w=16" in d.nodes[1].label and "4 x X block" in d.nodes[4].label


@pytest.mark.parametrize("variant", ["A", "B", "C", "D", "E"])
def test_stage_specs_read_each_stages_decisions(variant: str) -> None:
    """stage_specs reads each stage's depth, width, ratio and group width (the shared ``b``
    and ``g`` from B and C) by position; an arch whose decisions come in another order gives
    the same specs (read by name)."""
    from archspace.space import Arch

    space = AnyNetSpace(variant=variant, stages=3)
    rng = random.Random(5)
    for _ in range(20):
        arch = space.sample(rng)
        want = [(arch[f"s{i}.d"], arch[f"s{i}.w"],
                 arch["b"] if variant >= "B" else arch[f"s{i}.b"],
                 arch["g"] if variant >= "C" else arch[f"s{i}.g"]) for i in range(1, 4)]
        assert space.stage_specs(arch) == want
        assert space.stage_specs(Arch(arch.names[::-1], arch.values[::-1])) == want
