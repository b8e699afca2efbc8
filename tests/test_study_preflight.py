"""What a study checks before its first evaluation (archspace.study.preflight), on the command line
and in the Python API: one ``archspace: error:`` line, exit status 2, no study file, nothing
evaluated. Nothing here trains a network: every refusal comes before the first trial."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

import archspace
from archspace import ArchspaceError
from archspace.cli import cli
from archspace.estimators import get_estimator
from archspace.study import Study, StudyConfig, StudyStorage
from archspace.study.executor import InlineExecutor
from test_study_support import ToyEstimator, ToySpace

NB201 = ["--space", "nb201", "--estimator", "nasbench201", "--strategy", "random", "--budget", "3"]
MCU = ["--space", "mcunet", "-p", "width=0.35", "-p", "resolution=48", "--estimator", "train",
       "-e", "epochs=0.01", "--strategy", "random", "--budget", "2"]


def _refused(tmp_path: Path, *args: str) -> str:
    """Run ``archspace search ARGS --study tmp/s.db``; assert the one-line refusal and that no
    study file was made; return the line."""
    path = tmp_path / "s.db"
    res = CliRunner().invoke(cli, ["search", *args, "--study", str(path), "--no-progress"])
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("archspace: error: ") and res.stderr.count("\n") == 1, res.stderr
    assert not path.exists()
    return res.stderr


def _api_refused(tmp_path: Path, match: str, **kwargs: Any) -> None:
    path = tmp_path / "api.db"
    with pytest.raises(ArchspaceError, match=match):
        archspace.search(study=path, **{"strategy": "random", "budget": 2, **kwargs})
    assert not path.exists()


@pytest.fixture
def no_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine has neither CUDA nor MPS (whatever the real one has)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


# -- objectives -------------------------------------------------------------------------------
def test_an_objective_the_estimator_does_not_produce_is_refused(tmp_path: Path) -> None:
    line = _refused(tmp_path, *NB201, "-o", "val_acc")
    assert "objective 'val_acc' is not a metric of estimator nasbench201" in line
    assert "allowed: accuracy (its search metric 'cifar10_valid_12ep'), cifar10_valid_12ep" in line
    assert "or a cost (macs, params, peak_sram, flash, latency)" in line
    line = _refused(tmp_path, *MCU, "-o", "accuracy", "-o", "val_los:min")
    assert "'val_los' is not a metric of estimator train" in line and "val_loss" in line
    _api_refused(tmp_path, "objective 'loss' is not a metric of estimator train", space="mcunet",
                 space_params={"width": 0.35}, estimator="train", objectives=["loss", "macs"])


def test_declared_metrics_and_costs_are_accepted(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["search", *NB201, "-o", "accuracy", "-o", "params", "--study",
                                   str(tmp_path / "s.db"), "--no-progress", "--json"])
    assert res.exit_code == 0, res.output
    with StudyStorage.open(tmp_path / "s.db") as s:
        assert [t.status for t in s.trials()] == ["complete"] * 3


def test_an_estimator_that_declares_no_metrics_is_not_blocked(tmp_path: Path) -> None:
    """A user estimator without ``metrics``: any objective may be asked of it; one it does not
    return fails the trials, as before."""
    assert ToyEstimator().produces() == ()
    study = archspace.search(space=ToySpace(), estimator=ToyEstimator(), strategy="nsga2",
                             budget=2, objectives=["other", "acc"], study=tmp_path / "t.db")
    assert study.counts["complete"] == 2

    class Declared(ToyEstimator):
        metrics = ("other",)

    assert Declared().produces() == ("acc", "other")
    _api_refused(tmp_path, "objective 'oth' is not a metric of estimator toy; allowed: accuracy "
                 r"\(its search metric 'acc'\), acc, other, or a cost", space=ToySpace(),
                 estimator=Declared(), objectives=["oth"])


# -- the device -------------------------------------------------------------------------------
@pytest.mark.usefixtures("no_cuda")
def test_a_device_this_machine_lacks_is_refused_before_training(tmp_path: Path) -> None:
    line = _refused(tmp_path, *MCU, "-e", "device=cuda")
    assert "device='cuda': CUDA is not available here; allowed: auto, cpu" in line
    line = _refused(tmp_path, *MCU, "-e", "device=cuda:1")
    assert "CUDA is not available here; allowed: auto, cpu" in line
    line = _refused(tmp_path, *MCU, "-e", "device=mps")
    assert "device='mps': MPS (Apple GPU) is not available here; allowed: auto, cpu" in line
    line = _refused(tmp_path, *MCU, "-e", "device=tpu")
    assert "device='tpu' of estimator 'train' must be auto, cpu, cuda, cuda:N or mps" in line
    _api_refused(tmp_path, "CUDA is not available here", space="mcunet",
                 space_params={"width": 0.35}, estimator="train",
                 estimator_options={"device": "cuda"})
    _api_refused(tmp_path, "CUDA is not available here", space="mcunet",
                 space_params={"width": 0.35}, estimator=get_estimator("naswot", device="cuda"))


def test_a_cuda_index_beyond_the_machine_is_refused(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    line = _refused(tmp_path, *MCU, "-e", "device=cuda:2")
    assert "device='cuda:2': this machine has 2 CUDA device(s); allowed: auto, cpu, cuda, " \
           "cuda:0 to cuda:1" in line


@pytest.mark.usefixtures("no_cuda")
def test_resume_on_a_machine_without_the_device_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    config = StudyConfig(space="mcunet", space_params={"width": 0.35}, estimator="train",
                         estimator_options={"device": "cuda", "epochs": 0.01}, strategy="random",
                         strategy_options={}, seed=0, budget=2)
    StudyStorage.create(path, config).close()
    res = CliRunner().invoke(cli, ["resume", str(path), "--no-progress"])
    assert res.exit_code == 2 and "CUDA is not available here" in res.stderr
    assert res.stderr.count("\n") == 1
    with StudyStorage.open(path) as s:
        assert s.trials() == []


@pytest.mark.usefixtures("no_cuda")
def test_the_device_is_not_checked_where_trials_run_elsewhere(tmp_path: Path) -> None:
    """A joined Ray cluster (``runs_here`` False) may have the GPUs the driver lacks."""
    class Elsewhere(InlineExecutor):
        runs_here = False

    config = StudyConfig(space="mcunet", space_params={"width": 0.35}, estimator="train",
                         estimator_options={"device": "cuda"}, strategy="random",
                         strategy_options={}, seed=0, budget=1)
    Study.create(tmp_path / "s.db", config, executor=Elsewhere()).close()
    with pytest.raises(ArchspaceError, match="CUDA is not available"):
        Study.create(tmp_path / "t.db", config, executor=InlineExecutor())


# -- datasets and constraints (refused before any trial already; kept so) ----------------------
def test_a_missing_dataset_is_refused(tmp_path: Path) -> None:
    line = _refused(tmp_path, *MCU, "-e", "dataset=svhn")
    assert "option dataset='svhn' of estimator 'train' must be digits, mnist" in line
    line = _refused(tmp_path, *MCU, "-e", f"dataset=imagefolder:{tmp_path / 'nowhere'}")
    assert "is not a directory or an archive; allowed: a folder with one subfolder of images" in line
    _api_refused(tmp_path, "option dataset='svhn'", space="mcunet", space_params={"width": 0.35},
                 estimator="train", estimator_options={"dataset": "svhn"})


def test_a_constraint_on_a_metric_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    line = _refused(tmp_path, *NB201, "-c", "val_accuracy>=90")
    assert "unknown metric 'val_accuracy'; allowed: macs, params, peak_sram, flash" in line
    _api_refused(tmp_path, "latency needs a device's latency table", space="nb201",
                 estimator="nasbench201", constraints=["latency<=3"])
