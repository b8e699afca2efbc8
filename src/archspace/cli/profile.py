"""``archspace profile``: analytic cost (params, MACs, peak SRAM, flash) of architectures."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click

from archspace.cli._common import (
    arch_options,
    console,
    load_space,
    param_option,
    select_archs,
    space_argument,
)
from archspace.cost import Profile
from archspace.space import Arch, Space

__all__ = ["profile", "profile_record"]

COST_KEYS = ("params", "macs", "peak_sram_bytes", "flash_bytes")


def profile_record(space: Space, arch: Arch, resolution: int, prof: Profile) -> dict[str, Any]:
    """The JSON form: arch string, resolution, the four costs, and per-layer rows if profiled
    with detail."""
    rec: dict[str, Any] = {"arch": space.format_arch(arch), "resolution": resolution}
    rec.update({k: getattr(prof, k) for k in COST_KEYS})
    if prof.layers is not None:
        rec["layers"] = [asdict(layer) for layer in prof.layers]
    return rec


@click.command("profile")
@space_argument
@param_option
@arch_options(sample_flag=False)
@click.option("-r", "--resolution", type=int, help="Input resolution (default: the space's).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per arch, one per line.")
@click.option("--detail", is_flag=True, help="Add per-layer rows.")
def profile(space_name: str, params: tuple[str, ...], arch_text: str | None, named: str | None,
            sample: int | None, seed: int | None, resolution: int | None, as_json: bool,
            detail: bool) -> None:
    """Print the cost of archs of SPACE: parameters, MACs, peak SRAM bytes and flash bytes
    (int8 deployment, MCUNet's memory convention; see docs/cost-model.md)."""
    space = load_space(space_name, params)
    archs = select_archs(space, arch_text, named, sample, seed)
    r = space.check_resolution(resolution)
    records = [profile_record(space, a, r, space.profile(a, r, detail=detail)) for a in archs]
    if as_json:
        for rec in records:
            click.echo(json.dumps(rec))
    else:
        _print_tables(space.label, records)


def _print_tables(label: str, records: list[dict[str, Any]]) -> None:
    from rich.table import Table

    out = console()
    table = Table(title=f"{label} at resolution {records[0]['resolution']}")
    for col in ("#", "params", "MACs", "peak SRAM (B)", "flash (B)"):
        table.add_column(col, justify="right")
    for i, rec in enumerate(records):
        table.add_row(str(i), *(f"{rec[k]:,}" for k in COST_KEYS))
    out.print(table)
    for i, rec in enumerate(records):
        out.print(f"#{i} {rec['arch']}", soft_wrap=True)
        if "layers" in rec:
            out.print(_layer_table(rec["layers"]))


def _layer_table(layers: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(show_edge=False)
    for col in ("layer", "op", "output", "params", "MACs", "flash (B)", "SRAM in use (B)"):
        left = col in ("layer", "op", "output")
        table.add_column(col, justify="left" if left else "right", overflow="fold")
    for lc in layers:
        table.add_row(lc["name"], lc["op"], "x".join(map(str, lc["shape"])), f"{lc['params']:,}",
                      f"{lc['macs']:,}", f"{lc['flash_bytes']:,}", f"{lc['sram_bytes']:,}")
    return table
