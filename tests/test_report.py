"""``archspace report``: the page, figures and summary of nb201 studies scored by the NAS-Bench-201
table (a lookup each, so a study of 20 trials takes a fraction of a second)."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from archspace.cli import cli
from archspace.errors import ArchspaceError
from archspace.report import FILES, gather, write_report
from archspace.report.dense import TASK_FIGURES
from archspace.study import Study, StudyConfig, StudyStorage, TrialRecord, run_study
from test_study_support import UNCONSTRAINED

PNG = b"\x89PNG\r\n\x1a\n"
FIGURES = ("progress.png", "front.png", "costs.png", "best_arch.png")


def _config(**kw: Any) -> StudyConfig:
    base: dict[str, Any] = dict(space="nb201", space_params={}, estimator="nasbench201",
                                estimator_options={}, strategy="random", strategy_options={},
                                seed=3, budget=20)
    return StudyConfig(**{**base, **kw})


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _report(study: Path, out: Path, *extra: str) -> str:
    res = _invoke("report", str(study), "-o", str(out), *extra)
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(out / "index.html")
    return (out / "index.html").read_text(encoding="utf-8")


def _rows(page: str) -> int:
    return page.count("<tr class='trial'>")


@pytest.fixture(scope="module")
def constrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Half of nb201's cells break macs<=40M: a study with complete and infeasible trials
    (random search that is not told the constraints, as catalog strategies are)."""
    path = tmp_path_factory.mktemp("constrained") / "s.db"
    run_study(path, _config(constraints=("macs<=40M",)), UNCONSTRAINED)
    return path


