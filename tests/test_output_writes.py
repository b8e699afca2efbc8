"""``export -o DIR`` and ``report -o DIR`` write all or nothing, and never through a link planted
in DIR (:mod:`archspace._atomic`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import archspace.report.build as build
from archspace._atomic import staged_output
from archspace.cli import cli
from archspace.errors import ArchspaceError
from archspace.study import StudyConfig, run_study

OWNED = ("a.txt", "b.txt", "index.html")


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("study") / "nb.db"
    run_study(path, StudyConfig(space="nb201", space_params={}, estimator="nasbench201",
                                estimator_options={}, strategy="random", strategy_options={},
                                seed=0, budget=3))
    return path


def _tree(folder: Path) -> dict[str, str]:
    """Every entry in ``folder``: a file's text, or where a link points."""
    return {p.name: (f"-> {p.readlink()}" if p.is_symlink() else p.read_text())
            for p in sorted(folder.iterdir())}


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "bashrc"
    path.write_text("the user's own file\n")
    return path


@pytest.fixture
def taken(tmp_path: Path, victim: Path) -> Path:
    """An earlier output: a user's file, a stale owned file, and a link planted as index.html."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "b.txt").write_text("stale")
    (out / "index.html").symlink_to(victim)
    return out


def test_a_new_folder_appears_whole(tmp_path: Path) -> None:
    with staged_output(tmp_path / "new", OWNED, "output") as stage:
        (stage / "a.txt").write_text("A")
        assert not (tmp_path / "new").exists()  # nothing visible until done
    assert [p.name for p in tmp_path.iterdir()] == ["new"]  # no temporary folder left
    assert _tree(tmp_path / "new") == {"a.txt": "A"}


def test_a_failure_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(KeyError), staged_output(tmp_path / "new", OWNED, "output") as stage:
        (stage / "a.txt").write_text("A")
        raise KeyError("boom")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_gets_only_our_files_and_no_link_is_followed(taken: Path,
                                                                       victim: Path) -> None:
    with staged_output(taken, OWNED, "output") as stage:
        (stage / "a.txt").write_text("A")
        (stage / "index.html").write_text("<html>")
    assert victim.read_text() == "the user's own file\n"
    assert not (taken / "index.html").is_symlink()
    assert _tree(taken) == {"a.txt": "A", "index.html": "<html>", "notes.txt": "mine"}  # b stale


def test_a_failure_leaves_an_existing_folder_as_it_was(taken: Path) -> None:
    before = _tree(taken)
    with pytest.raises(ArchspaceError, match=r"cannot write output \S+out: No space left"), \
            staged_output(taken, OWNED, "output") as stage:
        (stage / "a.txt").write_text("A")
        raise OSError(28, "No space left on device")
    assert _tree(taken) == before


def test_unusable_outputs_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArchspaceError, match=r"output \S+file is a file; give a folder"), \
            staged_output(tmp_path / "file", OWNED, "output"):
        pass
    (tmp_path / "d" / "a.txt").mkdir(parents=True)
    with pytest.raises(ArchspaceError, match=r"holds a folder 'a\.txt' where the file goes"), \
            staged_output(tmp_path / "d", OWNED, "output"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "file"]


def test_report_does_not_write_through_a_planted_link(study: Path, taken: Path,
                                                      victim: Path) -> None:
    (taken / "summary.json").symlink_to(victim)
    res = CliRunner().invoke(cli, ["report", str(study), "-o", str(taken)])
    assert res.exit_code == 0, res.output
    assert victim.read_text() == "the user's own file\n"
    assert not (taken / "index.html").is_symlink() and not (taken / "summary.json").is_symlink()
    assert "<html" in (taken / "index.html").read_text().lower()
    assert (taken / "notes.txt").read_text() == "mine"
    assert not [p for p in taken.parent.rglob("*") if ".archspace-tmp-" in p.name]


def test_a_failed_report_leaves_no_partial_output(study: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: object, path: Path) -> Path:
        raise RuntimeError("figure failed")

    name, title, _ = build.FIGURES[-1]
    monkeypatch.setattr(build, "FIGURES", (*build.FIGURES[:-1], (name, title, broken)))
    with pytest.raises(RuntimeError, match="figure failed"):
        build.write_report(study, tmp_path / "rep")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_export_does_not_write_through_a_planted_link(study: Path, tmp_path: Path,
                                                      victim: Path) -> None:
    out = tmp_path / "exp"
    out.mkdir()
    (out / "arch.json").symlink_to(victim)
    (out / "model.pt").symlink_to(victim)
    res = CliRunner().invoke(cli, ["export", str(study), "-o", str(out), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert victim.read_text() == "the user's own file\n"
    assert sorted(p.name for p in out.iterdir()) == ["arch.json"]  # the stale model.pt link gone
    assert not (out / "arch.json").is_symlink() and '"trial"' in (out / "arch.json").read_text()
