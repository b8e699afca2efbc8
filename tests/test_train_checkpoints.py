"""Kept checkpoints of trained networks (``-e keep=best|all|none``), exporting from them without
re-training, refusing files that are not data, and continuing training from one
(``TrainEstimator.evaluate_at(warm_start=...)``). Every network is a 1-cell, 4-channel nb201
on a 200-image subset of the 8x8 digits, trained for one or two epochs."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from archspace.cli import cli
from archspace.datasets import load_dataset
from archspace.estimators import EstimatorError, get_estimator
from archspace.estimators.checkpoint import load_checkpoint
from archspace.estimators.loop import evaluate_model
from archspace.estimators.train import TrainEstimator
from archspace.export import ExportError, export_study, load_model
from archspace.spaces import get_space
from archspace.study import StudyConfig, StudyStorage, run_study
from archspace.study.checkpoints import checkpoint_dir

TINY = {"epochs": 1, "train_samples": 200, "batch_size": 50}


def _config(**options: Any) -> StudyConfig:
    return StudyConfig(space="nb201", space_params={"C": 4, "N": 1}, estimator="train",
                       estimator_options={**TINY, **options}, strategy="random",
                       strategy_options={}, seed=3, budget=3)


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One finished study per keep policy (``default``: the option not given)."""
    out = {}
    for keep in ("best", "all", "none", "default"):
        path = tmp_path_factory.mktemp(keep) / "s.db"
        run_study(path, _config() if keep == "default" else _config(keep=keep))
        out[keep] = path
    return out


def _best(path: Path) -> Any:
    with StudyStorage.open(path) as s:
        best, trials = s.best_trial(), s.trials()
    assert best is not None and len(trials) == 3
    return best


def _files(path: Path) -> list[str]:
    folder = checkpoint_dir(path)
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# -- which checkpoints a study keeps ------------------------------------------------------------
def test_keep_best_keeps_the_best_trials_checkpoint_alone(studies: dict[str, Path]) -> None:
    best = _best(studies["best"])
    assert _files(studies["best"]) == [f"{best.number}.pt"]
    ckpt = load_checkpoint(checkpoint_dir(studies["best"]) / f"{best.number}.pt")
    assert ckpt["arch_json"] == best.arch_json and ckpt["seed"] == 3
    assert ckpt["metrics"]["val_accuracy"] == best.metrics["val_accuracy"]
    assert ckpt["epoch"] == 1.0 and ckpt["options"]["train_samples"] == 200


def test_keep_all_keeps_every_trials_checkpoint(studies: dict[str, Path]) -> None:
    with StudyStorage.open(studies["all"]) as s:
        trials = s.trials("complete")
    assert _files(studies["all"]) == sorted(f"{t.number}.pt" for t in trials)
    for t in trials:
        ckpt = load_checkpoint(checkpoint_dir(studies["all"]) / f"{t.number}.pt")
        assert ckpt["arch_json"] == t.arch_json
        assert ckpt["metrics"]["val_accuracy"] == (t.metrics or {})["val_accuracy"]


def test_keep_none_writes_no_checkpoint_and_best_is_the_default(studies: dict[str, Path]) -> None:
    assert not checkpoint_dir(studies["none"]).exists()
    assert get_estimator("train").keep == "best"
    assert _files(studies["default"]) == [f"{_best(studies['default']).number}.pt"]
    # keeping checkpoints changes nothing that is recorded
    with StudyStorage.open(studies["none"]) as a, StudyStorage.open(studies["best"]) as b:
        def recorded(s: StudyStorage) -> list[Any]:
            return [(t.arch, t.score, {k: v for k, v in (t.metrics or {}).items()
                                       if k != "train_seconds"}) for t in s.trials()]
        assert recorded(a) == recorded(b)


# -- export from the kept checkpoint -------------------------------------------------------------
def test_export_takes_the_kept_weights_without_retraining(studies: dict[str, Path], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    best = _best(studies["best"])
    monkeypatch.setattr(TrainEstimator, "train", lambda *a, **k: pytest.fail("re-trained"))
    res = export_study(studies["best"], tmp_path / "out")
    assert res.weights == "trained" and not res.warnings
    assert "from the kept checkpoint" in res.info["network"]["weights_note"]
    ckpt = load_checkpoint(checkpoint_dir(studies["best"]) / f"{best.number}.pt")
    space = get_space("nb201", C=4, N=1, num_classes=10)
    reference = space.build(space.arch_from_json(best.arch_json), 8)
    reference.load_state_dict(ckpt["model"])
    reference.eval()
    model = load_model(tmp_path / "out")
    x = torch.randn(5, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))
    data = load_dataset("digits", 8, 3)
    acc, _ = evaluate_model(model, data.x_val, data.y_val)
    assert acc == best.metrics["val_accuracy"]


