"""Every example in README.md and docs/*.md runs.

Fenced blocks are found by their language tag, never by line numbers, so the docs can change
freely: every ```python block runs (a file's blocks in order, in one namespace, in a fresh
folder), and every ``archspace ...`` command of the ```bash blocks runs through bash (a block's
commands in order, in a fresh folder holding a copy of ``examples/``) and must exit 0; where its
trailing comment starts with a number (``archspace size nb201 --distinct  # 5260 ...``) the output
must contain that number (each command in a process forked from a server that has imported
torch once: tests/_forkserver.py, checked against a fresh interpreter here). A fence without a
language fails the test: tag it ``python`` or ``bash`` (run here) or ``text`` (not run).

Not run, each with its reason (see :func:`skip_reason`): commands that train networks for
minutes (their pieces are covered by tests/test_cli_search.py, tests/test_estimators.py,
tests/test_user_space.py, tests/test_export.py and tests/test_report.py), commands that need a
study made by one of those, an example that repeats one run here (docs/cost-model.md's int8
search and export: docs/estimation.md's) or by a test (docs/dense-tasks.md's search, report and
export: tests/test_estimators_segment.py's), templates with placeholders (``...``, ``FILE.db``,
``HOST:PORT``), and what is not an ``archspace`` command (installing, the test suite, benchmark scripts, Ray).

Commands run here that other tests also cover (in more detail): ``spaces``, ``size``,
``sample``, ``profile``, ``draw`` (tests/test_cli.py), ``search`` on nb201 (tests/test_cli_search.py),
``analyze flops|edf`` (tests/test_cli_analyze.py), a user space's ``size``/``sample``
(tests/test_user_space.py); the Python API (tests/test_study_api.py).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import _forkserver
import archspace

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = ("python", "bash")
NOT_RUN = ("text", "console", "json", "yaml", "toml", "ini", "html", "csv")
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced block: its file, the line its code starts on, language and text."""

    path: Path
    line: int
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file (CommonMark fences: ``` or ~~~, 0-3 spaces)."""
    out: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang = m["fence"], m["info"].strip().split(" ")[0].lower()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not re.match(rf"^ {{0,3}}{fence[0]}{{{len(fence)},}}\s*$", lines[j]):
            body.append(lines[j])
            j += 1
        out.append(Block(path, i + 2, lang, "\n".join(body) + "\n"))
        i = j + 1
    return out


ALL = [b for p in DOCS for b in blocks(p)]


def test_every_fence_has_a_language() -> None:
    bad = [f"{b.where}: {b.lang or 'no language'}" for b in ALL if b.lang not in RUN + NOT_RUN]
    assert not bad, ("tag these fenced blocks python or bash (run by this test) or text (not run): "
                     + "; ".join(bad))
    assert {b.lang for b in ALL} >= {"python", "bash"}  # the extraction finds the examples


# -- python ----------------------------------------------------------------------------------
def _python_files() -> list[Path]:
    return [p for p in DOCS if any(b.lang == "python" and b.path == p for b in ALL)]


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_python_examples(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace: dict[str, Any] = {"__name__": "__main__"}
    skipped: list[str] = []
    for block in (b for b in ALL if b.path == path and b.lang == "python"):
        missing = [m for m in _needs(block.text) if not _importable(m)]
        if missing:
            skipped.append(f"{block.where} (needs {', '.join(missing)})")
            continue
        code = compile("\n" * (block.line - 1) + block.text, str(block.path), "exec")
        exec(code, namespace)
    if skipped:
        pytest.skip("ran the other blocks; not installed here: " + "; ".join(skipped))


def _needs(text: str) -> list[str]:
    """Optional packages a block needs (pandas for to_dataframe)."""
    return ["pandas"] if "to_dataframe(" in text else []


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# -- bash ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Command:
    block: Block
    line: int
    text: str  # one command: continuation lines joined, no comment
    comment: str


def _strip_comment(text: str) -> tuple[str, str]:
    """``code  # comment`` -> ``("code", "comment")``; a ``#`` inside quotes or a word is code."""
    quote = ""
    for i, c in enumerate(text):
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].rstrip(), text[i + 1:].strip()
    return text.rstrip(), ""


def _split_and(code: str) -> list[str]:
    """``a && b`` -> ``["a", "b"]``, outside quotes."""
    parts, cur, quote, i = [], "", "", 0
    while i < len(code):
        c = code[i]
        if quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif code.startswith("&&", i):
            parts.append(cur.strip())
            cur, i = "", i + 2
            continue
        cur += c
        i += 1
    parts.append(cur.strip())
    return [p for p in parts if p]


def commands(block: Block) -> list[Command]:
    """The commands of a bash block (comments and blank lines dropped)."""
    out: list[Command] = []
    lines = block.text.splitlines()
    i = 0
    while i < len(lines):
        start, text = i, lines[i]
        while text.rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text.rstrip()[:-1].rstrip() + " " + lines[i].strip()
        i += 1
        if not text.strip() or text.strip().startswith("#"):
            continue
        code, comment = _strip_comment(text)
        for part in _split_and(code):
            out.append(Command(block, block.line + start, part, comment))
    return out


#: Commands not run: (pattern, reason). Checked in order after the placeholder check.
#: A training search of one epoch and at most two trials (docs/estimation.md's) is run: seconds.
_TINY_TRAINING = r"(?=.*\s-e epochs=1\b)(?=.*\s--budget [12]\b)"
SKIP: tuple[tuple[str, str], ...] = (
    (rf"^archspace (search|resume)\b(?!{_TINY_TRAINING}).*--estimator[ =](train|segment|detect)\b",
     "trains networks for minutes; a training search on a process pool, its resume and export "
     "are covered at small budgets by tests/test_user_space.py, training by tests/test_estimators.py"),
    (r"^archspace tinynas\b",
     "trains a supernet and fine-tunes for minutes; every stage, resuming and bad input are "
     "covered at a tiny size by tests/test_tinynas.py"),
    (r"^archspace search\b.*--study int8\.db\b",
     "docs/cost-model.md's int8 example: the same training search and int8 export as "
     "docs/estimation.md's first block (run there: 2 trials, 100 calibration images); the "
     "int8 export is checked by tests/test_export_int8.py"),
    # this exact command only: an edited one runs again
    ("^" + re.escape("archspace search --space autodeeplab -p layers=3 -p filter_multiplier=2 -p "
                     "aspp_channels=8 --estimator segment -e image_size=32 -e scenes=8 -e "
                     "val_scenes=4 -e epochs=1 -e batch_size=4 --strategy random --budget 1 "
                     "--study seg.db -c 'macs<=50M'") + "$",
     "docs/dense-tasks.md's segmentation search: the same search (same space, options, "
     "constraint), then its report and export, run with assertions by tests/"
     "test_estimators_segment.py::test_cli_search_resume_report_export"),
    (r"^archspace analyze edf\b.*--estimator[ =]train\b",
     "trains networks for minutes; edf is covered by tests/test_cli_analyze.py and "
     "tests/test_analysis_edf.py"),
)
_NOT_ARCHSPACE = {
    "pip": "installs packages", "python3": "makes a virtualenv", ".": "activates a virtualenv",
    "ray": "starts a Ray cluster", "export": "sets up a Ray cluster",
}
_PLACEHOLDER = re.compile(r"^(\.\.\.|\[.*|[A-Z][A-Z_]*([.:][\w.:]*)?|[A-Z]+=<.*)$")


def skip_reason(cmd: Command, made_by_skipped: dict[str, Command]) -> str | None:
    """Why ``cmd`` is not run, or None to run it."""
    words = cmd.text.split()
    if words[0] == "python":
        return "not an archspace command: " + (
            "the test suite itself" if "pytest" in words else
            "a benchmark script (minutes; its results are in docs/benchmarks.md)")
    if words[0] != "archspace":
        return "not an archspace command: " + _NOT_ARCHSPACE.get(words[0], words[0])
    try:
        tokens = shlex.split(cmd.text)
    except ValueError:
        tokens = words
    holders = [t for t in tokens if _PLACEHOLDER.match(t)]
    if holders:
        return f"a template with placeholders ({', '.join(holders)}), not a runnable command"
    for pattern, reason in SKIP:
        if re.search(pattern, cmd.text):
            return reason
    for t in tokens[1:]:
        if t in made_by_skipped:
            maker = made_by_skipped[t]
            return (f"needs {t}, made by the skipped command on line {maker.line}; export and report "
                    "are covered by tests/test_export.py and tests/test_report.py")
    return None


def _studies_made(cmd: Command) -> list[str]:
    """The study files a command creates (``--study FILE``)."""
    words = cmd.text.replace("=", " ").split()
    return [b for a, b in itertools.pairwise(words) if a == "--study"]


def _bash_blocks() -> list[Block]:
    return [b for b in ALL if b.lang == "bash"]


@pytest.fixture(scope="module")
def shell_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """PATH with an ``archspace`` that runs this checkout's package with this interpreter, each
    command in a process forked from a server that has imported torch once (tests/_forkserver.py)."""
    bin_dir = tmp_path_factory.mktemp("bin")
    src = str(Path(archspace.__file__).resolve().parents[1])
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p),
               MPLBACKEND="Agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               COLUMNS="100",
               ARCHSPACE_DATA_DIR=str(tmp_path_factory.mktemp("data")))  # latency tables
    with _fork_server(env) as sock:
        script = bin_dir / "archspace"
        script.write_text(_forkserver.CLIENT.format(python=sys.executable, socket=sock))
        script.chmod(0o755)
        yield env


@contextlib.contextmanager
def _fork_server(env: dict[str, str]) -> Iterator[str]:
    """The fork server's socket (in a short folder: a Unix socket's path is at most 107 bytes)."""
    folder = tempfile.mkdtemp(prefix="archspace-fs-")
    sock = os.path.join(folder, "s")
    server = subprocess.Popen([sys.executable, _forkserver.__file__, sock, *_forkserver.PRELOAD],
                              env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline() == "ready\n", (
            f"the fork server did not start (exit status {server.poll()})")
        yield sock
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("block", _bash_blocks(), ids=lambda b: b.where)
def test_bash_examples(block: Block, tmp_path: Path, shell_env: dict[str, str]) -> None:
    if (ROOT / "examples").is_dir():  # `--space examples.tinynet:TinyNet` imports it from here
        shutil.copytree(ROOT / "examples", tmp_path / "examples")
    made_by_skipped: dict[str, Command] = {}
    ran, skipped = [], []
    for cmd in commands(block):
        why = skip_reason(cmd, made_by_skipped)
        if why is not None:
            skipped.append(f"line {cmd.line} `{cmd.text[:60]}`: {why}")
            made_by_skipped.update({t: cmd for t in _studies_made(cmd)})
            continue
        out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd.text], cwd=tmp_path, env=shell_env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, f"{block.path.name}:{cmd.line} `{cmd.text}` failed:\n{out.stderr}"
        number = re.match(r"(\d[\d,]*)\b", cmd.comment)
        if number:
            assert number[1].replace(",", "") in out.stdout.replace(",", ""), (
                f"{block.path.name}:{cmd.line} `{cmd.text}` should print {number[1]}: {out.stdout}")
        ran.append(cmd)
    if not ran:
        pytest.skip("nothing run: " + "; ".join(skipped))


def test_the_fork_server_runs_a_command_as_a_fresh_interpreter_does(shell_env: dict[str, str],
                                                                     tmp_path: Path) -> None:
    """Output, errors and exit status of commands served by tests/_forkserver.py are those of
    the same commands in a fresh interpreter (a pipe between two commands, a usage error)."""
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "archspace").write_text(f"#!{sys.executable}\nimport sys\nfrom archspace.cli import main\n"
                                     "sys.argv[0] = 'archspace'\nmain()\n")
    (fresh / "archspace").chmod(0o755)
    fresh_env = dict(shell_env, PATH=f"{fresh}{os.pathsep}{shell_env['PATH']}")
    for cmd in ("archspace sample nb201 --seed 1 | archspace profile nb201 --arch @/dev/stdin --json",
                "archspace size nb201 --param C=x"):
        served, alone = (subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=tmp_path, env=env,
                                        capture_output=True, text=True, timeout=300)
                         for env in (shell_env, fresh_env))
        assert (served.returncode, served.stdout, served.stderr) == (
            alone.returncode, alone.stdout, alone.stderr), cmd
    assert alone.returncode == 2 and alone.stderr.startswith("archspace: error:")


def test_the_main_commands_are_run_not_skipped() -> None:
    """The README's own examples of these subcommands run (a change that makes them skipped,
    e.g. a placeholder or a lost ``bash`` tag, fails here); and the parser itself."""
    run: set[str] = set()
    for block in _bash_blocks():
        made: dict[str, Command] = {}
        for cmd in commands(block):
            if skip_reason(cmd, made) is None:
                run.add(cmd.text.split()[1])
            else:
                made.update({t: cmd for t in _studies_made(cmd)})
    assert run >= {"spaces", "size", "sample", "profile", "draw", "search", "analyze"}
    block = Block(ROOT / "README.md", 10, "bash",
                  "# a comment\narchspace size nb201 --distinct   # 5260 'x'\n"
                  "pip install -e . && archspace search --space nb201 \\\n    --study a.db\n"
                  "archspace report a.db -o 'out # not a comment'\narchspace resume FILE.db\n")
    cmds = commands(block)
    assert [(c.line, c.text, c.comment) for c in cmds] == [
        (11, "archspace size nb201 --distinct", "5260 'x'"), (12, "pip install -e .", ""),
        (12, "archspace search --space nb201 --study a.db", ""),
        (14, "archspace report a.db -o 'out # not a comment'", ""), (15, "archspace resume FILE.db", "")]
    made = {"a.db": cmds[2]}
    assert skip_reason(cmds[1], {}) == "not an archspace command: installs packages"
    assert skip_reason(cmds[3], made) is not None and "made by the skipped command on line 12" in (
        skip_reason(cmds[3], made) or "")
    assert "placeholders (FILE.db)" in (skip_reason(cmds[4], {}) or "")
    assert skip_reason(cmds[0], {}) is None


def test_only_tiny_training_searches_are_run() -> None:
    """A training search runs only at one epoch and at most two trials (seconds)."""
    def cmd(text: str) -> Command:
        return Command(Block(ROOT / "docs" / "estimation.md", 1, "bash", text), 1, text, "")

    tiny = "archspace search --space nb201 --estimator train -e epochs=1 --budget 2 --study t.db"
    assert skip_reason(cmd(tiny), {}) is None
    for big in (tiny.replace("epochs=1", "epochs=10"), tiny.replace("--budget 2", "--budget 20"),
                tiny.replace(" -e epochs=1", "")):
        assert "trains networks for minutes" in (skip_reason(cmd(big), {}) or "")
