"""The Python API of studies (archspace.search / resume / load_study and the StudyHandle): names
and objects, what the file records, resuming with and without the objects, Ctrl-C, callbacks,
bad input and the light ``import archspace``. Studies run on the NAS-Bench-201 table or the toy
pieces of test_study_support (a trial is a dict lookup or a few arithmetic operations)."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import archspace
from archspace import ArchspaceError
from archspace.cli import cli
from archspace.estimators import get_estimator
from archspace.strategies import get_strategy
from archspace.study import InlineExecutor, StorageError, StudyStorage
from test_study_support import GreedyStrategy, ToyEstimator, ToySpace

NB = {"space": "nb201", "estimator": "nasbench201", "strategy": "guided", "seed": 0}


def _archs(path: Path) -> list[str]:
    with StudyStorage.open(path) as s:
        return [t.arch for t in s.trials()]


def _meta(path: Path, key: str) -> Any:
    with StudyStorage.open(path) as s:
        return s.meta(key)


def test_import_archspace_stays_light() -> None:
    code = (
        "import sys, archspace\n"
        "heavy = ('torch', 'optuna', 'pandas', 'matplotlib', 'archspace.study')\n"
        "assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]\n"
        "assert callable(archspace.search) and 'archspace.study.api' in sys.modules\n"
        "assert archspace.StudyHandle.__name__ == 'StudyHandle'\n"
        "assert not [m for m in ('torch', 'optuna', 'pandas') if m in sys.modules]\n"
        "assert {'search', 'resume', 'load_study'} <= set(dir(archspace))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    with pytest.raises(AttributeError):
        archspace.no_such_thing  # noqa: B018


def test_search_by_names_equals_the_cli_and_reads_back(tmp_path: Path) -> None:
    study = archspace.search(**NB, budget=25, study=tmp_path / "api.db")
    res = CliRunner().invoke(cli, ["search", "--space", "nb201", "--estimator", "nasbench201",
                                   "--strategy", "guided", "--budget", "25", "--seed", "0",
                                   "--study", str(tmp_path / "cli.db"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert _archs(tmp_path / "api.db") == _archs(tmp_path / "cli.db")
    assert study.path == tmp_path / "api.db" and study.status == "finished"
    trials = study.trials
    assert len(trials) == 25 == study.n_trials and study.counts == {"complete": 25, "failed": 0,
                                                                     "infeasible": 0}
    assert study.best is not None and study.best.score == max(t.score or 0 for t in trials)
    assert study.pareto == [study.best]
    cfg = study.config
    assert (cfg.space, cfg.estimator, cfg.strategy, cfg.budget) == ("nb201", "nasbench201", "guided", 25)
    assert _meta(study.path, "objects") == {} and _meta(study.path, "executor")["executor"] == "inline"
    summary = study.summary()
    assert summary["best"]["number"] == study.best.number and summary["oracle"]
    with pytest.raises(AttributeError):
        trials[0].score = 1.0  # type: ignore[misc]  # frozen records


def test_resume_by_path_and_by_handle_equal_an_uninterrupted_run(tmp_path: Path) -> None:
    archspace.search(**NB, budget=40, study=tmp_path / "full.db")
    short = archspace.search(**NB, budget=15, study=tmp_path / "s.db")
    mid = archspace.resume(tmp_path / "s.db", budget=30)
    assert mid.n_trials == 30 and mid.result is not None and not mid.result.interrupted
    assert short.resume(budget=40).n_trials == 40
    assert _archs(tmp_path / "s.db") == _archs(tmp_path / "full.db")
    loaded = archspace.load_study(tmp_path / "s.db")
    full_best = archspace.load_study(tmp_path / "full.db").best
    assert loaded.result is None and loaded.best and full_best and loaded.best.arch == full_best.arch
    with pytest.raises(ArchspaceError, match="below the 40 trials"):
        archspace.resume(tmp_path / "s.db", budget=39)
    res = CliRunner().invoke(cli, ["resume", str(tmp_path / "s.db"), "--budget", "41", "--no-progress"])
    assert res.exit_code == 0, res.output  # the CLI continues a study made in Python


def test_objects_are_recorded_and_needed_again(tmp_path: Path) -> None:
    path = tmp_path / "toy.db"
    study = archspace.search(space=ToySpace(depth=3), estimator=ToyEstimator(), strategy=GreedyStrategy,
                             budget=8, seed=1, study=path, constraints="macs<=600k")
    cfg = study.config
    assert cfg.space == "test_study_support:ToySpace" and dict(cfg.space_params) == {"depth": 3}
    assert cfg.estimator == "test_study_support:ToyEstimator"
    assert cfg.strategy == "test_study_support:GreedyStrategy" and cfg.constraints == ("macs<=600k",)
    assert set(_meta(path, "objects")) == {"estimator", "strategy"}  # the space is its class's
    assert study.n_trials == 8 and study.best is not None

    loaded = archspace.load_study(path)
    assert [t.arch for t in loaded.trials] == [t.arch for t in study.trials]  # no object needed
    with pytest.raises(ArchspaceError, match=r"user space 'test_study_support:ToySpace'.*trust=True"):
        loaded.space  # noqa: B018
    assert archspace.load_study(path, trust=True).space.params == {"depth": 3}
    with pytest.raises(ArchspaceError, match=r"estimator object \(test_study_support:ToyEstimator\).*"
                                             "pass estimator="):
        archspace.load_study(path, space=ToySpace(depth=3)).estimator  # noqa: B018
    with pytest.raises(ArchspaceError, match="pass estimator="):
        archspace.resume(path, budget=10, space=ToySpace(depth=3))
    with pytest.raises(ArchspaceError, match=r"strategy class test_study_support:GreedyStrategy.*"
                                             "pass strategy="):
        archspace.resume(path, budget=10, space=ToySpace(depth=3), estimator=ToyEstimator())
    with pytest.raises(ArchspaceError, match="other parameters or decisions"):
        archspace.resume(path, budget=10, space=ToySpace(depth=4), estimator=ToyEstimator(),
                         strategy=GreedyStrategy)
    with pytest.raises(ArchspaceError, match="estimator 'test_study_support:ToyEstimator'"):
        archspace.load_study(path, estimator=get_estimator("nasbench201"))
    assert _archs(path) == [t.arch for t in study.trials]  # refusals wrote nothing

    again = archspace.resume(path, budget=12, space=ToySpace(depth=3), estimator=ToyEstimator(),
                             strategy=GreedyStrategy)
    assert again.n_trials == 12
    assert study.resume(budget=14).n_trials == 14  # the handle holds its objects and class
    archspace.search(space=ToySpace(depth=3), estimator=ToyEstimator(), strategy=GreedyStrategy,
                     budget=14, seed=1, study=tmp_path / "full.db", constraints="macs<=600k")
    assert _archs(path) == _archs(tmp_path / "full.db")

    res = CliRunner().invoke(cli, ["resume", str(path), "--budget", "16", "--trust-code", "--no-progress"])
    assert res.exit_code == 2 and "made in Python with objects" in res.output, res.output
    assert "archspace.resume(" in res.output and "estimator=..., strategy=..." in res.output
    assert len(_archs(path)) == 14  # nothing was run


def test_a_restricted_space_object_is_needed_again(tmp_path: Path) -> None:
    sub = archspace.get_space("nb201").restrict({"*": ["nor_conv_3x3", "skip_connect"]})
    study = archspace.search(space=sub, estimator="nasbench201", strategy="random", budget=6,
                             study=tmp_path / "r.db")
    assert "restricted" in _meta(study.path, "objects")["space"]
    assert all(set(t.arch_json["decisions"].values()) <= {"nor_conv_3x3", "skip_connect"}
               for t in study.trials)
    with pytest.raises(ArchspaceError, match=r"nb201 space object whose.*cannot rebuild; pass space="):
        archspace.resume(study.path, budget=8)
    with pytest.raises(ArchspaceError, match="other parameters or decisions"):
        archspace.resume(study.path, budget=8, space=archspace.get_space("nb201"))
    assert archspace.resume(study.path, budget=8, space=sub).n_trials == 8


def test_catalog_objects_are_recorded_by_name(tmp_path: Path) -> None:
    space = archspace.get_space("nb201")
    est = get_estimator("nasbench201", metric="cifar100_valid_12ep")
    study = archspace.search(space=space, estimator=est, strategy=get_strategy("guided", space, seed=4),
                             budget=5, study=tmp_path / "c.db")
    cfg = study.config
    assert (cfg.space, cfg.estimator, cfg.seed) == ("nb201", "nasbench201", 4)
    assert cfg.estimator_options["metric"] == "cifar100_valid_12ep"
    assert set(_meta(study.path, "objects")) == {"strategy"}  # an instance's options are unknown
    loaded = archspace.load_study(study.path)
    assert loaded.estimator.metric == "cifar100_valid_12ep"  # rebuilt from the file
    with pytest.raises(ArchspaceError, match=r"strategy object.*pass strategy="):
        archspace.resume(study.path, budget=8)
    with pytest.raises(ArchspaceError, match=r"seeded with 5; study .* has seed 4"):
        archspace.resume(study.path, budget=8, strategy=get_strategy("guided", space, seed=5))
    fresh = get_strategy("guided", loaded.space, seed=4)
    assert archspace.resume(study.path, budget=8, strategy=fresh).n_trials == 8
    archspace.search(space=space, estimator=est, strategy="guided", seed=4, budget=8,
                     study=tmp_path / "full.db")
    assert _archs(study.path) == _archs(tmp_path / "full.db")
    with pytest.raises(ArchspaceError, match="seeded with 4, but seed=1"):
        archspace.search(space=space, estimator=est, strategy=get_strategy("guided", space, seed=4),
                         seed=1, budget=5, study=tmp_path / "x.db")


def test_a_temporary_study_is_kept(tmp_path: Path) -> None:
    study = archspace.search(**NB, budget=3)
    try:
        assert study.path.name == "study.db" and study.path.is_file() and study.n_trials == 3
        assert archspace.load_study(study.path).n_trials == 3
    finally:
        import shutil

        shutil.rmtree(study.path.parent)


def test_ctrl_c_keeps_the_trials_and_resume_finishes(tmp_path: Path) -> None:
    seen: list[int] = []

    def stop_at_4(trial: Any) -> None:
        seen.append(trial.number)
        if len(seen) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        archspace.search(**NB, budget=12, study=tmp_path / "i.db", callback=stop_at_4)
    assert isinstance(info.value, archspace.SearchInterrupted)
    assert "after 4 of 12 trials" in str(info.value) and "archspace.resume(" in str(info.value)
    handle = info.value.study
    assert handle.n_trials == 4 and handle.status == "interrupted" and seen == [0, 1, 2, 3]
    assert archspace.resume(handle.path).n_trials == 12
    archspace.search(**NB, budget=12, study=tmp_path / "full.db")
    assert _archs(handle.path) == _archs(tmp_path / "full.db")


def test_a_failing_callback_stops_the_search_and_keeps_what_is_recorded(tmp_path: Path) -> None:
    def boom(trial: Any) -> None:
        if trial.number == 2:
            raise ValueError("my callback")

    with pytest.raises(ValueError, match="my callback"):
        archspace.search(**NB, budget=10, study=tmp_path / "f.db", callback=boom)
    study = archspace.load_study(tmp_path / "f.db")
    assert study.n_trials == 3 and study.status == "interrupted"
    assert archspace.resume(study.path, progress=True).n_trials == 10


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"space": 42}, "space must be a catalog name"),
    ({"space": "nope"}, "unknown space 'nope'"),
    ({"estimator": object()}, "estimator must be a registry name"),
    ({"strategy": "nope"}, "unknown strategy 'nope'"),
    ({"strategy": 3}, "strategy must be a registry name"),
    ({"budget": 0}, r"budget must be an integer in 1\.\.10000000, got 0"),
    ({"budget": True}, "budget must be an integer in"),
    ({"budget": 1e30}, "budget must be an integer in"),
    ({"budget": 10**30}, r"budget must be an integer in 1\.\.10000000, got an integer of about 31"),
    ({"seed": 1.5}, "seed must be an integer in 0..4294967295"),
    ({"seed": -1}, "seed must be an integer in 0..4294967295"),
    ({"seed": 2**32}, "seed must be an integer in 0..4294967295"),
    ({"space_params": {"nope": 1}}, "has no parameter 'nope'"),
    ({"space": ToySpace(), "space_params": {"depth": 2}}, "space_params apply to a space given by name"),
    ({"estimator": ToyEstimator(), "estimator_options": {"a": 1}}, "estimator_options apply"),
    ({"estimator_options": {"metric": "nope"}}, "metric"),
    ({"strategy_options": ["x"]}, "strategy_options must be a dict"),
    ({"constraints": [1]}, "constraints must be a string or a list of strings"),
    ({"constraints": "watts<=3"}, "watts"),
    ({"objectives": ["macs", "macs"]}, "macs"),
    ({"executor": "nope"}, "unknown executor 'nope'"),
    ({"workers": 0, "executor": "process"}, "workers must be a whole number >= 1"),
    ({"threads": 0}, "threads must be a whole number >= 1"),
    ({"threads": 2, "executor": InlineExecutor()}, "threads applies to an executor given by name"),
    ({"study": 5}, "study must be a file path"),
])
def test_bad_input_raises_one_error_and_writes_nothing(tmp_path: Path, kwargs: dict[str, Any],
                                                       needle: str) -> None:
    args: dict[str, Any] = {**NB, "budget": 3, "study": tmp_path / "bad.db", **kwargs}
    with pytest.raises(ArchspaceError, match=needle):
        archspace.search(**args)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_study_is_never_overwritten(tmp_path: Path) -> None:
    archspace.search(**NB, budget=3, study=tmp_path / "s.db")
    with pytest.raises(StorageError, match="already holds a study"):
        archspace.search(**NB, budget=5, study=tmp_path / "s.db")
    assert archspace.load_study(tmp_path / "s.db").n_trials == 3
    with pytest.raises(StorageError, match="does not exist"):
        archspace.load_study(tmp_path / "missing.db")
    with pytest.raises(ArchspaceError, match="trust must be True or False"):
        archspace.load_study(tmp_path / "s.db", trust="yes")  # type: ignore[arg-type]


def test_records_and_dataframe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    study = archspace.search(space=ToySpace(), estimator=ToyEstimator(fail=["w0=1,w1=1,w2=1,w3=1"]),
                             strategy="random", budget=6, seed=0, study=tmp_path / "d.db",
                             constraints=["macs<=700k"])
    rows = study.records()
    assert [r["number"] for r in rows] == list(range(6))
    statuses = {r["status"] for r in rows}
    assert statuses <= {"complete", "failed", "infeasible"}
    done = [r for r in rows if r["status"] == "complete"]
    assert done and all(r["acc"] == r["score"] and r["macs"] > 0 and r["error"] is None for r in done)
    assert list(rows[0])[:4] == ["number", "status", "arch", "score"]

    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    with pytest.raises(ArchspaceError, match=r"needs pandas.*pip install pandas"):
        study.to_dataframe()

    made: dict[str, Any] = {}

    class Frame:
        def __init__(self, data: Any, columns: Any) -> None:
            made.update(data=data, columns=columns)

        def set_index(self, key: str) -> Frame:
            made["index"] = key
            return self

    monkeypatch.setitem(sys.modules, "pandas", types.SimpleNamespace(DataFrame=Frame))
    study.to_dataframe()
    assert made["data"] == rows and made["index"] == "number" and made["columns"][:2] == ["number", "status"]


def test_dataframe_with_pandas(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    df = archspace.search(**NB, budget=4, study=tmp_path / "p.db").to_dataframe()
    assert isinstance(df, pd.DataFrame) and list(df.index) == [0, 1, 2, 3]
    assert {"status", "arch", "score", "macs", "cifar10_valid_12ep"} <= set(df.columns)


def test_report_and_export_of_a_study_made_with_objects(tmp_path: Path) -> None:
    with archspace.search(space=ToySpace(), estimator=ToyEstimator(), strategy="random", budget=4,
                          study=tmp_path / "o.db") as study:
        index = study.report(tmp_path / "rep")
        assert index == tmp_path / "rep" / "index.html" and "ToySpace" not in index.name
        assert index.is_file() and (tmp_path / "rep" / "summary.json").is_file()
        out = study.export(tmp_path / "model", formats="json")
        assert out.trial == study.best.number  # type: ignore[union-attr]
        assert (tmp_path / "model" / "arch.json").is_file()
    with pytest.raises(ArchspaceError, match=r"closed; reopen the study with archspace.load_study"):
        study.trials  # noqa: B018
    assert "closed" in repr(study)


def test_executor_settings_are_kept_for_the_cli(tmp_path: Path) -> None:
    from archspace.study import InlineExecutor

    study = archspace.search(**NB, budget=3, study=tmp_path / "e.db", executor=InlineExecutor())
    assert _meta(study.path, "executor") == {"executor": "inline"}
    with pytest.raises(ArchspaceError, match="workers applies to an executor given by name"):
        archspace.resume(study.path, budget=4, executor=InlineExecutor(), workers=2)
    assert "3/3 trials" in repr(study)


def test_threads_are_kept_and_a_stored_count_above_the_cores_is_confirmed(tmp_path: Path) -> None:
    study = archspace.search(**NB, budget=2, study=tmp_path / "t.db", threads=2)
    assert _meta(study.path, "executor")["threads"] == 2
    archspace.resume(study.path, budget=3)
    assert _meta(study.path, "executor")["threads"] == 2
    cores = os.cpu_count() or 1
    with StudyStorage.open(study.path, write=True) as s:
        s.set_meta("executor", {**s.meta("executor"), "threads": cores + 1})
    with pytest.raises(ArchspaceError, match=rf"stores {cores + 1} threads per trial.*"
                                             "allow_stored_executor=True"):
        archspace.resume(study.path, budget=4)
    assert study.n_trials == 3
    archspace.resume(study.path, budget=4, allow_stored_executor=True)
    assert _meta(study.path, "executor")["threads"] == cores + 1
    archspace.resume(study.path, budget=5, threads=1)
    assert _meta(study.path, "executor")["threads"] == 1 and study.n_trials == 5


MODULE = '''
from pathlib import Path
from archspace import Decision, Space

Path(__file__).with_suffix(".imported").write_text("imported")


class Tiny(Space):
    name = "tiny"

    def __init__(self, n=3):
        self._record_params(n=n)
        self._set_decisions(Decision.of(f"w{i}", (1, 2)) for i in range(n))

    def _lower(self, arch, g, resolution):
        x = g.input((3, resolution, resolution))
        for v in arch.values:
            x = g.conv(x, 8 * int(v), 3, padding=1)
        g.linear(g.flatten(g.gap(x)), 10)
'''


def test_a_user_space_named_in_a_file_is_imported_only_with_consent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tinymod.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    from tinymod import Tiny  # type: ignore[import-not-found]

    study = archspace.search(space=Tiny(n=4), estimator=ToyEstimator(), strategy="random", budget=3,
                             study=tmp_path / "u.db", space_params=None)
    assert study.config.space == "tinymod:Tiny" and "space" not in _meta(study.path, "objects")
    monkeypatch.delitem(sys.modules, "tinymod")
    (tmp_path / "tinymod.imported").unlink()
    loaded = archspace.load_study(study.path, estimator=ToyEstimator())
    assert len(loaded.trials) == 3  # the trials need no space
    with pytest.raises(ArchspaceError, match=r"user space 'tinymod:Tiny' \(module tinymod would be "
                                             r"imported\); pass space=.*or trust=True"):
        loaded.space  # noqa: B018
    with pytest.raises(ArchspaceError, match="user space 'tinymod:Tiny'"):
        archspace.resume(study.path, budget=4, estimator=ToyEstimator())
    assert not (tmp_path / "tinymod.imported").exists() and "tinymod" not in sys.modules
    trusted = archspace.load_study(study.path, estimator=ToyEstimator(), trust=True)
    assert trusted.space.params == {"n": 4} and (tmp_path / "tinymod.imported").exists()
    again = archspace.resume(study.path, budget=5, space=Tiny(n=4), estimator=ToyEstimator())
    assert again.n_trials == 5


def test_a_process_pool_gets_the_objects(tmp_path: Path) -> None:
    study = archspace.search(space=ToySpace(), estimator=ToyEstimator(),
                             strategy="random", budget=4, seed=2,
                             study=tmp_path / "p.db", executor="process", workers=2)
    assert study.counts["complete"] == 4
    assert _meta(study.path, "executor") == {"executor": "process", "workers": 2, "threads": 1}
    inline = archspace.search(space=ToySpace(), estimator=ToyEstimator(), strategy="random", budget=4,
                              seed=2, study=tmp_path / "i.db")
    assert sorted(t.arch for t in study.trials) == sorted(t.arch for t in inline.trials)
