"""MnasNet's factorized hierarchical space: exact size (no two archs are one network), the
conditional decisions, the regular-conv layer, named archs, errors."""

from __future__ import annotations

import pytest

from archspace import ParamError, SpaceError, get_space
from archspace.cost import profile_graph
from archspace.ir.graph import Graph
from archspace.spaces.mnasnet import MnasConv

R = 64


def test_size_is_exact() -> None:
    space = get_space("mnasnet")
    # blocks 1 and 7 (base 1 layer): no layer (1), one layer (4*2*2*3), two layers (x2 skip);
    # block 2 (base 2): one layer (48), two or three (96 each); blocks 3-6: 3*96
    assert space.size() == 145**2 * 240 * 288**4 == 34_715_002_208_256_000
    assert space.size_formulas() == {"factorized": 288**7}
    assert space.decision("s1.op").when == ("s1.layers", frozenset({0, 1}))
    assert space.decision("s2.skip").when == ("s2.layers", frozenset({0, 1}))
    assert space.decision("s3.skip").when is None


def test_every_arch_of_a_subspace_is_a_distinct_network() -> None:
    space = get_space("mnasnet").restrict(
        {"s[3456].*": ["0", "dconv", "3", "0.0", "1.0", "identity"],
         "s*.op": ["dconv", "mbconv3"], "s*.k": [3], "s*.se": [0.0], "s*.filter": [0.75, 1.0]})
    n = space.size()
    assert n == 13 * 13 * 20  # blocks 1 and 7: 1 + 4 + 8; block 2: 4 + 8 + 8
    nets = {tuple(space.blocks(a, R)) for a in space.enumerate()}
    assert len(nets) == n


def test_layers_filter_and_skip_shape_the_network() -> None:
    space = get_space("mnasnet")
    a = space.named("mnasnet-a1")
    none = a.replace(**{"s1.layers": -1, "s1.op": None, "s1.k": None, "s1.se": None,
                        "s1.filter": None})
    assert len(space.blocks(space.validate(none), R)) == len(space.blocks(a, R)) - 1
    wide = a.replace(**{"s4.filter": 1.25, "s4.layers": 1})
    outs = [b.out_ch for b in space.blocks(wide, R)[:-1]]  # type: ignore[attr-defined]
    assert outs.count(100) == 5 and 80 not in outs
    adds = [sum(n.op == "add" for n in space.lower(x, R)) for x in (a, a.replace(**{"s4.skip": "none"}))]
    assert adds[0] - adds[1] == 3  # block 4's four layers: all but the first have a residual


def test_regular_conv_layer() -> None:
    g = Graph()
    y = MnasConv(16, 3, 1, 0.25, True).lower(g, g.input((16, 8, 8)))
    assert y.op == "add" and [n.op for n in g].count("mul") == 1
    # conv 16*16*9, BN 2*16, SE reduce 16->4 (+bias), expand 4->16 (+bias)
    assert profile_graph(g).params == 2304 + 32 + (64 + 4) + (64 + 16)
    space = get_space("mnasnet")
    a = space.named("mnasnet-a1").replace(**{"s3.op": "conv"})
    assert any(isinstance(b, MnasConv) for b in space.blocks(a, R))
    assert space.profile(a, R) == profile_graph(space.lower(a, R))


def test_named_archs_per_base() -> None:
    space = get_space("mnasnet")
    a1 = space.named("mnasnet-a1")
    assert a1["s5.layers"] == -1 and a1["s3.op"] == "mbconv3" and a1["s3.se"] == 0.25
    assert a1["s1.skip"] is None and a1["s7.skip"] is None
    labels = [n.label for n in space.diagram(a1).nodes]
    assert "MB3 k5 SE\n40 s2" in labels and "MB6 k3 SE\n112" in labels
    mbv2 = get_space("mnasnet", base="mobilenetv2")
    assert list(mbv2.named_archs()) == ["mobilenetv2"]
    widths = [b.out_ch for b in mbv2.blocks(mbv2.named("mobilenetv2"), R)[1:-2]]  # type: ignore[attr-defined]
    assert sorted(set(widths)) == [16, 24, 32, 64, 96, 160, 320]
    assert get_space("mnasnet").restrict({"s1.op": ["conv"]}).named_archs() == {}


def test_errors() -> None:
    with pytest.raises(ParamError, match="allowed: mnasnet-a1, mobilenetv2"):
        get_space("mnasnet", base="resnet")
    with pytest.raises(ParamError, match="num_classes"):
        get_space("mnasnet", num_classes=0)
    with pytest.raises(SpaceError, match=r"integers in 32\.\."):
        get_space("mnasnet", resolution=8)
    space = get_space("mnasnet")
    with pytest.raises(SpaceError, match="resolution 16"):
        space.profile(space.sample(0), resolution=16)
