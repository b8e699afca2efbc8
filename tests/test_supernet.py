"""The weight-sharing supernet: one store of weights for every arch of a space, sliced by the
IR's node names; the extracted stand-alone network computes what the supernet computes."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archspace import get_space
from archspace.errors import ArchError
from archspace.space import Space
from archspace.supernet import Supernet, SupernetError, SupernetUnsupported, build_supernet

TINY: dict[str, tuple[dict[str, Any], int]] = {
    "nb201": ({"C": 4, "N": 1}, 16),
    "darts": ({"C": 4, "layers": 3}, 16),
    "nasnet": ({"channels": 4, "B": 2, "cells": 1}, 16),
    "mobilenetv2": ({"width": 0.2, "num_classes": 10, "resolution": 32}, 32),
    "proxyless": ({"width": 0.2, "num_classes": 10, "resolution": 32}, 32),
    "mcunet": ({"width": 0.2, "num_classes": 10, "resolution": 32}, 32),
    "mnasnet": ({"num_classes": 10, "resolution": 32}, 32),
    "macro": ({"layers": 3, "channels": 4}, 16),
    "anynet": ({"stages": 2, "max_depth": 2, "max_width": 16, "num_classes": 10,
                "resolution": 32}, 32),
    "autodeeplab": ({"layers": 3, "filter_multiplier": 4, "block_multiplier": 2,
                     "aspp_channels": 8}, 32),
    "regnet": ({"stages": 2, "w0s": (8, 16), "was": (8.0,), "wms": (2.0,), "depths": (2, 3),
                "group_widths": (4, 8), "num_classes": 10, "resolution": 32}, 32),
}


def _supernet(name: str) -> tuple[Space, Supernet, int]:
    params, r = TINY[name]
    space = get_space(name, **params)
    return space, build_supernet(space, r, samples=2), r


@pytest.mark.parametrize("name", sorted(TINY))
def test_extracted_network_computes_what_the_supernet_computes(name: str) -> None:
    torch.manual_seed(0)
    space, sn, r = _supernet(name)
    x = torch.randn(3, 3, r, r)
    for seed in range(2 if name in ("nb201", "mcunet", "macro") else 1):
        arch = sn.sample(seed)
        sn.train()
        sn(x)  # moves the shared batch-norm statistics away from their start
        sn.eval()
        with torch.no_grad():
            y = sn(x)
            model = sn.extract(arch).eval()
            assert type(model) is type(space.build(arch, r))
            assert torch.allclose(model(x), y, atol=1e-5)
        assert sum(p.numel() for p in model.parameters()) == sn.active_parameters()


def test_recalibration_is_the_cumulative_average_whatever_the_statistics_were() -> None:
    """SPOS's protocol: the active arch's statistics are re-estimated from its calibration
    batches alone (as torch's momentum=None from reset statistics), so earlier training or
    scoring of other archs leaves no trace in its score."""
    torch.manual_seed(0)
    _, sn, r = _supernet("nb201")
    arch = sn.sample(3)
    batches = [torch.randn(8, 3, r, r) for _ in range(3)]
    for bn in sn.layers.values():
        if isinstance(bn, torch.nn.BatchNorm2d):
            bn.running_mean.add_(5.0)
            bn.running_var.mul_(9.0)
    assert sn.recalibrate(batches) == 3
    ref = sn.extract(arch)
    for m in ref.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    ref.train()
    with torch.no_grad():
        for b in batches:
            ref(b)
        x = torch.randn(4, 3, r, r)
        assert torch.allclose(ref.eval()(x), sn.eval()(x), atol=1e-5)


def test_spos_samples_every_op_of_every_edge_uniformly() -> None:
    import random
    from collections import Counter

    space = get_space("nb201", C=4, N=1)
    counts = Counter()
    for step in range(1000):
        arch = space.sample(random.Random(f"spos:0:{step}"))  # as train_supernet draws paths
        counts.update(zip(arch.names, arch.values, strict=True))
    assert len(counts) == 6 * 5
    assert all(150 <= c <= 250 for c in counts.values())  # 200 expected, 5+ sigma apart


def test_training_a_path_moves_its_slice_of_the_shared_statistics() -> None:
    space, sn, r = _supernet("mcunet")
    sn.activate(space.sample(0)).train()
    bn = sn.layers["b0_bn"]
    before = bn.running_mean.clone()
    sn(torch.randn(4, 3, r, r))
    c = space.lower(sn.arch, r).nodes[2].shape[0]
    assert not torch.equal(bn.running_mean[:c], before[:c])


def test_cell_edges_hold_one_set_of_weights_per_candidate_op() -> None:
    _, sn, _ = _supernet("nb201")
    keys = set(sn.layers)
    for op in ("nor_conv_1x1", "nor_conv_3x3"):
        assert f"s0c0_e01_{op}_conv" in keys and f"s0c0_e01_{op}_bn" in keys
    assert sn.layers["s0c0_e01_nor_conv_3x3_conv"].weight.shape[-1] == 3
    assert sn.layers["s0c0_e01_nor_conv_1x1_conv"].weight.shape[-1] == 1
    darts = build_supernet(get_space("darts", C=4, layers=3), 16, samples=4)
    assert {"cell0_n1_op1_sep_conv_5x5_dwconv", "cell0_n1_op0_dil_conv_3x3_dwconv"} <= set(darts.layers)


def test_chain_blocks_share_by_stage_position_and_kernels_by_transform() -> None:
    space, sn, r = _supernet("mcunet")
    a = space.sample(1).replace(**{"s1.d": 2})
    b = space.sample(2).replace(**{"s1.d": 4, "s1.b2.k": 3, "s1.b2.e": 3, "s1.b3.k": 3,
                                   "s1.b3.e": 3})
    names = {n.name for n in space.lower(b, r)}
    assert "s2.b0.dwconv" in {n.name for n in space.lower(a, r)} and "s2.b0.dwconv" in names
    assert sn.layers["s1_b0_dwconv"].weight.shape[-1] == 7  # the largest kernel of the block
    assert {"s1_b0_dwconv__7to5", "s1_b0_dwconv__5to3"} <= set(sn.ktrans)
    sn.activate(a.replace(**{"s1.b0.k": 3}))
    with torch.no_grad():
        sn.ktrans["s1_b0_dwconv__5to3"].mul_(2.0)  # the 3x3 kernel is the transformed centre
        w7 = sn.layers["s1_b0_dwconv"].weight
        node = next(n for n in sn._plan.nodes if n.name == "s1.b0.dwconv")  # type: ignore[union-attr]
        w3 = sn._conv_weight("s1_b0_dwconv", node)
        assert torch.allclose(w3, 2.0 * w7[:w3.shape[0], :, 2:5, 2:5])


def test_arch_outside_the_supernet_is_refused() -> None:
    small = get_space("mcunet", width=0.2, num_classes=10, resolution=32)
    sub = build_supernet(small.restrict({"*.e": [3]}), 32, samples=2)
    with pytest.raises(ArchError, match=r"s1\.b0\.e"):  # not an arch of the supernet's space
        sub.activate(small.sample(0).replace(**{"s1.b0.e": 6}))
    sn = build_supernet(small, 32, specs=sub.describe()["specs"])  # weights for expand 3 only
    sn.grow = False
    with pytest.raises(SupernetError, match=r"outside the supernet.*channels"):
        sn.activate(small.sample(0).replace(**{"s6.e": 6}))
    sn.grow = True
    sn.train()
    before = sn.layers["s6_expand"].weight.detach().clone()
    sn.activate(small.sample(0).replace(**{"s6.e": 6}))  # grown: old weights the leading slice
    after = sn.layers["s6_expand"].weight
    assert {"s6_expand", "s6_dwconv"} <= set(sn.grown)
    assert after.shape[0] > before.shape[0] and torch.equal(after[:before.shape[0]], before)
    sn(torch.randn(4, 3, 32, 32)).sum().backward()
    with pytest.raises(SupernetError, match="no arch is active"):
        sub(torch.zeros(1, 3, 32, 32))


def test_a_space_without_an_ir_network_is_unsupported() -> None:
    class NoNet(Space):
        name = "nonet"

        def __init__(self) -> None:
            from archspace.space import Decision

            self._set_decisions([Decision.of("k", (1, 2))])

    with pytest.raises(SupernetUnsupported, match=r"nonet.*does not lower"):
        NoNet().supernet()


def test_a_user_space_gets_a_supernet_with_no_extra_code() -> None:
    space = get_space("examples.tinynet:TinyNet", width=8)
    sn = space.supernet(samples=4)
    x = torch.randn(2, 3, space.default_resolution, space.default_resolution)
    arch = sn.sample(3)
    sn.eval()
    with torch.no_grad():
        assert torch.allclose(sn.extract(arch).eval()(x), sn(x), atol=1e-5)


@pytest.mark.parametrize("name", ["darts", "proxyless", "mcunet", "anynet"])
def test_every_sampled_arch_finds_its_weights(name: str) -> None:
    space, sn, _ = _supernet(name)
    sn.grow = False
    for seed in range(40):
        sn.activate(space.sample(100 + seed))  # raises SupernetError for a missing weight


def test_weights_an_arch_needs_beyond_the_scan_are_grown() -> None:
    space = get_space("nasnet", channels=4, B=2, cells=1)
    sn = build_supernet(space, 16, samples=0)
    x = torch.randn(2, 3, 16, 16)
    for seed in range(12):
        arch = space.sample(seed)
        sn.activate(arch).eval()
        with torch.no_grad():
            assert torch.allclose(sn.extract(arch).eval()(x), sn(x), atol=1e-5)
    assert sn.grown  # the concat of a cell's unused states outgrows the scanned archs
    again = build_supernet(space, 16, specs=sn.describe()["specs"])  # a file's shapes
    again.load_state_dict(sn.state_dict())


def test_sandwich_and_distillation_train_the_extremes(tmp_path: Path) -> None:
    from archspace.supernet import extremes, load_supernet, read_supernet_file, train_supernet

    space = get_space("mcunet", width=0.2, resolution=32, num_classes=10)
    opts = {"dataset": "digits", "epochs": 1, "batch_size": 32, "train_samples": 32,
            "sandwich": True, "distill": True, "bn_batches": 1}
    summary = train_supernet(space, tmp_path / "s.pt", opts)
    assert summary["complete"] and len(summary["history"]) == 1
    sn = load_supernet(tmp_path / "s.pt", space)
    big, small = extremes(sn, samples=2)
    assert space.profile(big, 32).params > space.profile(small, 32).params
    assert all(big[f"s{i}.d"] == 4 and small[f"s{i}.d"] == 2 for i in range(1, 6))
    torch.manual_seed(0)  # the initial weights of the run
    init = build_supernet(space, 32, specs=sn.describe()["specs"]).state_dict()
    state = read_supernet_file(tmp_path / "s.pt")["state"]
    moved = [k for k in state if k.startswith("layers.s1_b3") and k.endswith("weight")
             and not torch.equal(state[k], init[k])]
    assert moved  # the fourth block of stage 1 exists only in the largest arch: trained


@functools.cache
def _good_file() -> bytes:
    import tempfile

    from archspace.supernet.checkpoint import write_supernet_file

    space = get_space("nb201", C=2, N=1)
    sn = build_supernet(space, 8, samples=0)
    with tempfile.TemporaryDirectory() as d:
        good = Path(d) / "sn.pt"
        write_supernet_file(good, {"space": "nb201", "params": dict(space.params),
                                   "resolution": 8, "num_classes": 10,
                                   "supernet": sn.describe(), "state": sn.state_dict()})
        return good.read_bytes()


@settings(max_examples=15, deadline=None)
@given(cut=st.integers(0, 10_000), flip=st.integers(0, 10_000), byte=st.integers(0, 255))
def test_a_damaged_supernet_file_is_one_error(cut: int, flip: int, byte: int) -> None:
    import tempfile

    from archspace.supernet import SupernetFileError, load_supernet, read_supernet_file

    raw = bytearray(_good_file())
    raw[flip % len(raw)] = byte
    with tempfile.TemporaryDirectory() as d:
        bad = Path(d) / "bad.pt"
        bad.write_bytes(bytes(raw[: max(1, cut % (len(raw) + 1))]))
        try:
            load_supernet(read_supernet_file(bad), get_space("nb201", C=2, N=1))
        except SupernetFileError as e:
            assert "\n" not in str(e)
