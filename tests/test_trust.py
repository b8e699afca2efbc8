"""A study file or an export folder never makes archspace run code without the user's consent.

The user space here writes a marker file when its module is imported, and files planted beside
the study (``json.py``, ``archspace.py``, ``colorsys.py``: named like modules archspace or the
user's module import) write theirs: a marker that appears is code that ran. Each test runs as
the ``archspace`` command does: the current directory not on ``sys.path`` to begin with.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from archspace.cli import cli
from archspace.export import load_model
from archspace.report import gather
from archspace.spaces import UntrustedSpaceError
from archspace.study import Study

MODULE = "evilspace_archspace_trust"
TARGET = f"{MODULE}:Evil"
PLANTED = ("json", "archspace", "colorsys")
REFUSED = (f"study s.db uses the user space '{TARGET}' (module {MODULE} would be imported); "
           f"pass --space {TARGET} or --trust-code to allow it")

SPACE_SOURCE = textwrap.dedent(f'''
    from pathlib import Path

    with open(Path(__file__).with_name("{MODULE}.marker"), "a") as f:
        f.write("imported\\n")

    import colorsys  # not imported by archspace: a planted colorsys.py must not stand in

    from archspace import ChainSpace, Decision
    from archspace.ir.blocks import ClassifierHead, ConvBNAct

    class Evil(ChainSpace):
        name = "evil"
        kind = "chain"
        min_resolution = 8

        def __init__(self, num_classes: int = 10, resolution: int = 8) -> None:
            self._record_params(num_classes=num_classes, resolution=resolution)
            self.num_classes = num_classes
            self.default_resolution = self.check_resolution(resolution)
            self._set_decisions([Decision.of("k", (1, 3)), Decision.of("w", (4, 8))])

        def blocks(self, arch, resolution):
            return [ConvBNAct(int(arch["w"]), int(arch["k"])), ClassifierHead(self.num_classes)]
''')


def _planted(name: str) -> str:
    return textwrap.dedent(f'''
        from pathlib import Path

        Path(__file__).with_name("{name}.marker").write_text("planted code ran")

        class Evil:
            pass
    ''')


def _console_script_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """``sys.path`` as the ``archspace`` command has it: no current directory (``python -m
    pytest`` puts one first), restored after the test."""
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", os.getcwd())])


def _forget(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Drop ``modules`` from ``sys.modules`` (restored after the test), so an import runs the
    module's code again and would write its marker."""
    for name in modules:
        monkeypatch.delitem(sys.modules, name, raising=False)


def markers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.marker"))


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 2-trial study of the user space (made with consent: the user named it)."""
    folder = tmp_path_factory.mktemp("made")
    (folder / f"{MODULE}.py").write_text(SPACE_SOURCE)
    mp = pytest.MonkeyPatch()
    try:
        mp.chdir(folder)
        _console_script_path(mp)
        _forget(mp, MODULE)
        res = CliRunner().invoke(cli, ["search", "--space", TARGET, "--estimator", "naswot",
                                       "-e", "dataset=digits", "-e", "batch_size=16",
                                       "--strategy", "random", "--budget", "2", "--seed", "0",
                                       "--study", "s.db", "--no-progress"])
        assert res.exit_code == 0, res.output
    finally:
        mp.undo()
    return folder / "s.db"


@pytest.fixture
def work(made: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A received study: ``s.db``, the user space's module and planted files, as the current
    directory; nothing of them imported yet."""
    shutil.copy(made, tmp_path / "s.db")
    (tmp_path / f"{MODULE}.py").write_text(SPACE_SOURCE)
    for name in PLANTED:
        (tmp_path / f"{name}.py").write_text(_planted(name))
    monkeypatch.chdir(tmp_path)
    _console_script_path(monkeypatch)
    _forget(monkeypatch, MODULE, "colorsys")
    return tmp_path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


