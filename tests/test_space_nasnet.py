"""NASNet: exact and lecture sizes, NASNet-A, the op list parameters and the network."""

from __future__ import annotations

import itertools
import math
import random

import pytest
import torch

from archspace import ParamError, get_space
from archspace.spaces import parse_params
from archspace.spaces.nasnet import NASNET_A, NASNET_OPS, NASNetSpace


def _space(**params: object) -> NASNetSpace:
    s = get_space("nasnet", **params)
    assert isinstance(s, NASNetSpace)
    return s


def _exact(M: int, N: int, B: int) -> int:
    return math.prod((2 + b) ** 2 * M * M * N for b in range(B)) ** 2


@pytest.mark.parametrize(("M", "N", "B"), [(2, 2, 1), (1, 1, 2), (1, 2, 2)])
def test_exact_size_matches_enumeration(M: int, N: int, B: int) -> None:
    s = _space(M=M, N=N, B=B)
    assert s.size() == _exact(M, N, B)
    assert sum(1 for _ in s.enumerate()) == s.size()


def test_exact_size_counts_blocks_by_hand() -> None:
    # One cell with B=2, M=2, N=1: block 0 picks (in0, in1) in {0,1}^2, block 1 in {0,1,2}^2.
    blocks0 = list(itertools.product(range(2), range(2), range(2), range(2)))
    blocks1 = list(itertools.product(range(3), range(3), range(2), range(2)))
    per_cell = len(blocks0) * len(blocks1)
    assert _space(M=2, N=1, B=2).size() == per_cell**2 == (16 * 36) ** 2


def test_default_size_and_lecture_formula() -> None:
    s = _space()
    assert s.size() == _exact(13, 2, 5)
    assert s.size_formulas() == {"lecture": (2 * 2 * 13 * 13 * 2) ** 5}
    lecture = get_space("nasnet", **parse_params("nasnet", ["M=5", "N=2", "B=5"]))
    assert lecture.size_formulas()["lecture"] == 320_000_000_000


def test_m_and_n_keep_the_first_ops() -> None:
    s = _space(M=5, N=1)
    assert s.decision("normal.b0.op0").choices == NASNET_OPS[:5]
    assert s.decision("reduce.b4.comb").choices == ("add",)
    assert s.named_archs() == {}  # NASNet-A needs separable convs
    custom = _space(ops=("sep_conv_3x3", "identity"), combine=("concat",))
    assert custom.decision("normal.b2.op1").choices == ("sep_conv_3x3", "identity")
    assert custom.label == "nasnet(ops=('sep_conv_3x3', 'identity'),combine=('concat',))"


@pytest.mark.parametrize(("params", "msg"), [
    ({"M": 14}, "M=14 .* integer in 1..13"),
    ({"N": 3}, "N=3 .* integer in 1..2"),
    ({"B": 0}, "B=0 .* integer in 1..100"),
    ({"ops": ("conv_5x5",)}, "unknown 'conv_5x5'; allowed: identity, conv_1x3_3x1"),
    ({"combine": ("mul",)}, "unknown 'mul'; allowed: add, concat"),
])
def test_bad_parameters_raise(params: dict[str, object], msg: str) -> None:
    with pytest.raises(ParamError, match=msg):
        _space(**params)


def test_nasnet_a_cells_and_concat_rule() -> None:
    s = _space()
    arch = s.named("nasnet_a")
    assert s.blocks(arch, "normal") == list(NASNET_A["normal"])
    assert s.unused(s.blocks(arch, "normal")) == [0, 1, 2, 3, 4]
    assert s.unused(s.blocks(arch, "reduce")) == [2, 3, 4]  # DARTS's reduce_concat [4, 5, 6]
    shapes = {n.name: n.shape for n in s.lower(arch)}
    assert shapes["cell0.concat"] == (5 * 16, 32, 32)
    assert shapes["cell1.concat"] == (3 * 32, 16, 16)
    assert _space(B=4).named_archs() == {}


