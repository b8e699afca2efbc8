"""The MCUNet (TinyNAS) family: exact size of a member, the grid, resolution errors, widths,
conditional depth and the compact arch string."""

from __future__ import annotations

import random

import pytest

from archspace import ArchError, ParamError, SpaceError, get_space
from archspace.cost import profile_graph
from archspace.ir.blocks import ClassifierHead, ConvBNAct, MBConv
from archspace.space import Arch
from archspace.spaces.mcunet import RESOLUTIONS, WIDTHS, MCUNetSpace


def test_size_is_exact() -> None:
    space = get_space("mcunet", width=0.5, resolution=144)
    # expand ratios 3, 4, 5, 6 and the searched last block (MCUNet's released configs use both)
    assert space.size() == (12**2 + 12**3 + 12**4) ** 5 * 12 == 70_874_819_941_346_328_969_216
    assert len(space.decisions) == 5 * (1 + 4 * 2) + 2
    assert space.decision("s3.b2.k").when == ("s3.d", frozenset({3, 4}))
    assert space.decision("s3.b3.e").when == ("s3.d", frozenset({4}))


def test_default_grid_and_custom_family() -> None:
    assert WIDTHS == (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    assert RESOLUTIONS == (48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224)
    fam = MCUNetSpace.family()
    assert len(fam) == 108 and len({s.label for s in fam}) == 108
    assert (fam[0].width, fam[0].default_resolution) == (0.2, 48)
    assert fam[0].label == "mcunet(width=0.2,resolution=48)"
    sub = MCUNetSpace.family(widths=(0.5, 1.2), resolutions=(96, 256), num_classes=10)
    assert [(s.width, s.default_resolution) for s in sub] == [(0.5, 96), (0.5, 256), (1.2, 96), (1.2, 256)]
    assert all(s.num_classes == 10 for s in sub)
    # the family's spaces differ in cost for one and the same choice of decisions
    values = sub[0].sample(1).values
    macs = [s.profile(s.validate(Arch(s.names, values))).macs for s in sub]
    assert macs[0] < macs[1] and macs[0] < macs[2]


@pytest.mark.parametrize("resolution", [100, 16, 40, 47])
def test_resolution_off_the_grid_raises(resolution: int) -> None:
    with pytest.raises(SpaceError, match=rf"resolution {resolution}; allowed: multiples of 16 >= 32"):
        get_space("mcunet", width=0.5, resolution=resolution)
    with pytest.raises(ParamError, match=r"resolution=0 .* integer in 1\.\.8192"):
        get_space("mcunet", width=0.5, resolution=0)  # every space's parameter limit, first


def test_resolution_below_one_is_a_parameter_error() -> None:
    with pytest.raises(ParamError, match=r"resolution=0 .* must be an integer in 1\.\.8192"):
        get_space("mcunet", width=0.5, resolution=0)


def test_profile_resolution_checked_and_default_is_the_members() -> None:
    space = get_space("mcunet", width=0.3, resolution=96)
    a = space.sample(0)
    assert space.profile(a).input_shape == (3, 96, 96)
    assert space.profile(a, 32) == profile_graph(space.lower(a, 32))
    with pytest.raises(SpaceError, match="in steps of 16"):
        space.profile(a, resolution=100)


def test_widths_are_scaled_and_rounded() -> None:
    space = get_space("mcunet", width=0.3, resolution=64)
    blocks = space.blocks(space.sample(2), 64)
    stem, first, *mid, last, mix, head = blocks
    assert isinstance(stem, ConvBNAct) and stem.out_ch == 16  # 32 * 0.3 = 9.6 -> 16 (10% rule)
    assert isinstance(first, MBConv) and first.out_ch == 8 and first.expand == 1
    assert {b.out_ch for b in mid} == {8, 16, 24, 32, 56}  # type: ignore[attr-defined]
    a = space.sample(2)
    assert isinstance(last, MBConv) and (last.out_ch, last.kernel, last.expand) == (96, a["s6.k"], a["s6.e"])
    assert isinstance(mix, ConvBNAct) and mix.out_ch == 1280
    assert isinstance(head, ClassifierHead) and head.num_classes == 1000


def test_depth_sets_the_number_of_blocks() -> None:
    space = get_space("mcunet", width=0.5, resolution=64)
    rng = random.Random(0)
    for _ in range(20):
        a = space.sample(rng)
        depths = [int(a[f"s{i}.d"]) for i in range(1, 6)]  # type: ignore[arg-type]
        assert len(space.blocks(a, 64)) == 2 + sum(depths) + 3  # + last block, mix, head
        for i, d in enumerate(depths, 1):
            assert all(a[f"s{i}.b{j}.k"] is None for j in range(d, 4))


def test_mix_layer_off_and_num_classes() -> None:
    on = get_space("mcunet", width=0.5, resolution=64, num_classes=10)
    off = get_space("mcunet", width=0.5, resolution=64, num_classes=10, mix_layer=False)
    a = on.sample(3)
    p_on, p_off = on.profile(a), off.profile(off.validate(a))
    assert p_on.output_shape == p_off.output_shape == (10,)
    # the 1x1 conv 160 -> 1280 with its BN, and the wider classifier
    assert p_on.params - p_off.params == 160 * 1280 + 2 * 1280 + (1280 - 160) * 10
    with pytest.raises(ParamError, match="width"):
        get_space("mcunet", width=-1.0)
    with pytest.raises(ParamError, match="num_classes"):
        get_space("mcunet", num_classes=0)


def test_compact_arch_string() -> None:
    space = get_space("mcunet", width=0.5, resolution=64)
    text = "k3e4-k5e6/k7e3-k3e3-k5e6/k3e3-k3e3/k5e4-k5e4-k7e6-k3e3/k7e6-k7e5/k5e5"
    a = space.parse_arch(text)
    assert space.format_arch(a) == text and a["s2.d"] == 3 and a["s2.b2.e"] == 6
    assert (a["s5.b1.e"], a["s6.k"], a["s6.e"]) == (5, 5, 5)
    assert space.parse_arch(",".join(f"{n}={v}" for n, v in a.to_dict().items())) == a
    for bad, msg in [("k3e4-k5e6", "has 1 stages"), ("k3e4/k3e4/k3e4/k3e4/k3e4/k3e4", r"s1\.d"),
                     ("k3e4-k3e4/k3e4-k3e4/k3e4-k3e4/k3e4-k3e4/k3e4-k3e4", "has 5 stages"),
                     ("k3e4-k5x6/k3e4-k3e4/k3e4-k3e4/k3e4-k3e4/k3e4-k3e4/k3e6", "malformed"),
                     ("k9e4-k5e6/k3e4-k3e4/k3e4-k3e4/k3e4-k3e4/k3e4-k3e4/k3e6", r"s1\.b0\.k"),
                     ("k3e4-k3e4/k3e4-k3e4/k3e4-k3e4/k3e4-k3e4/k3e4-k3e4/k3e2", r"s6\.e"),
                     ("k3e4-k3e4/k3e4-k3e4/k3e4-k3e4/k3e4-k3e4/k3e4-k3e4/k3e6-k3e6", "last stage"),
                     ("k3e4-k3e4-k3e4-k3e4-k3e4/k3e4-k3e4/k3e4-k3e4/k3e4-k3e4/k3e4-k3e4/k3e6",
                      "5 blocks")]:
        with pytest.raises(ArchError, match=msg):
            space.parse_arch(bad)


def test_diagram_labels_and_restrict() -> None:
    space = get_space("mcunet", width=0.5, resolution=64)
    a = space.parse_arch("k3e4-k5e6/k7e3-k3e3-k5e6/k3e3-k3e3/k5e4-k5e4-k7e6-k3e3/k7e6-k7e6/k3e6")
    labels = [n.label for n in space.diagram(a).nodes]
    assert labels[2:4] == ["MB4 k3\n16 s2", "MB6 k5\n16"]
    sub = space.restrict({"s*.d": [2], "s*.k": [3]})
    assert sub.size() == 16**5 * 4  # the last block's kernel matches s*.k too
    assert sub.format_arch(sub.sample(0)).count("k3") == 11
