"""``archspace supernet``: train a weight-sharing supernet of a space (see
:mod:`archspace.supernet`); the ``oneshot`` estimator then scores archs with its weights."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from archspace.cli._common import load_space, param_option, seed_option
from archspace.cli.search import option_pairs

__all__ = ["supernet"]


@click.group("supernet")
def supernet() -> None:
    """Weight-sharing supernets: train one per space, then search with --estimator oneshot."""


@contextmanager
def _bar(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("supernet"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("train", total=None, loss="-")

        def advance(step: int, total: int, loss: float) -> None:
            bar.update(task, completed=step, total=total, loss=f"{loss:.4f}")

        yield advance


@supernet.command("train")
@click.option("--space", "space_name", required=True, metavar="SPACE",
              help="Catalog space (or module:Class).")
@param_option
@click.option("-e", "--option", "options", multiple=True, metavar="K=V",
              help="Training option, repeatable: the train estimator's (dataset, epochs, "
                   "batch_size, lr, recipe, ...) and sandwich, distill, kernel_transform, "
                   "searched_bn_affine, sampler (uniform, connected, fair), bn_batches; "
                   "few_shot=EDGE splits the trained supernet on that cell edge into one "
                   "sub-supernet per op (few-shot NAS; few_shot_epochs, few_shot_lr).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="Supernet file to write after every epoch (an unfinished one of the same "
                   "space and options is continued).")
@seed_option("Seed of the weights, batches and sampled paths.", default=0)
@click.option("--fresh", is_flag=True, help="Start over even if FILE holds an unfinished run.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of text.")
def train(space_name: str, params: tuple[str, ...], options: tuple[str, ...], output: str,
          seed: int, fresh: bool, progress: bool | None, as_json: bool) -> None:
    """Train the supernet of SPACE with single-path uniform sampling (SPOS) into FILE; with
    -e few_shot=EDGE, then split it on that edge (few-shot NAS, Zhao et al. 2021)."""
    from archspace.supernet.train import train_supernet

    space = load_space(space_name, params)
    opts = option_pairs(options, "training")
    show = sys.stderr.isatty() if progress is None else progress
    with _bar(show and not as_json) as advance:
        summary = train_supernet(space, output, opts, seed, fresh=fresh, progress=advance,
                                 log=lambda line: click.echo(line, err=True))
    if as_json:
        click.echo(json.dumps({k: summary.get(k) for k in (
            "space", "params", "resolution", "num_classes", "dataset", "epoch", "step",
            "history", "metrics", "few_shot")}, indent=2, default=str))
        return
    click.echo(f"supernet of {summary['label']} at {summary['resolution']}px, "
               f"{summary['num_classes']} classes: {summary['epoch']:g} epochs on "
               f"{summary['dataset']} -> {output}")
    fs = summary.get("few_shot")
    if fs:
        click.echo(f"  few-shot: split on {fs['edge']} into {len(fs['ops'])} sub-supernets "
                   f"({', '.join(map(str, fs['ops']))}), {fs['epochs']:g} epochs each")
    for name, value in (summary.get("metrics") or {}).items():
        if name.endswith("accuracy"):
            click.echo(f"  {name.replace('_', ' ')}  {value:.2f}% (inherited weights, BN "
                       "recalibrated)")