def test_concat_combine_maps_back_to_c() -> None:
    s = _space(combine=("concat",), B=2)
    arch = s.sample(1)
    g = s.lower(arch)
    shapes = {n.name: n.shape for n in g}
    for b in range(2):
        block = [n for n in g if n.name.startswith(f"cell0.b{b}.")]
        assert shapes[f"cell0.b{b}.concat"][0] == 32
        assert [n.op for n in block[-4:]] == ["concat", "act", "conv", "bn"]
        assert block[-1].shape == (16, 32, 32)  # the 1x1 conv back to C
    k = len(s.unused(s.blocks(arch, "normal")))
    assert k == 2 and shapes["cell0.concat"] == (k * 16, 32, 32)
    prof = s.profile(arch)
    model = s.build(arch).eval()
    assert sum(p.numel() for p in model.parameters()) == prof.params
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_cells_not_reading_an_input_leave_dead_code_out() -> None:
    s = _space(cells=2)
    arch = s.make({**s.named("nasnet_a").to_dict(),
                   "normal.b0.in0": 0, "normal.b2.in0": 0, "normal.b4.in0": 0, "normal.b4.in1": 0})
    assert 1 not in {i for blk in s.blocks(arch, "normal") for i in blk[:2]}
    live = s.live_cells(arch)
    # N N R N N R N N: the last normal cell reads only cell 5; cell 6 feeds nothing.
    assert live == [True] * 6 + [False, True]
    names = {n.name.split(".")[0] for n in s.lower(arch)}
    assert "cell6" not in names and "cell5" in names
    assert not any(n.name.startswith("cell0.pre1") for n in s.lower(arch))
    model = s.build(arch).eval()
    assert sum(p.numel() for p in model.parameters()) == s.profile(arch).params
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


@pytest.mark.parametrize("op", NASNET_OPS)
def test_every_op_builds_and_runs(op: str) -> None:
    s = _space(ops=(op,), B=2)
    arch = s.sample(0)
    model = s.build(arch, resolution=16).eval()
    assert sum(p.numel() for p in model.parameters()) == s.profile(arch, resolution=16).params
    with torch.no_grad():
        assert model(torch.randn(1, 3, 16, 16)).shape == (1, 10)


def test_diagram_has_one_dag_panel_per_cell() -> None:
    s = _space()
    d = s.diagram(s.named("nasnet_a"))
    assert [p.title for p in d.panels] == ["normal cell", "reduce cell"]
    normal, reduce = d.panels
    assert normal.kind == reduce.kind == "dag"
    assert ("c_{k-2}", "1", "sep_conv_5x5 | sep_conv_3x3") in {
        (e.src, e.dst, e.label) for e in normal.edges}
    assert {e.src for e in reduce.edges if e.dst == "out"} == {"2", "3", "4"}


# -- equivalent archs: a block's two terms are unordered -----------------------------------------
@pytest.mark.parametrize("params", [dict(B=1, M=2, N=2), dict(B=2, M=2, N=1)])
def test_distinct_size_counts_the_classes_of_canonical(params: dict[str, int]) -> None:
    space = _space(**params)
    reps = {space.canonical(a) for a in space.enumerate()}
    assert len(reps) == space.distinct_size() < space.size()
    assert all(space.canonical(r) == r for r in reps)
    # per block: unordered pairs of (input, op) terms, times the combine ops
    expected = 1
    for b in range(params["B"]):
        pairs = (2 + b) * params["M"]
        expected *= pairs * (pairs + 1) // 2 * params["N"]
    assert space.distinct_size() == expected**2


def test_swapping_a_block_s_terms_builds_the_same_network() -> None:
    space = _space(B=3)
    rng = random.Random(0)
    for _ in range(20):
        arch = space.sample(rng)
        rep = space.canonical(arch)
        swapped = dict(arch.items())
        for t in ("normal", "reduce"):
            for b in range(3):
                k = f"{t}.b{b}"
                swapped[f"{k}.in0"], swapped[f"{k}.in1"] = arch[f"{k}.in1"], arch[f"{k}.in0"]
                swapped[f"{k}.op0"], swapped[f"{k}.op1"] = arch[f"{k}.op1"], arch[f"{k}.op0"]
        other = space.make(swapped)
        assert space.canonical(other) == rep
        a, r = space.profile(arch), space.profile(rep)
        assert (a.params, a.macs) == (r.params, r.macs)  # peak memory follows the term order


def test_canonical_stays_inside_a_restricted_space() -> None:
    space = _space(B=1, M=2, N=1).restrict({"*.b0.in0": [0]})
    reps = {space.canonical(a) for a in space.enumerate()}
    assert all(str(r["normal.b0.in0"]) == "0" for r in reps)
    assert len(reps) == space.distinct_size()


@pytest.mark.parametrize("restriction", [
    {"*.b0.op1": ["conv_1x3_3x1"]},
    {"normal.b1.in1": [0, 2], "reduce.b0.op0": ["identity"]},
    {"*.in0": [1], "*.in1": [0]},
])
def test_distinct_size_closed_form_matches_the_classes_of_canonical(
        restriction: dict[str, list[object]]) -> None:
    space = _space(B=2, M=2, N=1).restrict(restriction)
    assert len({space.canonical(a) for a in space.enumerate()}) == space.distinct_size()


def test_distinct_size_of_many_blocks_is_quick_to_compute() -> None:
    # the closed form is linear in B (enumerating each block's choices was cubic: minutes)
    space = _space(B=100)
    pairs = [(2 + b) * 13 for b in range(100)]
    expected = 1
    for p in pairs:
        expected *= p * (p + 1) // 2 * 2
    assert space.distinct_size() == expected**2
