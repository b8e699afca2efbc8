"""``archspace tinynas``: MCUNet's two-stage search in one resumable command (see
:mod:`archspace.tinynas`)."""

from __future__ import annotations

import json
import sys

import click

from archspace.cli._common import Bounded, BoundedFloat, seed_option
from archspace.cli.search import option_pairs
from archspace.cli.supernet import _bar
from archspace.cost.tinyengine import MEMORY_MODELS
from archspace.errors import ArchspaceError
from archspace.limits import MAX_BUDGET, MAX_EPOCHS, MAX_PROFILED

__all__ = ["tinynas"]


def _floats(text: str | None, what: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise ArchspaceError(f"--{what} {text!r}: expected numbers separated by commas, "
                             "e.g. 0.35,0.5") from None


def _ints(text: str | None, what: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise ArchspaceError(f"--{what} {text!r}: expected integers separated by commas, "
                             "e.g. 32,48") from None


@click.command("tinynas")
@click.option("--sram", required=True, metavar="SIZE", help="Peak SRAM limit, e.g. 320kB.")
@click.option("--flash", required=True, metavar="SIZE", help="Flash limit, e.g. 1MB.")
@click.option("-e", "--option", "options", multiple=True, metavar="K=V",
              help="Supernet training option, repeatable: the train estimator's (dataset, "
                   "epochs, batch_size, train_samples, ...) and sandwich, distill.")
@click.option("-o", "--output", "out_dir", required=True, metavar="DIR",
              type=click.Path(file_okay=False), help="Folder of the run (continued if it "
              "holds one with the same settings).")
@click.option("--widths", metavar="W1,W2", help="Family widths stage 1 picks from "
              "(default 0.35,0.5).")
@click.option("--resolutions", metavar="R1,R2", help="Family resolutions stage 1 picks "
              "from (default 32,48).")
@click.option("--samples", type=Bounded(1, MAX_PROFILED), default=1000, show_default=True,
              help="Models sampled per family member in stage 1.")
@click.option("--min-count", type=Bounded(1, MAX_PROFILED), default=20, show_default=True,
              help="Satisfying models a member needs to be picked.")
@click.option("--memory-model", type=click.Choice(MEMORY_MODELS), default="tinyengine",
              show_default=True, help="How peak SRAM and flash are counted.")
@click.option("--budget", type=Bounded(1, MAX_BUDGET), default=50, show_default=True,
              help="Candidates evolution scores on the supernet.")
@click.option("--population", type=Bounded(1, MAX_BUDGET), default=16, show_default=True,
              help="Evolution's population.")
@click.option("--sample", "tournament", type=Bounded(1, MAX_BUDGET), default=4,
              show_default=True, help="Evolution's tournament size.")
@click.option("--bn-batches", type=Bounded(1, 10_000), default=4, show_default=True,
              help="Batches each candidate's batch norm is recalibrated on.")
@click.option("--finetune-epochs", type=BoundedFloat(0, MAX_EPOCHS), default=0.0,
              show_default=True, help="Epochs the winner trains from its inherited weights.")
@click.option("-f", "--format", "formats", multiple=True, metavar="FMT",
              help="Export format, repeatable: pt (default), onnx, onnx-int8.")
@click.option("--stage", "stages", multiple=True,
              type=click.Choice(("select", "supernet", "search", "export", "report")),
              help="Run only this stage (repeatable); the ones before it must be recorded.")
@seed_option("Seed of every stage.", default=0)
@click.option("--progress/--no-progress", default=None,
              help="Progress bars on stderr (default: when stderr is a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the run's state as JSON.")
def tinynas(sram: str, flash: str, options: tuple[str, ...], out_dir: str, widths: str | None,
            resolutions: str | None, samples: int, min_count: int, memory_model: str,
            budget: int, population: int, tournament: int, bn_batches: int,
            finetune_epochs: float, formats: tuple[str, ...], stages: tuple[str, ...], seed: int,
            progress: bool | None, as_json: bool) -> None:
    """TinyNAS (MCUNet, Lin et al. NeurIPS 2020): pick the MCUNet family member with the
    FLOPs-distribution rule, train its supernet, run evolution on it under the SRAM and flash
    limits, fine-tune and export the winner, and report every stage into DIR.

    \b
    archspace tinynas --sram 320kB --flash 1MB -e dataset=cifar10 -e epochs=10 -o run/
    """
    from archspace.tinynas import RESOLUTIONS, STAGES, WIDTHS, TinyNASConfig, run_tinynas

    config = TinyNASConfig(
        sram=sram, flash=flash, train=option_pairs(options, "training"),
        memory_model=memory_model, widths=_floats(widths, "widths") or WIDTHS,
        resolutions=_ints(resolutions, "resolutions") or RESOLUTIONS, samples=samples,
        min_count=min_count, budget=budget, population=population, sample=tournament,
        bn_batches=bn_batches, finetune_epochs=finetune_epochs,
        formats=tuple(formats) or ("pt",), seed=seed)
    show = (sys.stderr.isatty() if progress is None else progress) and not as_json
    with _bar(show) as advance:
        state = run_tinynas(config, out_dir, stages or STAGES, progress=show,
                            supernet_progress=advance,
                            log=lambda line: click.echo(line, err=True))
    if as_json:
        click.echo(json.dumps(state, indent=2))
        return
    done = state["stages"]
    if "search" in done:
        b = done["search"]["best"]
        click.echo(f"best: #{b['number']} {b['score']:.2f}% (inherited weights)  {b['arch']}")
    if "export" in done:
        click.echo(f"exported trial #{done['export']['trial']} to {out_dir}/export")
    if "report" in done:
        click.echo(f"report: {out_dir}/tinynas.html and {out_dir}/report/index.html")
