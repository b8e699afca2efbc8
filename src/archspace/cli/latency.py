"""``archspace latency``: build and list the per-device latency tables.

``archspace latency calibrate --device NAME [--space S ...]`` measures the layers of sampled
archs of each space on this machine's CPU and writes the table to the user's data folder
(see :mod:`archspace.cost.latency_store`); ``archspace latency devices`` lists the tables.
With a table, ``profile``, ``search`` and ``analyze`` take ``--device NAME``.
"""

from __future__ import annotations

import json

import click

from archspace.cli._common import Bounded, load_space
from archspace.cost.latency_measure import CLOCKS
from archspace.cost.latency_store import check_device_name, data_dir, devices, load_table, table_path
from archspace.cost.latency_table import LatencyError

__all__ = ["DEFAULT_SPACES", "latency"]

#: Spaces calibrated when no --space is given: three chain spaces at a small resolution and
#: NAS-Bench-201's cells.
DEFAULT_SPACES = ("mobilenetv2:resolution=96", "proxyless:resolution=96", "mcunet:resolution=96",
                  "nb201")


@click.group("latency")
def latency() -> None:
    """Per-device latency tables: measure one ('calibrate'), list them ('devices')."""


def _space_spec(spec: str) -> tuple[str, tuple[str, ...]]:
    """``NAME[:K=V[:K=V...]]`` -> (NAME, ("K=V", ...))."""
    name, *pairs = spec.strip().split(":")
    if not name:
        raise click.BadParameter(f"{spec!r} names no space; expected NAME or NAME:K=V[:K=V]",
                                 param_hint="'--space'")
    return name, tuple(pairs)


@latency.command("calibrate")
@click.option("--device", required=True, metavar="NAME",
              help="Name of the table (letters, digits, '-', '_', '.').")
@click.option("--space", "space_specs", multiple=True, metavar="SPACE[:K=V...]",
              help="Space whose archs' layers are measured, repeatable, with parameters after "
                   "':' (e.g. mobilenetv2:resolution=96). Default: " + ", ".join(DEFAULT_SPACES))
@click.option("--archs", type=Bounded(1, 10_000), default=40, show_default=True,
              help="Archs sampled per space; their distinct layers are measured.")
@click.option("--networks", type=Bounded(0, 10_000), default=12, show_default=True,
              help="Whole networks timed per space, for the per-network overhead fit.")
@click.option("--repeats", type=Bounded(1, 10_000), default=15, show_default=True,
              help="Timed repeats per layer and network (the median is kept).")
@click.option("--warmup", type=Bounded(0, 10_000), default=3, show_default=True,
              help="Untimed calls first.")
@click.option("--threads", type=Bounded(1, 1024), default=1, show_default=True,
              help="torch.set_num_threads while measuring.")
@click.option("--clock", type=click.Choice(tuple(CLOCKS)), default="wall", show_default=True,
              help="wall: time.perf_counter (latency as seen); thread: the thread's CPU time "
                   "(time.thread_time), immune to other processes taking the CPU.")
@click.option("--seed", type=Bounded(0, 2**32 - 1), default=0, show_default=True,
              help="Seed of the sampled archs.")
@click.option("--force", is_flag=True, help="Replace an existing table of this device.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def calibrate(device: str, space_specs: tuple[str, ...], archs: int, networks: int, repeats: int,
              warmup: int, threads: int, clock: str, seed: int, force: bool,
              as_json: bool) -> None:
    """Measure a latency table for device NAME on this machine (batch 1, PyTorch CPU)."""
    from archspace.cost.latency_calibrate import CalibrationSettings
    from archspace.cost.latency_calibrate import calibrate as run
    from archspace.cost.latency_store import save_table

    path = table_path(check_device_name(device))
    if path.exists() and not force:
        raise LatencyError(f"device {device!r} already has a latency table ({path}); give "
                           "--force to replace it, or another --device name")
    spaces = [load_space(*_space_spec(s)) for s in (space_specs or DEFAULT_SPACES)]
    settings = CalibrationSettings(archs, networks, warmup, repeats, repeats, threads, seed, clock)
    table = run(device, spaces, settings,
                log=None if as_json else (lambda m: click.echo(m, err=True)))
    out = save_table(table)
    summary = {"device": device, "path": str(out), "layers": len(table.layers),
               "overhead": {"a": table.overhead.a, "b": table.overhead.b, "c": table.overhead.c},
               "space_overhead": {k: {"a": v.a, "b": v.b, "c": v.c}
                                  for k, v in sorted(table.space_overhead.items())},
               **{k: table.meta[k] for k in ("overhead_form", "clock", "threads", "spaces",
                                             "networks_fitted", "seconds")},
               "fingerprint": table.fingerprint}
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"device {device}: {len(table.layers)} layers, overhead "
                   f"{table.meta['overhead_form']} (a={table.overhead.a:.3g}, "
                   f"b={table.overhead.b:.3g} ms/layer, c={table.overhead.c:.3g} ms)"
                   + "".join(f"; {k}: a={v.a:.3g}, b={v.b:.3g}, c={v.c:.3g}"
                             for k, v in sorted(table.space_overhead.items()))
                   + f", {table.meta['seconds']} s; written to {out}")


@latency.command("devices")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per device.")
def list_devices(as_json: bool) -> None:
    """List the calibrated devices (the tables in the data folder)."""
    rows = []
    for name in devices():
        try:
            t = load_table(name, check_machine=False)
            rows.append({"device": name, "layers": len(t.layers), "fingerprint": t.fingerprint,
                         "cpu": t.machine.get("cpu", ""), "clock": t.meta.get("clock", ""),
                         "created": t.meta.get("created", "")})
        except LatencyError as e:
            rows.append({"device": name, "error": str(e)})
    if as_json:
        for r in rows:
            click.echo(json.dumps(r))
        return
    if not rows:
        click.echo(f"no latency tables in {data_dir() / 'latency'}; run 'archspace latency "
                   "calibrate --device NAME'")
    for r in rows:
        if "error" in r:
            click.echo(f"{r['device']}: {r['error']}")
        else:
            click.echo(f"{r['device']}: {r['layers']} layers, {r['clock']} clock, cpu "
                       f"{r['cpu']!r}, {r['created']}")