def test_export_without_a_kept_checkpoint_retrains(studies: dict[str, Path], tmp_path: Path) -> None:
    res = export_study(studies["none"], tmp_path / "out", log=lambda line: None)
    assert res.weights == "trained" and "weights_note" not in res.info["network"]


def test_a_stale_checkpoint_of_another_arch_is_not_used(studies: dict[str, Path], tmp_path: Path
                                                         ) -> None:
    best = _best(studies["all"])
    with StudyStorage.open(studies["all"]) as s:
        other = next(t for t in s.trials() if t.number != best.number)
        s._conn.execute(f"VACUUM INTO '{tmp_path / 'c.db'}'")
    folder = checkpoint_dir(tmp_path / "c.db")
    folder.mkdir()
    (folder / f"{best.number}.pt").write_bytes(
        (checkpoint_dir(studies["all"]) / f"{other.number}.pt").read_bytes())
    with pytest.warns(RuntimeWarning, match=r"kept checkpoint .* was not used \(.* is of arch "):
        res = export_study(tmp_path / "c.db", tmp_path / "out", log=lambda line: None)
    assert res.weights == "trained"


class _WritesAFile:
    """Unpickling it (unrestricted) would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _tamper(path: Path, how: str, marker: Path) -> None:
    if how == "torch.save":  # a well-formed torch file whose pickle names a callable
        torch.save({"format": "archspace-train-checkpoint/1", "model": _WritesAFile(marker)}, path)
    elif how == "pickle":
        path.write_bytes(pickle.dumps(_WritesAFile(marker), protocol=2))
    elif how == "garbage":
        path.write_bytes(b"these bytes are no checkpoint\n")
    else:  # truncated
        path.write_bytes(path.read_bytes()[:400])


#: What the refusal says (garbage bytes: whatever torch's restricted unpickler trips on first).
TAMPERED = {"torch.save": "names io.open, not data: refused unrun",
            "pickle": "names io.open, not data: refused unrun",
            "garbage": "is not a file of tensors and containers|is corrupt or truncated",
            "truncated": "is corrupt or truncated"}


def test_the_payload_of_the_tampered_files_works_when_unrestricted(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    _tamper(tmp_path / "x.pt", "pickle", marker)
    pickle.loads((tmp_path / "x.pt").read_bytes())
    assert marker.exists()


@pytest.mark.parametrize("how", list(TAMPERED))
def test_a_tampered_kept_checkpoint_is_refused_and_runs_nothing(
        studies: dict[str, Path], tmp_path: Path, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    best = _best(studies["best"])
    with StudyStorage.open(studies["best"]) as s:
        s._conn.execute(f"VACUUM INTO '{tmp_path / 'c.db'}'")
    folder = checkpoint_dir(tmp_path / "c.db")
    folder.mkdir()
    ckpt = folder / f"{best.number}.pt"
    ckpt.write_bytes((checkpoint_dir(studies["best"]) / ckpt.name).read_bytes())
    marker = tmp_path / "ran"
    _tamper(ckpt, how, marker)
    monkeypatch.setattr(TrainEstimator, "train", lambda *a, **k: pytest.fail("trained"))
    res = CliRunner().invoke(cli, ["export", str(tmp_path / "c.db"), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2, res.output
    (line,) = res.stderr.splitlines()
    assert line.startswith(f"archspace: error: the kept checkpoint {ckpt} ")
    assert re.search(TAMPERED[how], line) and "Traceback" not in res.output
    assert "weights_only" not in line  # torch's advice to load it unrestricted is not passed on
    assert not marker.exists() and not (tmp_path / "out").exists()
    with pytest.raises(ExportError, match=r"refused unrun|corrupt"):
        export_study(tmp_path / "c.db", tmp_path / "out")
    # as a warm start, too (refused before training starts)
    monkeypatch.undo()
    space = get_space("nb201", C=4, N=1)
    with pytest.raises(EstimatorError, match=f"checkpoint {ckpt} .*allowed: an archspace"):
        get_estimator("train", **TINY).evaluate_at(space, space.arch_from_json(best.arch_json),
                                                   3, 2, warm_start=ckpt)
    assert not marker.exists()


# -- continuing training -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def continued(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Training to 4 epochs straight, and to 2 then continued from its checkpoint to 4, with a
    4-epoch cosine schedule (``horizon=4``)."""
    tmp = tmp_path_factory.mktemp("continued")
    space = get_space("nb201", C=4, N=1)
    arch = space.sample(1)
    est = TrainEstimator(**{**TINY, "epochs": 4, "horizon": 4})
    straight = est.train(space, arch, 7, 4)
    half = est.evaluate_at(space, arch, 7, 2, checkpoint=tmp / "half.pt")
    est.evaluate_at(space, arch, 7, 4, warm_start=tmp / "half.pt", checkpoint=tmp / "full.pt")
    return {"space": space, "arch": arch, "est": est, "straight": straight, "half": half,
            "tmp": tmp, "continued": load_checkpoint(tmp / "full.pt")}


