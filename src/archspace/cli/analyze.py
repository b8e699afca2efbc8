"""``archspace analyze``: design-space analyses.

* ``flops``: TinyNAS's space selection (Lin et al., MCUNet, NeurIPS 2020): the MACs
  distribution of the models of each space in a grid that fit memory constraints;
* ``edf``: error EDFs of spaces (Radosavovic et al., ICCV 2019 and CVPR 2020).

Both write a figure, a CSV and a JSON file into ``-o DIR``; ``--json`` prints the summary.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from archspace.analysis import NORMALIZE
from archspace.analysis.specs import SPEC_HELP
from archspace.cli._common import Bounded, console, param_option, print_table, seed_option
from archspace.cost.latency_store import load_table
from archspace.cost.tinyengine import MEMORY_MODELS
from archspace.errors import ParamError
from archspace.limits import MAX_BINS, MAX_BOOTSTRAP, MAX_PROFILED
from archspace.spaces import parse_params
from archspace.study.constraints import with_device

if TYPE_CHECKING:
    from archspace.analysis.edf import EDFStudy
    from archspace.analysis.flops import FlopsStudy

__all__ = ["analyze"]

out_option = click.option("-o", "--out", "out_dir", required=True, metavar="DIR",
                          type=click.Path(file_okay=False, path_type=Path),
                          help="Folder for the figure, CSV and JSON (created if missing).")
json_option = click.option("--json", "as_json", is_flag=True,
                           help="Print the summary as JSON instead of a table.")


@click.group("analyze")
def analyze() -> None:
    """Design-space analyses: FLOPs distributions under memory constraints (flops) and error
    EDFs of spaces (edf)."""


def _grid(space: str, widths: str | None, resolutions: str | None,
          pairs: tuple[str, ...]) -> dict[str, list[Any]]:
    """``--widths``, ``--resolutions`` and ``--grid K=v1,v2`` as typed value lists."""
    raw: dict[str, str] = {}
    for key, text in (("width", widths), ("resolution", resolutions)):
        if text is not None:
            raw[key] = text
    for pair in pairs:
        key, eq, text = pair.partition("=")
        if not eq or not key.strip() or not text.strip():
            raise ParamError(f"malformed --grid {pair!r}; expected K=v1,v2,...")
        if key.strip() in raw:
            raise ParamError(f"grid parameter {key.strip()!r} given twice")
        raw[key.strip()] = text
    grid: dict[str, list[Any]] = {}
    for key, text in raw.items():
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise ParamError(f"grid parameter {key!r} has no values; expected {key}=v1,v2,...")
        grid[key] = [parse_params(space, [f"{key}={t}"])[key] for t in items]
    return grid


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as f:
        if not rows:
            return
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _flops_rows(study: FlopsStudy) -> list[dict[str, Any]]:
    rows = []
    for s in study.spaces:
        row = s.summary()
        params = row.pop("params")
        row["picked"] = s.label == study.pick
        rows.append({**row, "params": json.dumps(params)})
    return rows


@analyze.command("flops")
@click.option("--space", "space_name", required=True, metavar="SPACE",
              help="Catalog space whose parameter grid is compared (e.g. mcunet).")
@param_option
@click.option("--sram", metavar="SIZE", help="Peak SRAM budget, e.g. 320kB (adds peak_sram<=SIZE).")
@click.option("--flash", metavar="SIZE", help="Flash budget, e.g. 1MB (adds flash<=SIZE).")
@click.option("--constraint", "constraints", multiple=True, metavar="C",
              help="Extra constraint such as macs<=60M (repeatable).")
@click.option("--samples", type=Bounded(1, MAX_PROFILED), default=1000, show_default=True,
              help="Models sampled per space.")
@seed_option("Seed of the samples.", default=0)
@click.option("--min-count", type=Bounded(1, MAX_PROFILED), default=20, show_default=True,
              help="Satisfying models a space needs to be picked.")
@click.option("--widths", metavar="W1,W2", help="Width multipliers (grid over 'width').")
@click.option("--resolutions", metavar="R1,R2", help="Resolutions (grid over 'resolution').")
@click.option("--grid", "grid_pairs", multiple=True, metavar="K=v1,v2",
              help="Grid over any space parameter (repeatable).")
@click.option("--memory-model", type=click.Choice(MEMORY_MODELS), default="mcunet",
              show_default=True, help="How peak SRAM and flash are counted (docs/cost-model.md).")
@click.option("--device", metavar="NAME",
              help="Predict each model's latency with this device's latency table: latency "
                   "constraints (e.g. latency<=12ms) and the latency distribution per space.")
@out_option
@json_option
def flops(space_name: str, params: tuple[str, ...], sram: str | None, flash: str | None,
          constraints: tuple[str, ...], samples: int, seed: int, min_count: int,
          widths: str | None, resolutions: str | None, grid_pairs: tuple[str, ...],
          memory_model: str, device: str | None, out_dir: Path, as_json: bool) -> None:
    """Compare the MACs of models that fit the constraints across a grid of SPACE's parameters
    and pick the space whose fitting models have the highest mean MACs (TinyNAS, MCUNet).

    Without a grid, a space with a default family (mcunet: widths 0.2-1.0 x resolutions
    48-224) uses it. Writes DIR/flops_cdf.png, DIR/flops.csv and DIR/flops.json.
    """
    from archspace.analysis.flops import flops_distribution, space_grid
    from archspace.plots.analysis import plot_flops_cdf

    texts = [*([f"peak_sram<={sram}"] if sram else []), *([f"flash<={flash}"] if flash else []),
             *with_device(constraints, device)]
    if device is not None:
        load_table(device)  # an unknown device stops here, before any sampling
    fixed = parse_params(space_name, list(params))
    spaces = space_grid(space_name, _grid(space_name, widths, resolutions, grid_pairs), fixed)
    study = flops_distribution(spaces, texts, samples, seed, min_count, memory_model, device)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_flops_cdf(study, out_dir / "flops_cdf.png")
    _write_csv(out_dir / "flops.csv", _flops_rows(study))
    (out_dir / "flops.json").write_text(json.dumps(study.to_dict(macs=True)) + "\n")
    if as_json:
        click.echo(json.dumps(study.to_dict()))
    else:
        _print_flops(study, out_dir)


def _print_flops(study: FlopsStudy, out_dir: Path) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    table = Table(title=f"{len(study.spaces)} spaces, {study.samples} samples each, "
                        f"{', '.join(study.constraints) or 'no constraints'}"
                        + (f", {study.memory_model} memory model"
                           if study.memory_model != "mcunet" else ""))
    lat = study.device is not None
    for col in ("space", "fit", "mean MACs", "median", "p90",
                *(("median latency", "p90 latency") if lat else ())):
        table.add_column(col, justify="left" if col == "space" else "right")
    ranked = study.ranking()
    rest = [s for s in study.spaces if not s.eligible]
    for s in ranked[:15] + rest[:5]:
        stats = [f"{v / 1e6:.1f}M" if v is not None else "-"
                 for v in (s.stat("mean"), s.stat("median"), s.stat("p90"))]
        mark = " *" if s.label == study.pick else ""
        if lat:
            row = s.summary()
            stats += [f"{row[k]:.3g} ms" if row.get(k) is not None else "-"
                      for k in ("median_latency_ms", "p90_latency_ms")]
        table.add_row(escape(s.label) + mark, f"{s.n_ok}/{s.n}", *stats)
    print_table(out, table, fold=("space",))
    shown = len(ranked[:15]) + len(rest[:5])
    if shown < len(study.spaces):
        out.print(f"({len(study.spaces) - shown} more spaces in {out_dir / 'flops.csv'})")
    out.print(f"pick: {study.reason}", soft_wrap=True)
    out.print(f"wrote {out_dir / 'flops_cdf.png'}, flops.csv, flops.json", soft_wrap=True)


@analyze.command("edf", epilog=f"SPEC syntax: {SPEC_HELP}.")
@click.argument("specs", nargs=-1, required=True, metavar="SPEC [SPEC ...]")
@click.option("--estimator", "estimator_name", required=True, metavar="E",
              help="Estimator scoring the models (nasbench201, train; see 'archspace estimators').")
@click.option("--estimator-option", "options", multiple=True, metavar="K=V",
              help="Estimator option, repeatable (e.g. epochs=2 for train).")
@click.option("--samples", type=Bounded(1, MAX_PROFILED), default=100, show_default=True,
              help="Models per space (a space with at most this many archs is enumerated).")
@seed_option("Seed of the samples and the estimator.", default=0)
@click.option("--normalize", type=click.Choice(NORMALIZE), default="macs", show_default=True,
              help="Complexity the normalised EDFs match across spaces.")
@click.option("--bins", type=Bounded(1, MAX_BINS), default=None,
              help="Log-complexity bins used to normalise (default: one per ten models of the "
                   "smallest sample, 1 to 10).")
@click.option("--bootstrap", type=Bounded(1, MAX_BOOTSTRAP), default=200, show_default=True,
              help="Bootstrap resamples for the 95% bands.")
@out_option
@json_option
def edf(specs: tuple[str, ...], estimator_name: str, options: tuple[str, ...], samples: int,
        seed: int, normalize: str, bins: int | None, bootstrap: int, out_dir: Path,
        as_json: bool) -> None:
    """Compare spaces by the EDFs of their models' errors (NDS, Radosavovic et al. 2019).

    Each SPEC is a catalog space with optional parameters and restrictions, e.g. nb201,
    'nb201[-none]', 'anynet(variant=C,max_width=64)'. Writes DIR/edf.png (EDFs, normalised
    EDFs, error vs complexity), DIR/edf.csv (one row per model) and DIR/edf.json.
    """
    from archspace.analysis.edf import error_edf
    from archspace.estimators import get_estimator, parse_option_pairs
    from archspace.plots.analysis import plot_edf

    est = get_estimator(estimator_name, **parse_option_pairs(list(options)))
    study = error_edf(list(specs), est, samples, seed, normalize, bins, bootstrap,
                      progress=_progress if estimator_name != "nasbench201" else None)
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_edf(study, out_dir / "edf.png")
    _write_csv(out_dir / "edf.csv", study.rows())
    (out_dir / "edf.json").write_text(json.dumps(study.to_dict(curves=True)) + "\n")
    if as_json:
        click.echo(json.dumps(study.to_dict()))
    else:
        _print_edf(study, out_dir)


def _progress(label: str, done: int, total: int) -> None:
    if done == total or done % max(1, total // 10) == 0:
        click.echo(f"{label}: {done}/{total} models scored", err=True)


def _print_edf(study: EDFStudy, out_dir: Path) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    table = Table(title=f"error EDFs ({study.estimator}: 100 - {study.metric})")
    norm = study.normalize != "none"
    cols = ["space", "models", "min err", "mean err"] + ([f"mean err ({study.normalize}-norm.)"]
                                                         if norm else [])
    for col in cols:
        table.add_column(col, justify="left" if col == "space" else "right")
    for s in study.spaces:
        row = s.summary()
        cells = [escape(s.label), f"{s.n}" + (" (all)" if s.enumerated else ""),
                 _pct(row["min_error"]), _pct(row["mean_error"])]
        if norm:
            cells.append(_pct(row.get("normalized_mean_error")))
        table.add_row(*cells)
    print_table(out, table, fold=("space",))
    if study.ks:
        ks = Table(title="Kolmogorov-Smirnov D" + (" (EDFs normalised per pair)" if norm else ""))
        for col in ("space a", "space b", "D", "models kept", "D raw", "p raw"):
            ks.add_column(col, justify="left" if col.startswith("space") else "right")
        for p in study.ks:
            ks.add_row(escape(p.a), escape(p.b), f"{p.ks:.3f}", f"{p.kept[0]}/{p.kept[1]}",
                       f"{p.ks_raw:.3f}", f"{p.pvalue_raw:.2g}")
        print_table(out, ks, fold=("space a", "space b"))
    for w in study.warnings:
        out.print(f"warning: {w}", soft_wrap=True)
    out.print(f"wrote {out_dir / 'edf.png'}, edf.csv, edf.json", soft_wrap=True)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}%"
