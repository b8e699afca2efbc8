"""NAS-FPN's merging-cell space: exact size, the discovered architecture, cell semantics."""

from __future__ import annotations

import math
import random

import pytest
import torch

from archspace import ArchError, ParamError, SpaceError, get_space
from archspace.ir.graph import Graph, Node
from archspace.spaces.nasfpn import NASFPN_SPEC, NASFPNSpace


def formula(cells: int) -> int:
    """Ordered pairs of distinct inputs x ops, levels 4-7 for intermediate cells, 5! orders."""
    n = math.factorial(5)
    for i in range(cells):
        pool = 5 + i
        n *= pool * (pool - 1) * 2 * (4 if i < cells - 5 else 1)
    return n


@pytest.mark.parametrize("cells", [5, 6, 7, 9])
def test_size_matches_the_closed_form(cells: int) -> None:
    assert NASFPNSpace(cells=cells).size() == formula(cells)


def test_restricted_size_matches_enumeration() -> None:
    space = NASFPNSpace(cells=5).restrict(
        {"c*.in0": ["P3", "P4"], "c*.in1": ["P3", "P4", "P5"], "c*.op": ["sum"],
         "outputs": ["P3-P4-P5-P6-P7", "P7-P6-P5-P4-P3"]})
    assert space.size() == (2 * 3 - 2) ** 5 * 2
    assert sum(1 for _ in space.enumerate()) == space.size()


def test_sampled_inputs_differ_and_equal_inputs_are_rejected() -> None:
    space = get_space("nasfpn")
    rng = random.Random(0)
    for _ in range(200):
        specs = space.cell_specs(space.sample(rng))
        assert all(a != b for a, b, _, _ in specs)
        assert sorted(lv for _, _, lv, _ in specs[-5:]) == [3, 4, 5, 6, 7]
        assert all(lv != 3 for _, _, lv, _ in specs[:-5])
    arch = space.named("nasfpn").replace(**{"c3.in1": "c1"})
    with pytest.raises(ArchError, match="cell c3 takes c1 twice"):
        space.validate(arch)
    only = space.restrict({"c0.in0": ["P3"], "c0.in1": ["P3"]})
    assert only.size() == 0
    with pytest.raises(SpaceError, match="no architectures"):
        only.sample(1)


def test_named_arch_is_the_discovered_nasfpn() -> None:
    space = get_space("nasfpn")
    specs = space.cell_specs(space.named("nasfpn"))
    assert [tuple(s) for s in specs] == [tuple(s) for s in NASFPN_SPEC]
    assert NASFPNSpace(cells=6).named_archs() == {}


def _by_name(g: Graph, name: str) -> Node:
    return next(n for n in g if n.name == name)


def test_attention_gates_with_the_coarser_input_and_unused_inputs_are_summed() -> None:
    space = get_space("nasfpn")
    g = space.lower(space.named("nasfpn"), 128)
    # c0 merges P4 and P6 at level 4: the gate comes from P6, upsampled to level 4.
    gate_src = g.nodes[_by_name(g, "fpn0.c0.global_max").inputs[0]]
    assert gate_src.op == "upsample" and gate_src.shape == (64, 8, 8)
    assert _by_name(g, "fpn0.c0.global_max").shape == (64, 1, 1)
    # P5 and P7 feed no cell, so the level-5 and level-7 output cells (c4, c5) add them.
    p5, p7 = _by_name(g, "lateral.bn_2").id, _by_name(g, "lateral.bn_4").id
    adds = {n.name.split(".")[1]: n.inputs for n in g if n.op == "add" and len(n.inputs) == 2
            and n.name.startswith("fpn0") and (p5 in n.inputs or p7 in n.inputs)}
    assert set(adds) == {"c4", "c5"}
    assert p5 in adds["c4"] and p7 in adds["c5"]


def test_each_merge_ends_with_relu_conv3x3_bn_and_pyramid_levels_are_exact() -> None:
    space = get_space("nasfpn")
    g = space.lower(space.sample(4), 256)
    convs = [n for n in g if n.op == "conv" and n.name.startswith("fpn0.c")]
    assert len(convs) == 7 and all(n.attrs["kernel"] == (3, 3) for n in convs)
    assert all(g.nodes[n.inputs[0]].op == "act" for n in convs)
    sizes = sorted(n.shape[1] for n in convs[-5:])
    assert sizes == [2, 4, 8, 16, 32]  # P7..P3 of a 256 input
    assert g.output.shape == (1000,)


def test_resolution_must_be_a_multiple_of_128() -> None:
    space = get_space("nasfpn")
    arch = space.sample(0)
    for bad in (100, 200, 64):
        with pytest.raises(SpaceError, match="multiples of 128"):
            space.lower(arch, bad)
    assert space.lower(arch, 384).inputs[0].shape == (3, 384, 384)
    with pytest.raises(SpaceError, match="multiples of 128"):
        NASFPNSpace(resolution=300)
    with pytest.raises(ParamError, match="cells >= 5"):
        NASFPNSpace(cells=4)


def test_stacking_repeats_the_cells_with_their_own_weights() -> None:
    one, two = NASFPNSpace(stacks=1), NASFPNSpace(stacks=2)
    arch = one.named("nasfpn")
    cell_params = 7 * (64 * 64 * 9 + 2 * 64)
    assert two.profile(arch, 128).params - one.profile(arch, 128).params == cell_params


def test_built_network_runs() -> None:
    space = NASFPNSpace(channels=16, num_classes=5)
    arch = space.sample(9)
    model = space.build(arch, 128).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 128, 128)).shape == (2, 5)


def test_dag_diagram_has_inputs_cells_and_outputs() -> None:
    space = get_space("nasfpn")
    d = space.diagram(space.named("nasfpn"))
    assert d.kind == "dag"
    groups = [n.group for n in d.nodes]
    assert groups.count("input") == 5 and groups.count("output") == 5
    plus = [e for e in d.edges if e.label == "+"]
    assert {(e.src, e.dst) for e in plus} == {("P5", "c4"), ("P7", "c5")}