COMMANDS = {
    "resume": ("resume", "s.db", "--budget", "3", "--no-progress"),
    "report": ("report", "s.db", "-o", "rep"),
    "export": ("export", "s.db", "-o", "exp", "--format", "json,pt"),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_stored_user_space_is_not_imported_without_consent(work: Path, command: str) -> None:
    res = invoke(*COMMANDS[command])
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr == f"archspace: error: {REFUSED}\n"
    assert markers(work) == [] and MODULE not in sys.modules
    assert not (work / "rep").exists() and not (work / "exp").exists()


@pytest.mark.parametrize("consent", [("--space", TARGET), ("--trust-code",)], ids=["space", "trust"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_naming_the_space_again_or_trust_code_allows_it(work: Path, command: str,
                                                         consent: tuple[str, ...]) -> None:
    res = invoke(*COMMANDS[command], *consent)
    assert res.exit_code == 0, res.output
    assert markers(work) == [f"{MODULE}.marker"]  # the user's module, and no planted file
    assert sys.modules["colorsys"].__file__ != str(work / "colorsys.py")
    if command == "report":
        assert (work / "rep" / "index.html").is_file()
    if command == "export":
        assert (work / "exp" / "model.pt").is_file()


def test_another_space_given_with_space_is_refused(work: Path) -> None:
    res = invoke("report", "s.db", "-o", "rep", "--space", "examples.tinynet:TinyNet")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1
    assert (f"study s.db uses the space '{TARGET}', not 'examples.tinynet:TinyNet' given by "
            f"--space; give --space {TARGET}") in res.stderr
    assert markers(work) == [] and not (work / "rep").exists()


def test_a_catalog_study_needs_no_consent_and_checks_a_named_space(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke("search", "--space", "nb201", "--estimator", "nasbench201", "--strategy", "random",
                  "--budget", "2", "--study", "nb.db", "--no-progress").exit_code == 0
    assert invoke("resume", "nb.db", "--budget", "3", "--no-progress").exit_code == 0
    assert invoke("report", "nb.db", "-o", "r", "--space", "nb201").exit_code == 0
    res = invoke("report", "nb.db", "-o", "r2", "--space", "mcunet")
    assert res.exit_code == 2 and "uses the space 'nb201', not 'mcunet'" in res.stderr


def test_python_functions_take_trust(work: Path) -> None:
    with pytest.raises(UntrustedSpaceError, match="uses the user space"):
        Study.resume("s.db")
    with pytest.raises(UntrustedSpaceError, match="uses the user space"):
        gather("s.db")
    assert markers(work) == []
    assert gather("s.db", trust=TARGET).space.name == "evil"
    study = Study.resume("s.db", trust=True)
    study.close()
    assert markers(work) == [f"{MODULE}.marker"]


def test_load_model_imports_a_user_space_only_with_trust(work: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert invoke(*COMMANDS["export"], "--trust-code").exit_code == 0
    (work / f"{MODULE}.marker").unlink()
    _forget(monkeypatch, MODULE)
    with pytest.raises(UntrustedSpaceError) as e:
        load_model(work / "exp")
    assert str(e.value) == (f"export folder {work / 'exp'} uses the user space '{TARGET}' "
                            f"(module {MODULE} would be imported); pass trust=True to load_model "
                            "(or its space) to allow it")
    assert markers(work) == []
    model = load_model(work / "exp", trust=True)
    assert sum(p.numel() for p in model.parameters()) > 0
    assert markers(work) == [f"{MODULE}.marker"]


@pytest.mark.parametrize("name", ["json", "colorsys"])
def test_a_module_in_the_working_directory_never_shadows_an_installed_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The current directory is searched after the standard library and installed packages."""
    (tmp_path / f"{name}.py").write_text(_planted(name))
    monkeypatch.chdir(tmp_path)
    _console_script_path(monkeypatch)
    _forget(monkeypatch, name)
    res = invoke("size", f"{name}:Evil")
    assert res.exit_code == 2 and f"module {name!r} has no 'Evil'" in res.stderr
    assert markers(tmp_path) == []
    assert sys.path[-1] == str(tmp_path)  # still searched, last


def test_process_workers_do_not_import_planted_files(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A spawned worker starts as ``python -c`` (current directory first) in the driver's
    directory: a planted ``multiprocessing.py`` must not run there."""
    (tmp_path / "multiprocessing.py").write_text(_planted("multiprocessing"))
    monkeypatch.chdir(tmp_path)
    _console_script_path(monkeypatch)
    res = invoke("search", "--space", "nb201", "--estimator", "nasbench201", "--strategy", "random",
                 "--budget", "1", "--executor", "process", "--workers", "1", "--study", "p.db",
                 "--no-progress", "--json")
    assert res.exit_code == 0, res.output
    assert '"complete": 1' in res.stdout and markers(tmp_path) == []