@pytest.fixture
def no_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests of the page and the summary skip drawing (the slow part)."""
    monkeypatch.setattr("archspace.report.build.FIGURES", ())


def _png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 1000, path


def test_report_of_a_finished_study(constrained: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "report"  # created, parents too
    page = _report(constrained, out)
    task = {f for figs in TASK_FIGURES.values() for f, _, _ in figs}  # other estimators' pictures
    assert sorted(p.name for p in out.iterdir()) == sorted(set(FILES) - {"rungs.png"} - task)
    for name in FIGURES:
        _png(out / name)
        assert f"src='{name}'" in page
    with StudyStorage.open(constrained) as s:
        best = s.best_trial()
        complete = s.trials("complete")
        infeasible = s.trials("infeasible")
    assert best is not None and complete and infeasible
    assert best.arch in page.replace("<wbr>", "") and "macs&lt;=40M" in page
    assert "Not drawn" not in page
    assert _rows(page) == min(20, len(complete))
    assert "oracle" in page and "94.373" in page  # the NAS-Bench-201 CIFAR-10 optimum
    assert "Failed and infeasible trials" in page and "violates macs&lt;=40M" in page
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best"]["number"] == best.number and summary["best"]["arch"] == best.arch
    assert summary["best"]["score"] == best.score
    assert summary["counts"] == {"complete": len(complete), "failed": 0,
                                 "infeasible": len(infeasible)}
    assert summary["best"]["final_metrics"]["cifar10_test_200ep"] <= summary["oracle"][
        "cifar10_test_200ep"]


@pytest.mark.usefixtures("no_figures")
def test_top_rows_are_the_best_scores_in_order(constrained: Path, tmp_path: Path) -> None:
    page = _report(constrained, tmp_path, "--top", "3")
    assert _rows(page) == 3
    with StudyStorage.open(constrained) as s:
        ranked = sorted(s.trials("complete"), key=lambda t: (-(t.score or 0), t.number))
    shown = re.findall(r"<tr class='trial'><td class='num'>\d+</td><td class='num'>(\d+)</td>",
                       page)
    assert [int(n) for n in shown] == [t.number for t in ranked[:3]]


def test_data_follows_the_incumbent_and_the_oracle(constrained: Path) -> None:
    data = gather(constrained, top=5)
    assert data.final_metric == "cifar10_test_200ep"
    scores = [i.trial.score or 0 for i in data.incumbents]
    assert scores == sorted(set(scores)) and data.incumbents[-1].trial == data.best
    assert [i.told for i in data.incumbents] == sorted(i.told for i in data.incumbents)
    assert all("cifar10_test_200ep" in i.final_metrics for i in data.incumbents)
    assert len(data.top) == 5 and data.top[0] == data.best


@pytest.mark.usefixtures("no_figures")
def test_summary_json_equals_search_json(tmp_path: Path) -> None:
    study = tmp_path / "s.db"
    res = _invoke("search", "--space", "nb201", "--estimator", "nasbench201", "--strategy",
                  "random", "--budget", "8", "--study", str(study), "--json", "--no-progress")
    assert res.exit_code == 0, res.output
    _report(study, tmp_path / "r")
    assert json.loads((tmp_path / "r" / "summary.json").read_text()) == json.loads(res.stdout)


def test_multi_objective_study(tmp_path: Path) -> None:
    study = tmp_path / "m.db"
    run_study(study, _config(objectives=("accuracy", "macs"), budget=25))
    page = _report(study, tmp_path / "r", "--top", "25")
    _png(tmp_path / "r" / "front.png")
    with StudyStorage.open(study) as s:
        front = s.pareto_trials()
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert [t["number"] for t in summary["pareto"]] == [t.number for t in front]
    assert summary["objectives"] == ["+accuracy", "-macs"]
    assert page.count("<td>★</td>") == len(front)  # every trial is in the top 25
    assert f"{len(front)} non-dominated trials" in page


def test_no_complete_trial_still_writes_the_page(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # such a study is refused up front now (see test_study_feasibility); make one anyway
    monkeypatch.setattr("archspace.study.preflight.check_feasible", lambda *a, **k: 0)
    study = tmp_path / "s.db"
    run_study(study, _config(constraints=("macs<=1k",), budget=5))  # every cell breaks it
    out = tmp_path / "r"
    out.mkdir()
    (out / "best_arch.png").write_bytes(b"stale")  # from an earlier report: removed
    (out / "notes.txt").write_text("mine")  # not the report's: left alone
    page = _report(study, out)
    assert "No trial has completed yet" in page and page.count("Not drawn") == 3
    _png(out / "costs.png")
    assert not (out / "best_arch.png").exists() and (out / "notes.txt").read_text() == "mine"
    assert json.loads((out / "summary.json").read_text())["best"] is None


def test_a_study_that_never_ran(tmp_path: Path) -> None:
    study = tmp_path / "s.db"
    Study.create(study, _config()).close()
    page = _report(study, tmp_path / "r")
    assert "has not started" in page and page.count("Not drawn") == 4 and _rows(page) == 0


@pytest.mark.usefixtures("no_figures")
def test_running_and_interrupted_studies_are_read_not_changed(constrained: Path,
                                                              tmp_path: Path) -> None:
    study = tmp_path / "s.db"
    study.write_bytes(constrained.read_bytes())
    with StudyStorage.open(study, write=True) as s:
        s.set_status("running")
        s.start_trial(99, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", {})
        before = s.trials()
    page = _report(study, tmp_path / "r")
    assert "The study is running" in page and "1 being evaluated" in page and "running=1" in page
    with StudyStorage.open(study, write=True) as s:
        assert s.trials() == before and s.load_config().status == "running"
        s.drop_running()
        s.set_status("interrupted")
    page = _report(study, tmp_path / "r")
    assert "interrupted after 20 of 20 trials" in page and "archspace resume" in page


@pytest.mark.usefixtures("no_figures")
def test_the_page_escapes_what_the_file_holds(constrained: Path, tmp_path: Path) -> None:
    study = tmp_path / "s.db"
    study.write_bytes(constrained.read_bytes())
    with StudyStorage.open(study, write=True) as s:
        s.finish_trial(TrialRecord(50, "<b>x</b>", {}, "failed", None, None, None, None,
                                   "<script>alert(1)</script>", 0.0, 0.0, None, None))
    page = _report(study, tmp_path / "r")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.usefixtures("no_figures")
def test_every_value_from_the_study_is_escaped(constrained: Path, tmp_path: Path) -> None:
    """A string metric (best and top trials), an arch string, an option value and an error
    message holding markup: the page shows them as text and runs nothing of the file's."""
    study = tmp_path / "s.db"
    study.write_bytes(constrained.read_bytes())
    evil = "<script>alert('x')</script>"
    with sqlite3.connect(study) as db:
        db.execute("UPDATE study SET strategy_options = ?, seed = ?, status = 'interrupted'",
                   (json.dumps({"note": evil}), evil))
    with StudyStorage.open(study, write=True) as s:
        best = s.best_trial()
        assert best is not None
        metrics = {**(best.metrics or {}), "remark": evil}
        for n, score in ((60, 1e3), (61, 999.0)):
            s.finish_trial(dataclasses.replace(best, number=n, arch=f"|{evil}~0|+|x~1|",
                                               metrics=metrics, score=score, tell_order=None))
        s.finish_trial(TrialRecord(62, evil, {}, "failed", None, None, None, None, evil,
                                   0.0, 0.0, None, None))
    page = _report(study, tmp_path / "r")
    assert "<script" not in page.lower()
    text = page.replace("<wbr>", "")
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    assert f"note={escaped}" in text  # the option value, in the study table
    assert f"remark={escaped}" in text  # the string metric: folded (same in the top two rows)
    assert f"|{escaped}~0|+|x~1|" in text  # the arch string
    assert f"<tr><th>seed</th><td>{escaped}</td></tr>" in text  # a column of the wrong type
    assert text.count(escaped) >= 6  # and the failed trial's error, in the problems table


