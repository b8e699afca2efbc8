"""RegNetX: the quantized linear rule, pycls's exact complexity of published models, exact size."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from archspace import ArchError, get_space
from archspace.spaces.anynet import AnyNetSpace
from archspace.spaces.regnet import PUBLISHED, RegNetSpace, _stage_profile, generate_regnet

#: pycls dev/model_complexity.json: (flops, params) at 224x224; pycls counts the classifier's
#: 1000 bias additions as flops, our MACs do not.
PYCLS = {
    "RegNetX-200MF": (199_040_872, 2_684_792),
    "RegNetX-400MF": (397_678_568, 5_157_512),
    "RegNetX-800MF": (799_700_712, 7_259_656),
}


def test_generate_regnet_reproduces_published_stages() -> None:
    assert generate_regnet(24, 36.44, 2.49, 13) == ([24, 56, 152, 368], [1, 1, 4, 7])
    assert generate_regnet(24, 24.48, 2.54, 22) == ([24, 64, 152, 392], [1, 2, 7, 12])
    assert generate_regnet(56, 35.73, 2.28, 16) == ([56, 128, 288, 664], [1, 3, 7, 5])


@pytest.mark.parametrize("name", sorted(PYCLS))
def test_published_models_match_pycls_exactly(name: str) -> None:
    space = get_space("regnet")
    p = space.profile(space.named(name), 224)
    flops, params = PYCLS[name]
    assert p.params == params
    assert p.macs == flops - 1000


def test_published_models_match_the_paper_to_its_rounding() -> None:
    space = get_space("regnet")
    for name, (mparams, gmacs) in {"RegNetX-200MF": (2.7, 0.2), "RegNetX-400MF": (5.2, 0.4)}.items():
        p = space.profile(space.named(name))
        assert round(p.params / 1e6, 1) == mparams
        assert round(p.macs / 1e9, 1) == gmacs


def test_regnet_lowers_through_the_anynet_block_code() -> None:
    regnet = get_space("regnet")
    arch = regnet.named("RegNetX-200MF")
    anynet = AnyNetSpace(variant="A")
    same = anynet.make({**{f"s{i}.d": d for i, d in enumerate((1, 1, 4, 7), 1)},
                        **{f"s{i}.w": w for i, w in enumerate((24, 56, 152, 368), 1)},
                        **{f"s{i}.b": 1 for i in range(1, 5)}, **{f"s{i}.g": 8 for i in range(1, 5)}})
    assert regnet.blocks(arch, 224) == anynet.blocks(same, 224)


def brute_force_size(space: RegNetSpace) -> int:
    w0s, was, wms, ds, gs = (d.choices for d in space.decisions)
    valid = 0
    for w0, wa, wm, d in itertools.product(w0s, was, wms, ds):
        ws, _ = generate_regnet(w0, wa, wm, d)  # type: ignore[arg-type]
        top = round(math.log((wa * (d - 1) + w0) / w0) / math.log(wm))  # last exponent
        valid += len(ws) == top + 1 == space.stages
    return valid * len(gs)


def test_size_counts_valid_grid_points_exactly() -> None:
    small = RegNetSpace(w0s=(8, 24, 48), was=(8.0, 24.48, 36.44), wms=(1.5, 2.49, 3.0),
                        depths=(12, 13, 20), group_widths=(8, 16))
    assert small.size() == brute_force_size(small) == sum(1 for _ in small.enumerate())
    assert 0 < small.size() < 3 ** 4 * 2
    free = RegNetSpace(stages=0, w0s=(8, 24), was=(8.0,), wms=(2.0,), depths=(12,))
    assert free.size() == 2 * 6


def test_default_size_and_grid() -> None:
    space = get_space("regnet")
    assert space.size() == 239_472  # regression value; the brute force agrees on small grids
    assert len(space.decision("w0").choices) == 32 and space.decision("w0").choices[-1] == 256
    assert {24.48, 35.73, 36.44} <= set(space.decision("wa").choices)
    assert min(space.decision("wm").choices) == 1.5 and max(space.decision("wm").choices) == 3.0
    assert space.decision("d").choices == tuple(range(12, 29))


def test_cached_stage_profile_agrees_with_generate_regnet() -> None:
    rng = random.Random(0)
    for _ in range(300):
        w0, wa = rng.randrange(8, 257, 8), rng.choice((8.0, 17.5, 36.44, 64.0))
        wm, d = rng.choice((1.5, 2.0, 2.49, 3.0)), rng.randrange(1, 29)
        num, _, _ = _stage_profile(w0, wa, wm, 28)[d - 1]
        assert num == len(generate_regnet(w0, wa, wm, d)[0])
        widths = [w for _, _, w in _stage_profile(w0, wa, wm, 28)[:d]]
        ws = sorted(set(widths))
        assert generate_regnet(w0, wa, wm, d) == (ws, [widths.count(w) for w in ws])


def test_stage_specs_are_generate_regnets_stages() -> None:
    """stage_specs (from the profile validation computes) gives generate_regnet's stages, on
    sampled archs of spaces with and without the stage check (and of their decisions in
    another order) and for an arch deeper than the space's depths."""
    from archspace.space import Arch

    for space in (get_space("regnet"), get_space("regnet", stages=0, depths=(1, 3, 40))):
        rng = random.Random(3)
        for _ in range(200):
            a = space.sample(rng)
            ws, ds = generate_regnet(a["w0"], a["wa"], a["wm"], a["d"])
            want = [(d, w, 1, a["g"]) for w, d in zip(ws, ds, strict=True)]
            assert space.stage_specs(a) == want
            assert space.stage_specs(Arch(a.names[::-1], a.values[::-1])) == want  # by name
    deep = Arch(a.names, (a["w0"], a["wa"], a["wm"], 60, a["g"]))
    ws, ds = generate_regnet(a["w0"], a["wa"], a["wm"], 60)
    assert space.stage_specs(deep) == [(d, w, 1, a["g"]) for w, d in zip(ws, ds, strict=True)]