def test_continuing_from_a_checkpoint_equals_training_straight(continued: dict[str, Any]) -> None:
    """On the CPU (deterministic kernels, seeded batch order) the continued run is the straight
    run exactly: same weights, same metrics but the time and where it resumed."""
    straight, cont = continued["straight"], continued["continued"]
    assert continued["half"]["epochs"] == 2.0 and cont["epoch"] == 4.0
    mine = {k: v for k, v in cont["metrics"].items() if k not in ("train_seconds", "resumed_from")}
    theirs = {k: v for k, v in straight.metrics.items()
              if k not in ("train_seconds", "resumed_from")}
    assert mine == theirs and cont["metrics"]["resumed_from"] == 2.0
    state = straight.model.state_dict()
    assert cont["model"].keys() == state.keys()
    assert all(torch.equal(cont["model"][k], state[k].cpu()) for k in state)
    # and training did move on from the warm start
    half = load_checkpoint(continued["tmp"] / "half.pt")
    assert any(not torch.equal(half["model"][k], cont["model"][k]) for k in state
               if state[k].is_floating_point())


def test_a_checkpoint_of_another_run_is_refused(continued: dict[str, Any]) -> None:
    space, arch, est = continued["space"], continued["arch"], continued["est"]
    half = continued["tmp"] / "half.pt"
    other = space.sample(2)
    assert other != arch
    with pytest.raises(EstimatorError, match=r"is of arch .*; allowed: a checkpoint of this arch"):
        est.evaluate_at(space, other, 7, 4, warm_start=half)
    wider = get_space("nb201", C=8, N=1)
    with pytest.raises(EstimatorError, match=r"is of space nb201\(C=4,N=1\), not "
                                             r"nb201\(C=8,N=1\)"):
        est.evaluate_at(wider, wider.arch_from_json({**space.arch_to_json(arch),
                                                     "params": {"C": 8, "N": 1}}),
                        7, 4, warm_start=half)
    with pytest.raises(EstimatorError, match="was trained with seed 7, not 8"):
        est.evaluate_at(space, arch, 8, 4, warm_start=half)
    lr = get_estimator("train", **{**TINY, "horizon": 4, "lr": 0.1})
    with pytest.raises(EstimatorError, match=r"trained with lr=None, this estimator has lr=0.1"):
        lr.evaluate_at(space, arch, 7, 4, warm_start=half)
    with pytest.raises(EstimatorError, match=r"resource 1 epochs is below the 2"):
        est.evaluate_at(space, arch, 7, 1, warm_start=half)
    with pytest.raises(EstimatorError, match=r"resource 5 epochs is beyond the 4-epoch schedule"):
        est.evaluate_at(space, arch, 7, 5, warm_start=half)


def test_without_a_horizon_a_run_cannot_be_continued_past_its_schedule(tmp_path: Path) -> None:
    space = get_space("nb201", C=4, N=1)
    arch = space.sample(1)
    est = get_estimator("train", **TINY)
    est.evaluate_at(space, arch, 0, checkpoint=tmp_path / "one.pt")
    with pytest.raises(EstimatorError, match=r"beyond the 1-epoch schedule; allowed: at most the "
                                             r"horizon"):
        est.evaluate_at(space, arch, 0, 2, warm_start=tmp_path / "one.pt")
    again = est.evaluate_at(space, arch, 0, 1, warm_start=tmp_path / "one.pt")
    assert again["epochs"] == 1.0 and again["resumed_from"] == 1.0


def test_a_checkpoint_that_cannot_be_written_loses_no_result(tmp_path: Path) -> None:
    space = get_space("nb201", C=4, N=1)
    arch = space.sample(1)
    est = get_estimator("train", **TINY)
    (tmp_path / "file").write_text("a file, not a folder")
    with pytest.warns(RuntimeWarning, match=r"checkpoint .*file/0.pt not written"):
        metrics = est.evaluate_at(space, arch, 0, checkpoint=tmp_path / "file" / "0.pt")
    assert metrics == {**est.evaluate(space, arch, 0), "train_seconds": metrics["train_seconds"]}


def test_zero_cost_proxies_keep_nothing_and_have_no_resource(tmp_path: Path) -> None:
    """They share train's set-up (dataset, fitted network) but train nothing."""
    for name in ("synflow", "zerocost"):
        est = get_estimator(name)
        assert est.keep == "none" and est.resource is None
    config = StudyConfig(space="nb201", space_params={"C": 4, "N": 1}, estimator="synflow",
                         estimator_options={}, strategy="random", strategy_options={}, seed=0,
                         budget=2)
    run_study(tmp_path / "z.db", config)
    assert not checkpoint_dir(tmp_path / "z.db").exists()
    space = get_space("nb201", C=4, N=1)
    with pytest.raises(EstimatorError, match="has no resource and keeps no checkpoints"):
        get_estimator("synflow").evaluate_at(space, space.sample(0), 0, 2)