@pytest.mark.usefixtures("no_figures")
def test_string_metric_cells_are_escaped(constrained: Path, tmp_path: Path) -> None:
    study = tmp_path / "s.db"
    study.write_bytes(constrained.read_bytes())
    with StudyStorage.open(study, write=True) as s:
        best = s.best_trial()
        assert best is not None
        for n, remark in ((60, "<script>a</script>"), (61, "<img src=x onerror=alert(1)>")):
            s.finish_trial(dataclasses.replace(best, number=n, score=1e3 - n, tell_order=None,
                                               metrics={**(best.metrics or {}), "remark": remark}))
    page = _report(study, tmp_path / "r")
    assert "<script" not in page and "<img src=x" not in page
    assert "<td class='num'>&lt;script&gt;a&lt;/script&gt;</td>" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


@pytest.mark.usefixtures("no_figures")
def test_top_table_wraps_and_shortens_arch_strings_and_folds_constant_columns(
        constrained: Path, tmp_path: Path) -> None:
    from archspace.report.page import ARCH_CHARS
    from archspace.report.page import arch_html as page_arch

    page = _report(constrained, tmp_path / "r", "--top", "5")
    data = gather(constrained, top=5)
    arch = data.top[0].arch  # |op~0|+|op~0|op~1|+|...: wraps after each '|', never inside an op
    wrapped = re.sub(r"([|+])(?=.)", r"\1<wbr>", arch)
    assert f"<td class='arch'><code class='arch'>{wrapped}</code></td>" in page
    assert "nor_<wbr>conv" not in page and "<td class='arch'>" in page
    head = page[page.index("<div class='wide'>"):].split("</tr>")[0]
    folded = []
    for key in ("flash_bytes", "macs", "params", "peak_sram_bytes"):
        same = len({(t.cost or {})[key] for t in data.top}) == 1
        assert (key.replace("_", "_<wbr>") in head) is not same, key
        folded += [key] if same else []
    assert folded == ["peak_sram_bytes"]  # the same in every top row of this study: shown once
    assert "<tr><th>same in all 5 top trials</th><td>peak_sram_bytes=65.5 kB</td></tr>" in page
    long = "-".join(f"k{i % 7}e{i % 5}" for i in range(60))
    short = page_arch(long, ARCH_CHARS)
    assert f"title='{long}'" in short and short.endswith("…</code>")
    shown = short.split(">", 1)[1].removesuffix("…</code>").replace("<wbr>", "")
    assert long.startswith(shown) and len(shown) <= ARCH_CHARS and shown.endswith("-")
    assert page_arch("k3e3-k5e6") == "<code class='arch'>k3e3-<wbr>k5e6</code>"
    assert page_arch("s1.layers=-1,s2.k=3") == "<code class='arch'>s1.layers=-1,<wbr>s2.k=3</code>"