def test_stage_constraint_is_enforced() -> None:
    space = get_space("regnet")
    with pytest.raises(ArchError, match="give 5 stages; the space allows 4"):
        space.make({"w0": 8, "wa": 8.0, "wm": 2.0, "d": 12, "g": 8})
    with pytest.raises(ArchError, match="leave 2 of 7 quantized stages empty"):
        space.make({"w0": 8, "wa": 64.0, "wm": 2.0, "d": 12, "g": 8})
    assert RegNetSpace(stages=5).make({"w0": 8, "wa": 8.0, "wm": 2.0, "d": 12, "g": 8})
    rng = random.Random(1)
    for _ in range(100):
        specs = space.stage_specs(space.sample(rng))
        assert len(specs) == 4


def test_named_archs_and_diagram() -> None:
    space = get_space("regnet")
    assert set(space.named_archs()) == set(PUBLISHED)
    assert RegNetSpace(was=(8.0, 16.0)).named_archs() == {}
    d = space.diagram(space.named("RegNetX-400MF"))
    assert d.kind == "strip" and len(d.nodes) == 6
    assert "w=32" in d.nodes[1].label and "12 x X block" in d.nodes[4].label  # adjusted widths


def test_generate_regnet_is_the_per_block_rule() -> None:
    """generate_regnet gives the distinct widths of the per-block rule (exponent and
    quantized width of every block) in order, and how many blocks have each, over a grid."""
    from archspace.spaces.regnet import _exponent, _quantized

    for w0 in (8, 24, 56, 200):
        for wa in (0.0, 8.0, 24.48, 36.44, 64.0):
            for wm in (1.5, 2.28, 2.49, 3.0):
                for d in (1, 13, 28):
                    widths = [_quantized(w0, wm, _exponent(j, w0, wa, wm)) for j in range(d)]
                    ws = sorted(set(widths))
                    assert generate_regnet(w0, wa, wm, d) == (ws, [widths.count(w) for w in ws])
