"""The ProxylessNAS mobile space: exact size, where ``zero`` is allowed, widths, errors."""

from __future__ import annotations

import pytest

from archspace import ArchError, ParamError, SpaceError, get_space
from archspace.cost import profile_graph
from archspace.spaces.proxyless import CANDIDATES, ProxylessSpace

R = 64  # small resolution for cost checks


def test_size_is_exact() -> None:
    space = get_space("proxyless")
    # 6 first-of-stage blocks with the six MBConvs, 15 later blocks that may also be zero
    assert space.size() == 6**6 * 7**15 == 221_502_229_807_900_608
    firsts = [d for d in space.decisions if d.name.endswith(".b0")]
    assert len(firsts) == 6 and all(d.choices == CANDIDATES for d in firsts)
    others = [d for d in space.decisions if not d.name.endswith(".b0")]
    assert len(others) == 15 and all(d.choices == (*CANDIDATES, "zero") for d in others)


def test_zero_skips_the_block() -> None:
    space = get_space("proxyless")
    a = space.make({d.name: "k3e6" for d in space.decisions})
    z = a.replace(**{"s2.b3": "zero"})
    assert len(space.blocks(z, R)) == len(space.blocks(a, R)) - 1
    full, skipped = space.profile(a, R), space.profile(z, R)
    assert skipped.params < full.params and skipped.output_shape == full.output_shape
    with pytest.raises(ArchError, match=r"s2\.b0"):
        space.validate(a.replace(**{"s2.b0": "zero"}))


def test_zero_follows_the_supernet_rule_for_custom_widths() -> None:
    # a stride-1 stage that keeps its input width has a shortcut on its first block too
    space = get_space("proxyless", stage_widths=(24, 40, 80, 80, 192, 320))
    assert "zero" in space.decision("s4.b0").choices
    assert "zero" not in space.decision("s5.b0").choices
    a = space.make({d.name: "k3e3" for d in space.decisions})
    graph = space.lower(a, R)
    assert sum(n.op == "add" for n in graph if n.name.startswith("s")) == 16


def test_width_scales_channels_and_head() -> None:
    half = get_space("proxyless", width=0.5)
    a = half.sample(0)
    chans = [n.shape[0] for n in half.lower(a, R) if n.op == "conv"]
    assert all(c % 8 == 0 for c in chans) and chans[0] == 16
    assert half.blocks(a, R)[-2].out_ch == 1280  # type: ignore[attr-defined]
    wide = get_space("proxyless", width=1.4)
    assert wide.blocks(wide.sample(0), R)[-2].out_ch == 1792  # type: ignore[attr-defined]
    assert half.profile(a, R).params < get_space("proxyless").profile(a, R).params


def test_named_mobile_and_num_classes() -> None:
    space = get_space("proxyless", num_classes=10)
    a = space.named("proxylessnas-mobile")
    assert space.validate(a) == a
    assert a["s1.b2"] == a["s1.b3"] == "zero" and a["s6.b0"] == "k7e6"
    assert space.profile(a, R).output_shape == (10,)
    assert space.profile(a, R) == profile_graph(space.lower(a, R))
    sub = space.restrict({"s*": ["k3e3", "zero"]})
    assert sub.named_archs() == {}


def test_diagram_labels() -> None:
    space = get_space("proxyless")
    labels = [n.label for n in space.diagram(space.named("proxylessnas-mobile")).nodes]
    assert labels[:3] == ["Conv 3x3\n32 s2", "MB1 k3\n16", "MB3 k5\n24 s2"]
    assert labels[-1] == "Pool, FC\n1000" and len(labels) == 2 + 19 + 2


@pytest.mark.parametrize("kwargs", [{"width": 0}, {"width": "wide"}, {"num_classes": 0},
                                    {"stage_widths": (24, 40)}, {"stage_widths": (24, 40, 80, 96, 192, -1)}])
def test_bad_params(kwargs: dict[str, object]) -> None:
    with pytest.raises(ParamError, match=next(iter(kwargs))):
        ProxylessSpace(**kwargs)  # type: ignore[arg-type]


def test_resolution_errors() -> None:
    with pytest.raises(SpaceError, match=r"integers in 32\.\."):
        get_space("proxyless", resolution=16)
    space = get_space("proxyless")
    with pytest.raises(SpaceError, match=r"allowed: integers in 32\.\.8192"):
        space.profile(space.sample(0), resolution=8)
