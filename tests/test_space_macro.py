"""ENAS's macro space: exact size, reductions, skip connections, the built network."""

from __future__ import annotations

import pytest
import torch

from archspace import ParamError, get_space
from archspace.spaces.macro import OPS, MacroSpace


@pytest.mark.parametrize("layers", [1, 2, 3, 6, 12])
def test_size_is_ops_times_skip_subsets(layers: int) -> None:
    assert MacroSpace(layers=layers).size() == 6 ** layers * 2 ** (layers * (layers - 1) // 2)


def test_enumeration_matches_size_and_enas_count() -> None:
    assert sum(1 for _ in MacroSpace(layers=3).enumerate()) == 6 ** 3 * 2 ** 3
    assert f"{MacroSpace(layers=12).size():.2g}" == "1.6e+29"  # the ENAS paper's figure


def test_reductions_sit_at_enas_pool_layers() -> None:
    assert MacroSpace(layers=6).reductions() == [1, 3]
    assert MacroSpace(layers=12).reductions() == [3, 7]
    assert MacroSpace(layers=2).reductions() == []
    space = get_space("macro")
    arch = space.make({**{f"l{i}.op": "conv3x3" for i in range(6)},
                       **{f"l{i}.skip{j}": 0 for i in range(6) for j in range(i)}})
    g = space.lower(arch, 32)
    outs = {n.name.split(".")[0]: n.shape for n in g if n.name.startswith("l")}
    assert [outs[f"l{i}"] for i in range(6)] == [(24, 32, 32), (24, 32, 32), (48, 16, 16),
                                                 (48, 16, 16), (96, 8, 8), (96, 8, 8)]


def test_skips_are_added_and_reductions_are_shared() -> None:
    space = get_space("macro")
    values = {f"l{i}.op": OPS[i] for i in range(6)}
    values |= {f"l{i}.skip{j}": 0 for i in range(6) for j in range(i)}
    values |= {"l4.skip0": 1, "l5.skip0": 1, "l5.skip3": 1}
    g = space.lower(space.make(values), 32)
    adds = [n for n in g if n.op == "add" and n.name.split(".")[0] in ("l4", "l5")]
    assert [len(n.inputs) for n in adds] == [2, 3]
    # layer 0's output is reduced to stage 1 and then stage 2 once, then shared by l4 and l5
    assert sum(n.op == "concat" and n.name.startswith("reduce0_") for n in g) == 2
    d = space.diagram(space.make(values))
    assert {(e.src, e.dst) for e in d.edges if e.label == "skip"} == {
        ("l0", "l4"), ("l0", "l5"), ("l3", "l5")}


def test_every_op_builds_and_runs() -> None:
    space = MacroSpace(layers=6, channels=8)
    for op in OPS:
        values = {f"l{i}.op": op for i in range(6)}
        values |= {f"l{i}.skip{j}": (i + j) % 2 for i in range(6) for j in range(i)}
        arch = space.make(values)
        model = space.build(arch, 16).eval()
        with torch.no_grad():
            assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)
        assert sum(p.numel() for p in model.parameters()) == space.profile(arch, 16).params


def test_bad_parameters_are_reported() -> None:
    with pytest.raises(ParamError, match=r"layers=0 .* integer in 1\.\.100"):
        MacroSpace(layers=0)
