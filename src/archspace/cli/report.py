"""``archspace report``: an HTML page with figures and a JSON summary of a study file."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from archspace.cli._common import Bounded, trust_options, trust_value
from archspace.limits import MAX_BUDGET

__all__ = ["report"]


@click.command("report")
@click.argument("study_path", metavar="FILE.db", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out_dir", required=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write index.html, summary.json and the PNG figures in (created if "
                   "missing; other files in it are left alone). Nothing is written unless the "
                   "whole report is made.")
@click.option("--top", default=20, show_default=True, type=Bounded(1, MAX_BUDGET), metavar="N",
              help="Trials in the table of best trials.")
@trust_options
def report(study_path: Path, out_dir: Path, top: int, space_name: str | None,
           trust_code: bool) -> None:
    """Report on the study in FILE.db (running, interrupted or finished) and print the path of
    its index.html: best-so-far curve, trade-offs, cost histograms, the best architecture and
    a table of the top trials. A study of a user space (module:Class) needs --space or
    --trust-code: its module is code."""
    from archspace.report import write_report

    with warnings.catch_warnings(record=True) as caught:  # e.g. a damaged trial row, skipped
        warnings.simplefilter("always", RuntimeWarning)
        page = write_report(study_path, out_dir, top=top, trust=trust_value(space_name, trust_code))
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    click.echo(page)