@pytest.mark.parametrize("make, needle", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_text("not sqlite"), "not an archspace study"),
])
def test_bad_study_file_is_one_line_exit_2(tmp_path: Path, make: Any, needle: str) -> None:
    path = tmp_path / "s.db"
    make(path)
    res = _invoke("report", str(path), "-o", str(tmp_path / "r"))
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("archspace: error:") and res.stderr.count("\n") == 1
    assert needle in res.stderr and not (tmp_path / "r").exists()


def test_output_that_is_a_file_is_one_line_exit_2(constrained: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    res = _invoke("report", str(constrained), "-o", str(tmp_path / "taken"))
    assert res.exit_code == 2 and res.stderr.count("\n") == 1, res.output
    with pytest.raises(ArchspaceError, match="is a file"):
        write_report(constrained, tmp_path / "taken")


def _train_study(path: Path, estimator: str = "train", **options: Any) -> Path:
    """A study of a dataset estimator (train by default) with one complete trial recorded
    (nothing trained)."""
    from archspace.spaces import get_space

    space = get_space("mcunet", width=0.35, resolution=32)
    arch = space.sample(0)
    config = _config(space="mcunet", space_params={"width": 0.35, "resolution": 32},
                     estimator=estimator, estimator_options=options, budget=1)
    with StudyStorage.create(path, config) as s:
        s.finish_trial(TrialRecord(0, space.format_arch(arch), space.arch_to_json(arch), "complete",
                                   {"val_accuracy": 50.0}, {"macs": 1.0}, 50.0, None, None,
                                   1.0, 0.0, 1.0, None))
    return path


def _drawn(study: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    from archspace.report.figures import plot_best_arch

    drawn = []
    monkeypatch.setattr("archspace.plots.draw_diagram", lambda d, p: drawn.append(d) or Path(p))
    plot_best_arch(gather(study), tmp_path / "best.png")
    (diagram,) = drawn
    return diagram


@pytest.mark.parametrize("estimator, verb", [("train", "trained"), ("synflow", "scored")])
def test_best_network_is_drawn_as_trained(estimator: str, verb: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """mcunet's classifier has 1000 classes; the dataset estimators fit it to digits' 10."""
    from archspace.report.data import trained_network

    study = _train_study(tmp_path / "t.db", estimator, dataset="digits")
    net = trained_network(gather(study))
    assert getattr(net.space, "num_classes", None) == 10 and net.resolution == 32
    diagram = _drawn(study, monkeypatch, tmp_path)
    assert diagram.nodes[-1].label == "Pool, FC\n10"
    assert diagram.title == (f"trial #0: mcunet(width=0.35,resolution=32) as {verb} on digits "
                             "(10 classes, 32x32 input)")


def test_best_network_without_its_dataset_is_the_configured_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    study = _train_study(tmp_path / "t.db", dataset="cifar10", root=str(tmp_path / "nothing"))
    diagram = _drawn(study, monkeypatch, tmp_path)
    assert diagram.nodes[-1].label == "Pool, FC\n1000"
    assert "as configured: the dataset could not be loaded here" in diagram.title, diagram.title
