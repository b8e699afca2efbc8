"""The README's quick start: the package alone (no dev extras) runs its main job, and CI runs
the test command the README gives."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: What only ``.[dev]`` (or an optional extra) installs.
DEV_ONLY = ("ray", "onnx", "onnxscript", "onnxruntime", "fvcore", "hypothesis", "pytest", "xdist",
            "ruff", "mypy")


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def _first_bash(section: str) -> str:
    m = re.search(r"```bash\n(.*?)\n```", section, re.S)
    assert m, section[:200]
    return m.group(1)


def test_quick_start_installs_the_package_alone_and_runs_the_main_job() -> None:
    line = _first_bash(_section("Install and quick start"))
    steps = [s.strip() for s in line.split("&&")]
    assert "pip install -e ." in steps and "[dev]" not in line
    assert steps[-1].startswith("archspace search --space nb201 --estimator nasbench201")


def test_ci_runs_the_test_command_of_the_readme() -> None:
    command = _first_bash(_section("Tests")).splitlines()[0]
    assert command.startswith('pip install -e ".[dev]" && ') and "pytest" in command
    ci = (ROOT / ".ci" / "run").read_text()
    (extract,) = re.findall(r'^test_cmd="\$\((.*)\)"$', ci, re.M)
    got = subprocess.run(["bash", "-c", extract], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert got == command
    assert re.search(r'^eval "\$test_cmd"$', ci, re.M)


BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {dev}:
            raise ModuleNotFoundError(f"dev-only package imported: {{name}}")
        return None
sys.meta_path.insert(0, Block())
sys.argv = ["archspace", *{args}]
from archspace.cli import main
main()
"""


def test_main_job_needs_no_dev_only_package(tmp_path: Path) -> None:
    """The quick start's search, with every dev-only package made unimportable."""
    line = _first_bash(_section("Install and quick start"))
    args = shlex.split(line.split("&&")[-1])[1:]
    code = BLOCKER.format(dev=set(DEV_ONLY), args=args)
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "dev-only package imported" not in res.stderr
    assert (tmp_path / "nb201.db").exists() and "best:" in res.stdout
