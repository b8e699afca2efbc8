"""The trilevel super-resolution space: exact size, the path constraint, the SR head, and the IR
ops it brought (pixel shuffle, bicubic upsampling, zero-initialised convs)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from archspace import ArchError, get_space
from archspace.cost import profile_graph
from archspace.errors import ParamError
from archspace.ir.graph import Graph, IRError
from archspace.nn import build_module
from archspace.spaces.trilevel import TrilevelSpace


def _tiny(**kw: object) -> TrilevelSpace:
    base: dict[str, object] = dict(layers=3, nodes=1, ops=("conv3x3", "skip"), widths=(1.0,),
                                   channels=4, resolution=8)
    return TrilevelSpace(**{**base, **kw})  # type: ignore[arg-type]


def test_size_counts_paths_exactly() -> None:
    space = _tiny()
    # rates per layer: l0 in {1,2}, l1 in {1,2,4}, l2 in {1,2,4}; 1<->4 moves are not allowed
    paths = [p for p in ((a, b, c) for a in (1, 2) for b in (1, 2, 4) for c in (1, 2, 4))
             if all(max(x, y) <= 2 * min(x, y) for x, y in zip((1, *p), p, strict=False))]
    assert space.size() == len(paths) * 2 ** 3
    assert sum(1 for _ in space.enumerate()) == space.size()
    assert {tuple(space.path(a)) for a in space.enumerate()} == set(paths)


def test_restricted_size_and_two_level_lattice() -> None:
    space = _tiny(levels=1)
    assert space.rates == (1, 2)
    assert space.size() == 2 ** 3 * 2 ** 3
    sub = _tiny().restrict({"l*.rate": [1]})
    assert sub.size() == 2 ** 3 and sub.path(sub.sample(0)) == [1, 1, 1]


def test_a_jump_of_two_levels_is_refused() -> None:
    space = _tiny()
    a = space.make({**space.sample(0).to_dict(), "l0.rate": 2, "l1.rate": 4, "l2.rate": 4})
    with pytest.raises(ArchError, match=r"l2\.rate=1 is more than one level"):
        space.validate(a.replace(**{"l2.rate": 1}))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_samples_are_valid_and_mutations_stay_valid(seed: int) -> None:
    space = get_space("trilevel")
    a = space.sample(seed)
    assert space.validate(a) == a
    assert space.validate(space.mutate(a, seed)) is not None


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_is_the_hr_image_and_untrained_is_bicubic(scale: int) -> None:
    space = get_space("trilevel", channels=4, scale=scale)
    arch = space.sample(scale)
    model = space.build(arch, 8).eval()
    x = torch.rand(2, 3, 8, 8)
    with torch.no_grad():
        y = model(x)
    assert tuple(y.shape) == (2, 3, 8 * scale, 8 * scale)
    want = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
    assert torch.allclose(y, want, atol=1e-6)  # the upsampler's conv starts at zero
    prof = space.profile(arch, 8)
    assert prof.output_shape == (3, 8 * scale, 8 * scale)
    assert prof == profile_graph(space.lower(arch, 8))
    assert prof.params == sum(p.numel() for p in model.parameters())


def test_bad_params_name_what_is_allowed() -> None:
    with pytest.raises(ParamError, match="ops"):
        TrilevelSpace(ops=("conv3x3", "maxpool"))
    with pytest.raises(ParamError, match="scale"):
        get_space("trilevel", scale=5)


def test_pixel_shuffle_and_bicubic_ir_ops() -> None:
    g = Graph()
    x = g.input((12, 5, 6))
    y = g.pixel_shuffle(x, 2)
    assert y.shape == (3, 10, 12)
    up = g.upsample(x, (7, 9), mode="bicubic")
    assert up.shape == (12, 7, 9)
    with pytest.raises(IRError, match="pixel_shuffle"):
        g.pixel_shuffle(x, 3)
    with pytest.raises(IRError, match="allowed"):
        g.upsample(x, (7, 9), mode="area")
    prof = profile_graph(g)
    assert prof.params == 0 and prof.macs == 0
    model = build_module(g)
    t = torch.randn(1, 12, 5, 6)
    assert torch.equal(model(t), F.interpolate(t, size=(7, 9), mode="bicubic",
                                               align_corners=False))
    g2 = Graph()
    g2.pixel_shuffle(g2.input((12, 5, 6)), 2)
    assert torch.equal(build_module(g2)(t), F.pixel_shuffle(t, 2))


def test_zero_init_conv() -> None:
    g = Graph()
    g.conv(g.input((3, 4, 4)), 5, 3, bias=True, zero_init=True)
    model = build_module(g)
    assert all(float(p.detach().abs().sum()) == 0.0 for p in model.parameters())


def test_diagram_is_a_lattice_path() -> None:
    space = get_space("trilevel")
    a = space.sample(1)
    d = space.diagram(a)
    assert d.kind == "lattice" and len(d.edges) == space.layers + 1
