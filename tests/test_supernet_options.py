"""Supernet training options: affine-free batch norm in the searched ops (NAS-Bench-201's
weight-sharing baselines) and the path samplers (uniform, connected as SETN, fair as FairNAS)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from archspace import get_space
from archspace.space import Space
from archspace.supernet import (
    Supernet,
    build_supernet,
    load_supernet,
    read_supernet_file,
    train_supernet,
)
from archspace.supernet.sampling import dead_nodes, is_connected, path_sampler


def _nb201(affine: bool = True) -> tuple[Space, Supernet]:
    space = get_space("nb201", C=4, N=1)
    return space, build_supernet(space, 16, samples=4, searched_bn_affine=affine)


def test_affine_free_batch_norm_only_in_the_searched_ops() -> None:
    _, sn = _nb201(affine=False)
    bns = {k: s for k, s in sn.specs.items() if s.op == "bn"}
    fixed = {k for k, s in bns.items() if s.affine}
    assert fixed == {"stem_bn", "reduce1_bn", "reduce1_bn_1", "reduce2_bn", "reduce2_bn_1",
                     "head_bn"}  # in every arch: kept affine, as the benchmark's baselines do
    free = [k for k, s in bns.items() if not s.affine]
    assert free and all("_nor_conv_" in k for k in free)
    assert all(getattr(sn.layers[k], "weight", 0) is None for k in free)
    assert sn.describe()["searched_bn_affine"] is False


def test_affine_free_supernet_extracts_what_it_computes() -> None:
    torch.manual_seed(0)
    space, sn = _nb201(affine=False)
    x = torch.randn(4, 3, 16, 16)
    sn.train()
    for seed in range(4):  # moves the weights and the shared statistics
        sn.activate(space.sample(seed))
        sn(x).sum().backward()
        with torch.no_grad():
            for p in sn.parameters():
                if p.grad is not None:
                    p -= 0.1 * p.grad
                    p.grad = None
    for seed in range(10, 14):
        arch = space.sample(seed)
        sn.activate(arch).recalibrate([x])
        sn.eval()
        with torch.no_grad():
            model = sn.extract(arch).eval()
            assert torch.allclose(model(x), sn(x), atol=1e-5)
        # the stand-alone network is the benchmark's: affine everywhere, identity there
        bn = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert all(m.affine for m in bn)
        assert sum(p.numel() for p in model.parameters()) == sn.active_parameters()


def test_affine_free_supernet_reloads_from_its_file(tmp_path: Path) -> None:
    space = get_space("nb201", C=2, N=1)
    opts = {"dataset": "digits", "epochs": 1, "batch_size": 32, "train_samples": 64,
            "bn_batches": 1, "searched_bn_affine": False, "sampler": "connected"}
    summary = train_supernet(space, tmp_path / "s.pt", opts)
    assert summary["options"]["searched_bn_affine"] is False
    assert summary["options"]["sampler"] == "connected"
    sn = load_supernet(tmp_path / "s.pt", space)
    assert sn.searched_bn_affine is False
    assert any(s.op == "bn" and not s.affine for s in sn.specs.values())
    sn.load_state_dict(read_supernet_file(tmp_path / "s.pt")["state"])  # same tensors


def test_default_options_keep_the_former_training_options(tmp_path: Path) -> None:
    space = get_space("nb201", C=2, N=1)
    opts = {"dataset": "digits", "epochs": 1, "batch_size": 32, "train_samples": 32,
            "bn_batches": 1}
    summary = train_supernet(space, tmp_path / "s.pt", opts)
    # files written before these options existed continue: the defaults are not recorded
    assert "sampler" not in summary["options"]
    assert "searched_bn_affine" not in summary["options"]


def test_dead_nodes_of_a_cell() -> None:
    space = get_space("nb201", C=4, N=1)
    ok = space.validate(space.parse_arch(
        "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|nor_conv_1x1~2|"))
    lone = space.validate(space.parse_arch(  # node 1 gets only a none edge, feeds a conv
        "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|none~1|none~2|"))
    empty = space.validate(space.parse_arch(  # the output gets only none edges
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|none~1|none~2|"))
    assert dead_nodes(space.lower(ok, 16)) == []
    assert dead_nodes(space.lower(lone, 16))
    assert dead_nodes(space.lower(empty, 16))


@pytest.mark.parametrize("count", [1, 2])
def test_connected_sampler_never_yields_an_all_none_node(count: int) -> None:
    _, sn = _nb201()
    uniform = path_sampler(sn, "uniform", 0)
    connected = path_sampler(sn, "connected", 0)
    drawn = [a for step in range(150) for a in uniform(step, count)]
    assert sum(not is_connected(sn, a) for a in drawn) > 20
    for step in range(150):
        for arch in connected(step, count):
            assert is_connected(sn, arch)
            # every cell node has a non-none input from a node that has one
            live = {0}
            for j in range(1, 4):
                if any(arch[f"n{j}.in{i}"] != "none" and i in live for i in range(j)):
                    live.add(j)
            assert live == {0, 1, 2, 3}
        assert connected(step, count) == connected(step, count)  # a function of the step


def test_uniform_sampler_draws_what_spos_always_drew() -> None:
    space, sn = _nb201()
    draw = path_sampler(sn, "uniform", 3)
    rng = random.Random("spos:3:7")
    assert draw(7, 2) == [space.sample(rng), space.sample(rng)]


def test_fair_sampler_trains_every_op_of_every_edge_once_per_group() -> None:
    _, sn = _nb201()
    draw = path_sampler(sn, "fair", 0)
    for group in range(3):
        seen: Counter[tuple[str, object]] = Counter()
        for step in range(5 * group, 5 * group + 5):
            seen.update(draw(step, 1)[0].items())
        assert len(seen) == 6 * 5 and set(seen.values()) == {1}
    paths = [a for step in range(5) for a in draw(step, 2)]  # two paths a step: groups of 5
    assert Counter(v for a in paths[:5] for v in a.values) == Counter(
        {op: 6 for op in ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                          "avg_pool_3x3")})


def test_cli_trains_with_the_new_options(tmp_path: Path) -> None:
    from archspace.cli import cli

    out = tmp_path / "sn.pt"
    res = CliRunner().invoke(cli, ["supernet", "train", "--space", "nb201", "-p", "C=2", "-p",
                                   "N=1", "-e", "dataset=digits", "-e", "epochs=1", "-e",
                                   "train_samples=32", "-e", "bn_batches=1", "-e",
                                   "searched_bn_affine=false", "-e", "sampler=fair", "-o",
                                   str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    data = read_supernet_file(out)
    assert data["options"]["sampler"] == "fair"
    assert data["supernet"]["searched_bn_affine"] is False
    bad = CliRunner().invoke(cli, ["supernet", "train", "--space", "nb201", "-p", "C=2", "-p",
                                   "N=1", "-e", "dataset=digits", "-e", "epochs=1", "-e",
                                   "sampler=round", "-o", str(tmp_path / "b.pt")])
    assert bad.exit_code == 2 and "sampler" in bad.output
    assert "Traceback" not in bad.output
