"""Few-shot supernets (Zhao et al. ICML 2021): one file of sub-supernets split on one edge,
archs routed to the sub-supernet holding them, the stand-alone network computing what the
supernet does, resuming, and bad input; a 1-cell nb201 of 4 channels on digits at 8x8."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from archspace import get_space
from archspace.cli import cli
from archspace.errors import ArchError
from archspace.estimators import EstimatorError, get_estimator
from archspace.space import Arch, Space
from archspace.supernet.checkpoint import (
    SupernetFileError,
    load_supernet,
    read_supernet_file,
    write_supernet_file,
)
from archspace.supernet.fewshot import FewShotSupernet, check_edge
from archspace.supernet.train import train_supernet

EDGE = "n1.in0"
OPTS: dict[str, Any] = {"dataset": "digits", "epochs": 1, "batch_size": 256,
                        "few_shot": EDGE, "few_shot_epochs": 2}
SPACE_ARGS = ("--space", "nb201", "-p", "C=4", "-p", "N=1")


def _space() -> Space:
    return get_space("nb201", C=4, N=1)


def _one_per_op(space: Space) -> list[Arch]:
    """An arch for each op on EDGE (the rest of the cell random)."""
    archs = []
    for k, op in enumerate(space.decision(EDGE).choices):
        a = space.sample(k)
        values = dict(zip(a.names, a.values, strict=True))
        archs.append(space.make({**values, EDGE: op}))
    return archs


@pytest.fixture(scope="module")
def fs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fs") / "fs.pt"
    train_supernet(_space(), path, OPTS)
    return path


def test_file_holds_one_trained_sub_supernet_per_op(fs_file: Path) -> None:
    data = read_supernet_file(fs_file)
    fs = data["few_shot"]
    ops = list(_space().decision(EDGE).choices)
    assert data["complete"] and fs["edge"] == EDGE and fs["ops"] == ops
    assert [s["op"] for s in fs["subs"]] == ops
    assert all(s["complete"] and s["epoch"] == 2 and len(s["history"]) == 2 for s in fs["subs"])
    assert data["options"]["few_shot"] == EDGE and data["epoch"] == 1
    # each sub-supernet started from the one-shot weights and moved away from them
    stem = next(k for k in data["state"] if "weight" in k)
    moved = [not torch.equal(s["state"][stem], data["state"][stem]) for s in fs["subs"]]
    assert all(moved)
    assert not torch.equal(fs["subs"][0]["state"][stem], fs["subs"][1]["state"][stem])


def test_archs_are_routed_to_the_sub_supernet_of_their_op(fs_file: Path) -> None:
    space = _space()
    fs = load_supernet(fs_file, space)
    assert isinstance(fs, FewShotSupernet)
    x = torch.randn(4, 3, 8, 8)
    for k, arch in enumerate(_one_per_op(space)):
        assert fs.index(arch) == k and fs.route(arch) is fs.subs[k]
        with torch.no_grad():
            got = fs.activate(arch).eval()(x)
            own = fs.subs[k].activate(arch).eval()(x)  # type: ignore[operator]
        assert torch.equal(got, own)
        other = fs.subs[(k + 1) % len(fs.subs)]
        with pytest.raises(ArchError):
            other.activate(arch)  # type: ignore[operator]  # outside that sub-space


def test_activate_and_extract_compute_the_same(fs_file: Path) -> None:
    space = _space()
    fs = load_supernet(fs_file, space)
    x = torch.randn(5, 3, 8, 8)
    calib = torch.randn(16, 3, 8, 8)
    for arch in _one_per_op(space):
        fs.activate(arch)
        fs.recalibrate([calib[:8], calib[8:]])
        fs.eval()
        model = fs.extract(arch).eval()
        with torch.no_grad():
            assert torch.allclose(fs(x), model(x), atol=1e-5)


def test_oneshot_estimator_scores_with_the_sub_supernets(fs_file: Path) -> None:
    from archspace.supernet.train import evaluate_path

    space = _space()
    est = get_estimator("oneshot", supernet=str(fs_file), val_samples=200)
    archs = _one_per_op(space)
    scores = [est.evaluate(space, a)["val_accuracy"] for a in archs]
    assert isinstance(est.supernet(space), FewShotSupernet)
    assert est.evaluate(space, archs[0])["val_accuracy"] == scores[0]  # order-free
    # the same score from the routed sub-supernet alone
    fitted, _ = est.adapted(space)
    calib, xv, yv = est._data(fitted, 8)
    sub = load_supernet(fs_file, space).route(archs[2])  # type: ignore[union-attr]
    acc, _ = evaluate_path(sub, archs[2], calib, xv, yv, 4, 256)
    assert acc == pytest.approx(scores[2])


def test_an_interrupted_run_continues_to_the_same_weights(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import archspace.supernet.checkpoint as ck

    calls = {"n": 0}
    real = ck.write_supernet_file

    def stop_at_third(p: Path, payload: dict) -> Path:  # type: ignore[type-arg]
        real(p, payload)
        calls["n"] += 1
        if calls["n"] == 3:  # sub-supernet 1 (skip_connect) after its first epoch
            raise KeyboardInterrupt
        return Path(p)

    space = _space()
    path = tmp_path / "r.pt"
    monkeypatch.setattr(ck, "write_supernet_file", stop_at_third)
    with pytest.raises(KeyboardInterrupt):
        train_supernet(space, path, OPTS)
    part = read_supernet_file(path)["few_shot"]["subs"]
    assert len(part) == 2 and part[0]["complete"] and part[1]["epoch"] == 1
    with pytest.raises(SupernetFileError, match="unfinished"):
        load_supernet(path, space)
    monkeypatch.setattr(ck, "write_supernet_file", real)
    summary = train_supernet(space, path, OPTS)
    assert summary["complete"] and len(summary["few_shot"]["subs"]) == 5
    straight = tmp_path / "s.pt"
    train_supernet(space, straight, OPTS)
    a, b = read_supernet_file(path)["few_shot"], read_supernet_file(straight)["few_shot"]
    for sa, sb in zip(a["subs"], b["subs"], strict=True):
        assert all(torch.equal(sa["state"][k], sb["state"][k]) for k in sa["state"])


def test_edges_of_the_cell_spaces() -> None:
    assert get_space("nb201").edges() == ["n1.in0", "n2.in0", "n2.in1", "n3.in0", "n3.in1",
                                          "n3.in2"]
    darts = get_space("darts")
    assert "normal.n0.op0" in darts.edges() and "normal.n0.in" not in darts.edges()
    assert get_space("mcunet").edges() == []
    with pytest.raises(EstimatorError, match="not an edge"):
        check_edge(darts, "normal.n0.in")
    with pytest.raises(EstimatorError, match="no cell edges"):
        check_edge(get_space("mcunet"), "s0.b0.k")


def run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_cli_trains_a_few_shot_file(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    code, out, err = run("supernet", "train", *SPACE_ARGS, "-e", "dataset=digits", "-e",
                         "epochs=0.5", "-e", "batch_size=256", "-e", "few_shot=n3.in0", "-e",
                         "few_shot_epochs=0.5", "-o", str(path), "--no-progress")
    assert code == 0, err
    assert "few-shot: split on n3.in0 into 5 sub-supernets" in out
    fs = load_supernet(path, _space())
    assert isinstance(fs, FewShotSupernet) and fs.edge == "n3.in0"


def test_bad_input_is_one_line_exit_2(fs_file: Path, tmp_path: Path) -> None:
    base = ("supernet", "train", "-e", "dataset=digits", "-e", "epochs=1", "-o",
            str(tmp_path / "x.pt"), "--no-progress")
    cases = {
        "unknown edge": (*SPACE_ARGS, "-e", "few_shot=n9.in0"),
        "a space without edges": ("--space", "mcunet", "-e", "few_shot=n1.in0"),
        "few_shot_epochs 0": (*SPACE_ARGS, "-e", f"few_shot={EDGE}", "-e", "few_shot_epochs=0"),
    }
    for why, args in cases.items():
        code, _, err = run(*base, *args)
        assert code == 2 and err.startswith("archspace: error:") and err.count("\n") == 1, \
            (why, err)
    assert not (tmp_path / "x.pt").exists()  # refused before any training
    # another split of an existing few-shot file
    code, _, err = run("supernet", "train", *SPACE_ARGS, "-e", "dataset=digits", "-e",
                       "epochs=1", "-e", "batch_size=256", "-e", "few_shot=n3.in0", "-e",
                       "few_shot_epochs=2", "-o", str(fs_file), "--no-progress")
    assert code == 2 and "other options" in err and err.count("\n") == 1, err
    # an unfinished few-shot file given to the oneshot estimator
    data = read_supernet_file(fs_file)
    data["few_shot"] = {**data["few_shot"], "subs": data["few_shot"]["subs"][:2]}
    data["complete"] = False
    part = tmp_path / "part.pt"
    write_supernet_file(part, data)
    code, _, err = run("search", *SPACE_ARGS, "--estimator", "oneshot", "-e",
                       f"supernet={part}", "--strategy", "random", "--budget", "1", "--study",
                       str(tmp_path / "s.db"), "--no-progress")
    assert code == 2 and "unfinished" in err and err.count("\n") == 1, err


def test_export_writes_the_routed_sub_supernets_weights(fs_file: Path, tmp_path: Path) -> None:
    import json

    from archspace.export import load_model

    db, out = tmp_path / "e.db", tmp_path / "model"
    for args in (("search", *SPACE_ARGS, "--estimator", "oneshot", "-e", f"supernet={fs_file}",
                  "--strategy", "random", "--budget", "3", "--seed", "0", "--study", str(db),
                  "--no-progress"), ("export", str(db), "-o", str(out))):
        code, _, err = run(*args)
        assert code == 0, err
    info = json.loads((out / "arch.json").read_text())
    assert info["network"]["weights"] == "inherited"
    space = _space()
    arch = space.parse_arch(info["arch"])
    est = get_estimator("oneshot", supernet=str(fs_file))
    est.evaluate(space, arch)  # recalibrates the arch in its sub-supernet
    fs = est.supernet(space)
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(load_model(out)(x), fs.activate(arch).eval()(x), atol=1e-5)
