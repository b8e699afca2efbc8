"""``archspace export``: write a study's best (or a chosen) trial as files others can use.

``arch.json`` describes the arch and how it was found; ``--format pt`` adds the PyTorch weights
and a loader, ``--format onnx`` an ONNX graph, ``--format onnx-int8`` that graph quantised to
int8 on training images of the study's dataset (see :mod:`archspace.export` and
:mod:`archspace.export_int8`). Every model written is loaded back and compared with the network
(the int8 one by its accuracy beside the float one's); a failed check exits with status 1.
"""

from __future__ import annotations

import json
import warnings

import click

from archspace.cli._app import error_line
from archspace.cli._common import Bounded, BoundedFloat, trust_options, trust_value
from archspace.export import FORMATS, ExportCheckError, export_study
from archspace.export_int8 import DEFAULT_CALIBRATION
from archspace.limits import MAX_BUDGET, MAX_EPOCHS

__all__ = ["export"]


@click.command("export")
@click.argument("study_path", metavar="FILE.db", type=click.Path(dir_okay=False))
@click.option("--best", is_flag=True, help="Export the best complete trial (the default).")
@click.option("--trial", type=Bounded(0, MAX_BUDGET), metavar="N", help="Export trial N instead of the best.")
@click.option("-o", "--output", "out_dir", required=True, metavar="DIR",
              type=click.Path(file_okay=False),
              help="Folder to write (created if missing; other files in it are left alone). "
                   "Nothing is written unless the whole export succeeds.")
@click.option("-f", "--format", "formats", multiple=True, metavar="FMT",
              help=f"{', '.join(FORMATS)}: repeatable or comma-separated (default json,pt); "
                   "arch.json is always written.")
@click.option("--train/--no-train", default=True, show_default=True,
              help="Re-train the arch when the study's estimator trains (else export the "
                   "seeded initial weights).")
@click.option("--calibration-images", "calibration", type=Bounded(1, 1_000_000), metavar="N",
              default=DEFAULT_CALIBRATION, show_default=True,
              help="Training images onnx-int8 calibrates its activation ranges on "
                   "(class-balanced; at most the training split).")
@click.option("--finetune-epochs", type=BoundedFloat(0, MAX_EPOCHS), default=0.0,
              metavar="N", help="Fine-tune weights inherited from a supernet (estimator "
              "oneshot) for N epochs before exporting them (default 0: as inherited).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of text.")
@trust_options
def export(study_path: str, best: bool, trial: int | None, out_dir: str,
           formats: tuple[str, ...], train: bool, calibration: int, finetune_epochs: float,
           as_json: bool,
           space_name: str | None, trust_code: bool) -> None:
    """Export the best trial (or --trial N) of the study in FILE.db to DIR.

    A study of a user space (module:Class) needs --space or --trust-code: its module is code."""
    if best and trial is not None:
        raise click.UsageError("give --best or --trial N, not both")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        try:
            result = export_study(study_path, out_dir, formats, trial=trial, train=train,
                                  log=lambda line: click.echo(line, err=True),
                                  trust=trust_value(space_name, trust_code),
                                  calibration_images=calibration,
                                  finetune_epochs=finetune_epochs)
        except ExportCheckError as e:
            click.echo(error_line(f"export check failed: {e}"), err=True)
            raise click.exceptions.Exit(1) from None
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    if as_json:
        click.echo(json.dumps({"out_dir": str(result.out_dir), "files": list(result.files),
                               "trial": result.trial, "weights": result.weights,
                               "checks": list(result.checks), "warnings": list(result.warnings),
                               "arch": result.info["arch"],
                               **({"int8": result.info["int8"]} if "int8" in result.info else {})},
                              indent=2))
        return
    weights = f", weights {result.weights}" if result.weights else ""
    click.echo(f"exported trial {result.trial} of {study_path} to {result.out_dir}{weights}")
    click.echo(f"  arch   {result.info['arch']}")
    click.echo(f"  files  {' '.join(result.files)}")
    for check in result.checks:
        click.echo(f"  check  {check}")
    if "int8" in result.info:
        q = result.info["int8"]
        click.echo(f"  int8   {q['flash_gap']}")
