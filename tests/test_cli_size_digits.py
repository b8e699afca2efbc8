"""``archspace size`` prints sizes beyond Python's 4,300-digit int-to-str limit in full."""

from __future__ import annotations

import importlib

import pytest
from click.testing import CliRunner

from archspace.cli import cli

size_cli = importlib.import_module("archspace.cli.size")  # the package's name is the command


class _Huge:
    def size(self) -> int:
        return 7 * 10**5000


def test_exact_prints_every_digit() -> None:
    assert size_cli.exact(10**5000) == "1" + "0" * 5000
    assert size_cli.exact("n^2") == "n^2"


def test_size_of_a_huge_space_is_printed_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(size_cli, "load_space", lambda name, params: _Huge())
    res = CliRunner().invoke(cli, ["size", "nb201"])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == "7" + "0" * 5000
