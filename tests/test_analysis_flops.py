"""FLOPs distributions under constraints (TinyNAS) and the fast cost sampler behind them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from archspace.analysis.flops import derived_seed, flops_distribution, grid_label, space_grid
from archspace.analysis.sampling import SegmentCache, _Factorised, _generic, _Unfactorisable, sample_costs
from archspace.errors import ArchspaceError, ParamError
from archspace.ir.blocks import Block, ClassifierHead, ConvBNAct
from archspace.ir.graph import Graph, Node
from archspace.space import Arch, ChainSpace, Decision
from archspace.spaces import get_space

SMALL = {"num_classes": 10}


def test_mobilenetv2_peak_sram_is_mcunets_figure() -> None:
    space = get_space("mobilenetv2")
    assert space.profile(space.named("mobilenetv2")).peak_sram_bytes == 1_404_928


def _exact(space: ChainSpace, n: int, seed: int) -> None:
    """The factorised costs equal space.profile arch by arch."""
    fact = _Factorised(space, np.random.default_rng(seed))
    idx = np.stack([fact.rng.integers(k, size=n) for k in fact.radix], axis=1)
    costs = fact.costs(idx)
    act = fact._active(idx)
    for j in range(n):
        p = space.profile(fact._arch(idx[j].tolist(), act[j].tolist()))
        got = (costs.params[j], costs.macs[j], costs.peak_sram_bytes[j], costs.flash_bytes[j])
        assert got == (p.params, p.macs, p.peak_sram_bytes, p.flash_bytes)
    assert costs.path == "factorised"


def test_factorised_costs_match_profile_mobilenetv2() -> None:
    _exact(get_space("mobilenetv2", width=0.5, resolution=64, **SMALL), 60, 1)  # type: ignore[arg-type]


def test_factorised_costs_match_profile_nb201() -> None:
    # every cell block depends on all six decisions: one table of 5**6 codes per slot
    _exact(get_space("nb201", N=2), 60, 3)  # type: ignore[arg-type]


def test_factorised_costs_match_profile_with_conditional_depths() -> None:
    try:
        space = get_space("mcunet", width=0.3, resolution=64, **SMALL)
    except ImportError:
        pytest.skip("mcunet space not available")
    _exact(space, 60, 2)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Conv(Block):
    """An 8-channel conv whose kernel depends on two decisions jointly."""

    kernel: int

    def lower(self, g: Graph, x: Node) -> Node:
        return ConvBNAct(8, self.kernel).lower(g, x)


class _Interacting(ChainSpace):
    """Kernel 1 when a=0, else 1, 3 or 5 by b: b matters only when a=1."""

    name = "interacting"
    min_resolution = 8

    def __init__(self) -> None:
        self.default_resolution = 8
        self._set_decisions([Decision.of("a", (0, 1)), Decision.of("b", (0, 1, 2))])

    def blocks(self, arch: Arch, resolution: int) -> list[Block]:
        a, b = int(arch["a"]), int(arch["b"])  # type: ignore[arg-type]
        return [_Conv(1 if a == 0 else (1, 3, 5)[b]), ClassifierHead(3)]


def test_missed_interaction_is_detected_and_falls_back() -> None:
    space = _Interacting()
    # probing from a=0 cannot see that b matters; the tables must notice
    fact = _Factorised(space, np.random.default_rng(0), base=[0, 1])
    assert fact.deps[0] == [0]
    every = np.array([[a, b] for a in range(2) for b in range(3)])
    with pytest.raises(_Unfactorisable):
        fact.costs(every)
    costs = sample_costs(space, 40, 5)
    ref = _generic(space, 40, 5)
    assert costs.path in ("factorised", "generic")
    if costs.path == "generic":
        assert np.array_equal(costs.macs, ref.macs)


def test_sample_costs_generic_path_for_constrained_spaces() -> None:
    space = get_space("anynet", variant="D", resolution=32, num_classes=10, max_depth=2,
                      max_width=32)
    costs = sample_costs(space, 5, 0)
    assert costs.path == "generic"
    rng_costs = _generic(space, 5, 0)
    assert np.array_equal(costs.macs, rng_costs.macs)


def test_segment_cache_shared_between_spaces() -> None:
    cache = SegmentCache()
    for w in (0.35, 0.5):
        sample_costs(get_space("mobilenetv2", width=w, resolution=48, **SMALL), 20, 0, cache)
    assert len(cache._segments) > 0


def _tiny_grid() -> dict[str, object]:
    return space_grid("mobilenetv2", {"width": [0.35, 0.5], "resolution": [48, 64]}, SMALL)


def test_grid_labels_and_spaces() -> None:
    grid = _tiny_grid()
    assert list(grid) == ["w0.35-r48", "w0.35-r64", "w0.5-r48", "w0.5-r64"]
    assert grid_label({"width": 0.5, "resolution": 144}) == "w0.5-r144"
    assert grid_label({"B": 3}) == "B=3"
    with pytest.raises(ParamError):
        space_grid("mobilenetv2", {"width": [0.5]}, {"width": 0.5})


def test_flops_study_numbers() -> None:
    grid = _tiny_grid()
    study = flops_distribution(grid, ["peak_sram<=40kB", "flash<=600kB"], samples=80, seed=3,
                               min_count=5)
    assert [s.label for s in study.spaces] == list(grid)
    for s in study.spaces:
        assert 0.0 <= s.fraction <= 1.0
        assert s.n == 80 and len(s.macs) == s.n_ok
        assert np.all(np.diff(s.macs) >= 0)
        if s.n_ok:
            assert s.stat("median") <= s.stat("p90") <= s.macs[-1]  # type: ignore[operator]
    eligible = [s for s in study.spaces if s.n_ok >= 5]
    assert eligible, "the budget should admit some models"
    best = max(eligible, key=lambda s: s.stat("mean") or 0.0)
    assert study.pick == best.label
    assert best.label in study.reason
    # reproducible, and a space's sample does not depend on its neighbours in the grid
    again = flops_distribution({"w0.5-r64": grid["w0.5-r64"]}, ["peak_sram<=40kB",
                               "flash<=600kB"], samples=80, seed=3, min_count=5)
    assert np.array_equal(again.spaces[0].macs, study["w0.5-r64"].macs)


def test_fraction_matches_constraints_on_the_same_sample() -> None:
    space = get_space("mobilenetv2", width=0.35, resolution=48, **SMALL)
    costs = sample_costs(space, 50, derived_seed(0, "one"))
    limit = float(np.median(costs.peak_sram_bytes))
    study = flops_distribution({"one": space}, [f"peak_sram<={limit:.0f}"], 50, 0, min_count=1)
    assert study.spaces[0].n_ok == int((costs.peak_sram_bytes <= limit).sum())


def test_empty_and_small_spaces_are_never_picked() -> None:
    grid = _tiny_grid()
    study = flops_distribution(grid, ["macs<=1k"], samples=30, seed=0)
    assert study.pick is None
    assert all(s.n_ok == 0 and s.stat("mean") is None for s in study.spaces)
    assert "no space" in study.reason
    row = study.to_dict()["spaces"][0]
    assert row["mean_macs"] is None and row["fraction"] == 0.0
    few = flops_distribution(grid, ["peak_sram<=40kB"], samples=30, seed=0, min_count=31)
    assert few.pick is None and not any(s.eligible for s in few.spaces)


def test_a_family_list_gets_short_labels() -> None:
    try:
        from archspace.spaces.mcunet import MCUNetSpace
    except ImportError:
        pytest.skip("mcunet space not available")
    family = MCUNetSpace.family(widths=(0.3, 0.5), resolutions=(48, 64), num_classes=10)
    study = flops_distribution(family, ["peak_sram<=64kB"], samples=20, seed=0, min_count=1)
    assert [s.label for s in study.spaces] == ["w0.3-r48", "w0.3-r64", "w0.5-r48", "w0.5-r64"]
    one = get_space("mobilenetv2", resolution=48, **SMALL)
    with pytest.raises(ArchspaceError, match="same label"):
        flops_distribution([one, one], [])


def test_bad_arguments() -> None:
    with pytest.raises(ArchspaceError):
        flops_distribution(_tiny_grid(), ["sram<=1MB"])
    with pytest.raises(ArchspaceError):
        flops_distribution(_tiny_grid(), [], samples=0)
    with pytest.raises(ArchspaceError):
        flops_distribution({}, [])
