"""DARTS: exact size, the published genotypes and their parameter count, the CIFAR network."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from archspace import ArchError, get_space
from archspace.spaces.darts import DARTS_OPS, GENOTYPES, DARTSSpace


@pytest.fixture(scope="module")
def space() -> DARTSSpace:
    s = get_space("darts")
    assert isinstance(s, DARTSSpace)
    return s


def test_size_counts_unordered_distinct_input_pairs(space: DARTSSpace) -> None:
    # Node n of a cell sees n + 2 states; it keeps two distinct ones, each with its own op.
    # Enumerate the distinct {(input, op), (input, op)} sets per node to check the closed form.
    per_cell = 1
    for n in range(4):
        choices = {frozenset({(a, oa), (b, ob)})
                   for a, b in itertools.permutations(range(n + 2), 2)
                   for oa in DARTS_OPS for ob in DARTS_OPS}
        assert len(choices) == math.comb(n + 2, 2) * 8**2
        per_cell *= len(choices)
    assert per_cell == (1 * 3 * 6 * 10) * 8**8 == 3_019_898_880
    assert space.size() == per_cell**2 == 9_119_789_245_425_254_400


def test_restricted_cell_enumerates_to_its_size(space: DARTSSpace) -> None:
    sub = space.restrict({"*.op*": ["skip_connect"], "*.n2.in": ["0+1"], "*.n3.in": ["0+1"]})
    assert sub.size() == (1 * 3) ** 2
    assert sum(1 for _ in sub.enumerate()) == 9


@pytest.mark.parametrize("name", sorted(GENOTYPES))
def test_genotypes_round_trip(space: DARTSSpace, name: str) -> None:
    arch = space.named(name)
    normal, reduce = space.genotype(arch)
    for got, want in zip((normal, reduce), GENOTYPES[name], strict=True):
        for n in range(4):
            assert set(got[2 * n:2 * n + 2]) == set(want[2 * n:2 * n + 2])
    assert space.from_genotype(normal, reduce) == arch
    assert space.parse_arch(space.format_arch(arch)) == arch


def test_genotype_with_a_repeated_input_is_rejected(space: DARTSSpace) -> None:
    normal, reduce = GENOTYPES["DARTS_V2"]
    bad = [("sep_conv_3x3", 0), ("skip_connect", 0), *normal[2:]]
    with pytest.raises(ArchError, match=r"normal\.n0\.in.*allowed: 0\+1"):
        space.from_genotype(bad, reduce)
    with pytest.raises(ArchError, match="needs 8"):
        space.from_genotype(normal[:6], reduce)


def test_darts_v2_has_the_published_parameter_count() -> None:
    big = get_space("darts", C=36, layers=20)
    prof = big.profile(big.named("DARTS_V2"))
    assert prof.params == 3_349_342  # the DARTS code's 3.349342M (paper: 3.3M), no aux head
    assert round(prof.macs / 1e6) == 528  # "528M" in the NAS-Projects genotype list


def test_network_layout(space: DARTSSpace) -> None:
    g = space.lower(space.named("DARTS_V2"))
    shapes = {n.name: n.shape for n in g}
    assert shapes["stem.conv"] == (48, 32, 32)
    assert shapes["cell1.concat"] == (64, 32, 32)
    assert shapes["cell2.concat"] == (128, 16, 16)  # reduction at layers // 3
    assert shapes["cell5.concat"] == (256, 8, 8)  # and at 2 * layers // 3
    assert "cell3.pre0.reduce.concat" in shapes  # FactorizedReduce after a reduction
    assert "cell4.pre0.reduce.concat" not in shapes
    skips = space.restrict({"reduce.*.op*": ["skip_connect"]}).sample(0)
    names = [n.name for n in space.lower(skips)]
    n0 = [n for n in names if n.startswith("cell2.n0.")]  # ops named cell2.n0.op<k>.<op>.*
    assert "cell2.n0.op0.skip_connect.reduce.concat" in n0  # stride 2: FactorizedReduce
    assert not any(n.endswith("identity") for n in n0)


def test_none_and_skip_ops(space: DARTSSpace) -> None:
    arch = space.restrict({"*.op*": ["none", "skip_connect"]}).sample(0)
    g = space.lower(arch)
    ops = {n.op for n in g}
    assert "zero" in ops
    model = space.build(arch).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_built_modules_run_and_match_the_cost_model(space: DARTSSpace) -> None:
    for arch in [*space.named_archs().values(), space.sample(3)]:
        prof = space.profile(arch, resolution=16)
        model = space.build(arch, resolution=16).eval()
        assert sum(p.numel() for p in model.parameters()) == prof.params
        with torch.no_grad():
            assert model(torch.randn(1, 3, 16, 16)).shape == (1, 10)


def test_diagram_has_one_dag_panel_per_cell(space: DARTSSpace) -> None:
    d = space.diagram(space.named("DARTS_V2"))
    assert [p.title for p in d.panels] == ["normal cell", "reduce cell"]
    normal = d.panels[0]
    assert normal.kind == "dag"
    assert ("c_{k-2}", "3", "dil_conv_3x3") not in {(e.src, e.dst, e.label) for e in normal.edges}
    assert ("0", "3", "dil_conv_3x3") in {(e.src, e.dst, e.label) for e in normal.edges}
    assert sum(1 for e in normal.edges if e.dst == "out") == 4
