"""DARTS and GDAS (archspace.differentiable, strategies darts/gdas): the collapse detector, the
mixed-op networks and their derived cells, GDAS's hard sampling, the study hooks (records,
resume, constraints), the command line and bad input. Tiny networks on digits, a few steps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from archspace.cli import cli
from archspace.differentiable import detect_collapse
from archspace.differentiable.mixed import search_network
from archspace.differentiable.search import SearchSettings, gumbel_hard, run_search
from archspace.spaces import get_space
from archspace.strategies import StrategyError, get_strategy
from archspace.strategies.differentiable import Differentiable
from archspace.study import Study, StudyConfig, StudyStorage
from archspace.study.search_record import META_KEY

FAST = ["-s", "epochs=1", "-s", "steps=2", "-s", "batch_size=16"]
NB201 = ["--space", "nb201", "-p", "C=4", "-p", "N=1"]
TRAIN = ["--estimator", "train", "-e", "dataset=digits", "-e", "epochs=0.05",
         "-e", "batch_size=32"]


def _cli(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


# -- collapse ------------------------------------------------------------------------------
def test_all_skip_cell_is_flagged_and_a_normal_cell_is_not() -> None:
    skip = {"skip_connect"}
    ops = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    peaked = [dict(zip(ops, (0.05, 0.8, 0.05, 0.05, 0.05), strict=True))] * 6
    c = detect_collapse(["skip_connect"] * 6, skip, peaked)
    assert c.collapsed and c.skip_share == 1.0 and c.skip_mass == pytest.approx(0.8)
    assert "COLLAPSED" in c.describe()
    resnet = ["nor_conv_3x3", "none", "nor_conv_3x3", "skip_connect", "none", "none"]
    uniform = [dict.fromkeys(ops, 0.2)] * 6
    c = detect_collapse(resnet, skip, uniform)
    assert not c.collapsed and c.skip_edges == 1 and c.to_dict()["skip_share"] == 0.1667
    # the weights alone can flag it: skip connections hold most of the mass
    assert detect_collapse(resnet, skip, peaked).collapsed
    assert detect_collapse(["skip_connect"] * 3 + ["nor_conv_3x3"] * 3, skip).collapsed


# -- networks and sampling ------------------------------------------------------------------
def test_gdas_sampling_is_one_hot_and_gradients_reach_every_alpha() -> None:
    space = get_space("nb201", C=4, N=1)
    net = search_network(space, 8)
    gen = torch.Generator().manual_seed(0)
    weights, index = gumbel_hard(list(net.alphas), 10.0, gen)
    for w, k in zip(weights, index, strict=True):
        assert torch.equal(w.detach(), torch.nn.functional.one_hot(torch.tensor(k), 5).float())
    out = net(torch.randn(4, 3, 8, 8), weights, index)
    out.sum().backward()
    for a in net.alphas:
        assert a.grad is not None and torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0


@pytest.mark.parametrize("method,unrolled", [("darts", False), ("darts", True), ("gdas", False)])
def test_search_moves_the_alphas_and_derives_a_valid_cell(method: str, unrolled: bool) -> None:
    space = get_space("nb201", C=4, N=1)
    net = search_network(space, 8)
    before = [a.detach().clone() for a in net.alphas]
    x, y = torch.randn(32, 3, 8, 8), torch.randint(0, 10, (32,))
    settings = SearchSettings(method=method, epochs=2, batch_size=16, steps=1, unrolled=unrolled,
                              arch_lr=0.05)
    out = run_search(net, x[:16], y[:16], x[16:], y[16:], settings, seed=0)
    assert out.steps == 2 and len(out.probs) == 6
    assert any(not torch.equal(b, a.detach()) for b, a in zip(before, net.alphas, strict=True))
    arch = space.validate(net.derive(space, out.probs))
    ops = [max(zip(p, e.candidates, strict=True))[1] for p, e in zip(out.probs, net.edges,
                                                                      strict=True)]
    assert [str(v) for v in arch.values] == ops  # argmax per edge
    if method == "gdas":
        assert out.taus == pytest.approx([10.0, 0.1])


def test_darts_space_derives_top_two_inputs_without_none() -> None:
    space = get_space("darts", C=2, layers=3)
    net = search_network(space, 8)
    assert len(net.edges) == 28 and {e.cell_type for e in net.edges} == {"normal", "reduce"}
    assert all(e.skip == {"skip_connect"} and e.zero == {"none"} for e in net.edges)
    probs = [[1.0 / 8] * 8 for _ in net.edges]
    probs[0] = [0.9, 0.0, 0.0, 0.1, 0.0, 0.0, 0.0, 0.0]  # normal node 0, input 0: 'none' wins
    probs[3] = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.99]  # node 1, input 1: dil_conv_5x5
    probs[4] = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.9, 0.0]  # node 1, input 2: dil_conv_3x3
    arch = net.derive(space, probs)
    assert arch["normal.n0.op0"] == "skip_connect"  # 'none' is never derived
    assert (arch["normal.n1.in"], arch["normal.n1.op0"], arch["normal.n1.op1"]) == \
        ("1+2", "dil_conv_5x5", "dil_conv_3x3")
    y = net(torch.randn(2, 3, 8, 8), [torch.softmax(a, -1) for a in net.alphas])
    assert y.shape == (2, 10)


# -- strategies ------------------------------------------------------------------------------
def test_strategy_records_its_search_and_replays_without_searching(
        monkeypatch: pytest.MonkeyPatch) -> None:
    space = get_space("nb201", C=4, N=1)
    s = get_strategy("gdas", space, seed=1, epochs=1, steps=1, batch_size=16)
    seen: list[dict[str, Any]] = []
    s.on_search = seen.append  # type: ignore[attr-defined]
    arch = s.ask()
    rec = seen[0]
    assert rec["method"] == "gdas" and rec["arch"] == space.format_arch(arch)
    assert rec["dataset"] == "digits"  # no estimator given: the documented default
    assert rec["benchmark"]["nb201_id"] == space.index_of(arch)
    assert 0 < rec["benchmark"]["cifar10_test_200ep"] < 100
    json.dumps(rec)
    fresh = get_strategy("gdas", space, seed=1, epochs=1, steps=1, batch_size=16)
    fresh.restore_searches(json.loads(json.dumps(seen)))  # type: ignore[attr-defined]
    monkeypatch.setattr(Differentiable, "search", lambda self, k: pytest.fail("searched again"))
    assert fresh.ask() == arch
    other_seed = get_strategy("gdas", space, seed=2, epochs=1, steps=1, batch_size=16)
    other_seed.restore_searches(seen)  # type: ignore[attr-defined]
    assert other_seed.searches == {}  # type: ignore[attr-defined]


def test_non_cell_spaces_and_bad_options_are_refused() -> None:
    with pytest.raises(StrategyError, match="allowed: nb201, darts"):
        get_strategy("darts", get_space("mobilenetv2"))
    with pytest.raises(StrategyError, match="tau_min"):
        get_strategy("gdas", get_space("nb201"), tau_max=0.5, tau_min=1.0)


def test_study_resume_keeps_searches_and_constraints_screen_the_cell(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = StudyConfig(space="nb201", space_params={"C": 4, "N": 1}, estimator="nasbench201",
                         estimator_options={}, strategy="darts",
                         strategy_options={"epochs": "1", "steps": "1", "batch_size": "16"},
                         seed=0, budget=1)
    # nasbench201 checks the benchmark's own network; the table lookup ignores C and N
    config = StudyConfig(**{**config.__dict__, "space_params": {}})
    path = tmp_path / "s.db"
    study = Study.create(path, config)
    study.run()
    study.close()
    calls: list[int] = []
    original = Differentiable.search

    def counting(self: Differentiable, k: int) -> dict[str, Any]:
        calls.append(k)
        return original(self, k)

    monkeypatch.setattr(Differentiable, "search", counting)
    study = Study.resume(path, budget=2)
    study.run()
    study.close()
    assert calls == [1]  # restart 0 came from the file
    storage = StudyStorage.open(path)
    records = storage.meta(META_KEY)
    trials = storage.trials()
    storage.close()
    assert [r["restart"] for r in records] == [0, 1]
    assert [t.arch for t in trials] == [r["arch"] for r in records]
    assert all(t.status == "complete" for t in trials)
    # a constraint no cell meets: recorded infeasible, never evaluated
    bad = StudyConfig(**{**config.__dict__, "constraints": ("params<=1",)})
    with pytest.raises(Exception, match="params"):
        Study.create(tmp_path / "c.db", bad)  # refused up front: no arch is feasible


def test_cli_end_to_end_reports_collapse_and_benchmark(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    res = _cli("search", *NB201, "--strategy", "darts", *FAST, *TRAIN, "--budget", "1",
               "--study", str(db), "--no-progress", "-c", "params<=1M")
    assert res.exit_code == 0, res.output
    assert "darts search 0" in res.output
    assert "nb201 cifar10 test accuracy of derived cell" in res.output
    assert "no collapse" in res.output or "COLLAPSED" in res.output
    res = _cli("report", str(db), "-o", str(tmp_path / "rep"))
    assert res.exit_code == 0, res.output
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "Differentiable search" in page
    summary = json.loads((tmp_path / "rep" / "summary.json").read_text())
    (rec,) = summary["searches"]
    assert rec["arch"] == summary["best"]["arch"] and "weights" not in rec


@pytest.mark.parametrize("args,needle", [
    (["--space", "mobilenetv2", "--strategy", "darts"], "allowed: nb201, darts"),
    (["--space", "nasnet", "--strategy", "gdas"], "allowed: nb201, darts"),
    ([*NB201, "--strategy", "gdas", "-s", "tau_max=-1"], "tau_max"),
    ([*NB201, "--strategy", "darts", "-s", "dataset=nosuch"], "nosuch"),
])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    res = _cli("search", *args, *TRAIN, "--budget", "1", "--study", str(tmp_path / "x.db"),
               "--no-progress")
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("archspace: error:") and needle in lines[0]
    assert not (tmp_path / "x.db").exists()
