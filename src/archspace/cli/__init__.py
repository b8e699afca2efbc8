"""The ``archspace`` command line.

Each subcommand is one small module over the public API; :data:`COMMANDS` lists them (nothing
registers itself on import). To add one, write ``cli/<name>.py`` with a click command and append
it here.
"""

from __future__ import annotations

import click

from archspace.cli._app import ArchspaceGroup, make_cli
from archspace.cli.analyze import analyze
from archspace.cli.datasets import datasets
from archspace.cli.draw import draw
from archspace.cli.estimators import estimators
from archspace.cli.export import export
from archspace.cli.latency import latency
from archspace.cli.profile import profile
from archspace.cli.report import report
from archspace.cli.resume import resume
from archspace.cli.sample import sample
from archspace.cli.search import search
from archspace.cli.size import size
from archspace.cli.spaces import spaces
from archspace.cli.strategies import strategies
from archspace.cli.supernet import supernet
from archspace.cli.tinynas import tinynas

__all__ = ["COMMANDS", "ArchspaceGroup", "cli", "main"]

COMMANDS: tuple[click.Command, ...] = (spaces, size, sample, profile, draw, search, resume,
                                       estimators, datasets, analyze, strategies, export,
                                       report, latency, supernet, tinynas)

cli = make_cli(COMMANDS)


def main() -> None:
    """Console-script entry point (``archspace``)."""
    cli.main(prog_name="archspace")
