"""``archspace profile``: analytic cost (params, MACs, peak SRAM, flash) of architectures."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click

from archspace.cli._common import (
    Bounded,
    arch_options,
    console,
    fits,
    load_space,
    param_option,
    print_table,
    select_archs,
    space_argument,
)
from archspace.cost import MEMORY_MODELS, Profile
from archspace.cost.latency_measure import CLOCKS, have_onnxruntime
from archspace.cost.latency_table import LatencyError
from archspace.space import Arch, Space

__all__ = ["profile", "profile_record"]

COST_KEYS = ("params", "macs", "peak_sram_bytes", "flash_bytes")


def profile_record(space: Space, arch: Arch, resolution: int, prof: Profile,
                   memory_model: str = "mcunet") -> dict[str, Any]:
    """The JSON form: arch string, resolution, the four costs (and ``memory_model`` when it is
    not the default), and per-layer rows if profiled with detail."""
    rec: dict[str, Any] = {"arch": space.format_arch(arch), "resolution": resolution}
    rec.update({k: getattr(prof, k) for k in COST_KEYS})
    if memory_model != "mcunet":
        rec["memory_model"] = memory_model
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
@click.option("--memory-model", type=click.Choice(MEMORY_MODELS), default="mcunet",
              show_default=True,
              help="How peak SRAM and flash are counted: MCUNet's convention, or TinyEngine's "
                   "allocator, runtime buffers and per-channel bias and scale.")
@click.option("--device", metavar="NAME",
              help="Add latency_ms predicted by this device's latency table ('archspace latency "
                   "devices' lists them).")
@click.option("--latency", "measure", is_flag=True,
              help="Measure the built network's latency at batch 1 on this CPU (PyTorch and ONNX "
                   "Runtime when installed; median, IQR and the noise floor of two measurements).")
@click.option("--threads", type=Bounded(1, 1024), default=1, show_default=True,
              help="Threads while measuring (--latency).")
@click.option("--repeats", type=Bounded(1, 10_000), default=50, show_default=True,
              help="Timed repeats per measurement (--latency).")
@click.option("--onnx/--no-onnx", "onnx", default=None,
              help="Also measure with ONNX Runtime (default: when it is installed).")
@click.option("--clock", type=click.Choice(tuple(CLOCKS)), default=None,
              help="Clock of --latency: wall (time.perf_counter) or thread (the thread's CPU "
                   "time). Default: the device table's clock, else wall.")
def profile(space_name: str, params: tuple[str, ...], arch_text: str | None, named: str | None,
            sample: int | None, seed: int | None, resolution: int | None, as_json: bool,
            detail: bool, memory_model: str, device: str | None, measure: bool, threads: int,
            repeats: int, onnx: bool | None, clock: str | None) -> None:
    """Print the cost of archs of SPACE: parameters, MACs, peak SRAM bytes and flash bytes
    (int8 deployment, MCUNet's memory convention or TinyEngine's; see docs/cost-model.md).
    A named arch is profiled in the space member where it is the paper's network (e.g.
    mcunet-in3 at width 0.5 and resolution 176); -p and -r still override.

    With --device NAME the latency its table predicts is added (latency_ms); with --latency the
    network is built and timed here (latency_ms is then the measured PyTorch median, the
    prediction predicted_latency_ms)."""
    if onnx and not have_onnxruntime():
        raise LatencyError("--onnx needs onnx, onnxscript and onnxruntime: pip install "
                           "\"archspace[onnx]\"")
    table = None
    if device is not None:
        from archspace.cost.latency_store import load_table

        table = load_table(device)
    space = load_space(space_name, params)
    archs = select_archs(space, arch_text, named, sample, seed)
    if named:
        space = space.named_space(named)
    r = space.check_resolution(resolution)
    # a user space may override profile() without the memory_model keyword
    extra: dict[str, Any] = {} if memory_model == "mcunet" else {"memory_model": memory_model}
    records = [profile_record(space, a, r, space.profile(a, r, detail=detail, **extra),
                              memory_model) for a in archs]
    if table is not None:
        for a, rec in zip(archs, records, strict=True):
            rec["latency_ms"] = round(table.predict(space, a, r), 4)
            rec["latency_device"] = table.device
    if measure:
        from archspace.cost.latency_measure import measure_graph

        use = clock or (str(table.meta.get("clock", "wall")) if table is not None else "wall")
        for a, rec in zip(archs, records, strict=True):
            m = measure_graph(space.lower(a, r), threads, repeats=repeats, onnx=onnx, clock=use)
            if "latency_ms" in rec:
                rec["predicted_latency_ms"] = rec["latency_ms"]
            rec["latency_ms"] = round(m["torch"]["median_ms"], 4)
            rec["latency"] = m
    if as_json:
        for rec in records:
            click.echo(json.dumps(rec))
    else:
        model = "" if memory_model == "mcunet" else f", {memory_model} memory model"
        _print_tables(space.label, records, model)
        _print_latency(records)


def _print_tables(label: str, records: list[dict[str, Any]], model: str = "") -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    table = Table(title=f"{escape(label)} at resolution {records[0]['resolution']}{model}")
    for col in ("#", "params", "MACs", "peak SRAM (B)", "flash (B)"):
        table.add_column(col, justify="right")
    for i, rec in enumerate(records):
        table.add_row(str(i), *(f"{rec[k]:,}" for k in COST_KEYS))
    print_table(out, table)
    for i, rec in enumerate(records):
        out.print(f"#{i} {escape(rec['arch'])}", soft_wrap=True)
        if "layers" in rec:
            layers = _layer_table(rec["layers"], merge_op=False)
            print_table(out, layers if fits(out, layers) else _layer_table(rec["layers"], merge_op=True))


def _print_latency(records: list[dict[str, Any]]) -> None:
    for i, rec in enumerate(records):
        m = rec.get("latency")
        if m is None:
            if "latency_ms" in rec:
                click.echo(f"#{i} latency {rec['latency_ms']:.3f} ms predicted "
                           f"({rec['latency_device']})")
            continue
        parts = []
        for name, key in (("PyTorch", "torch"), ("ONNX Runtime", "onnxruntime")):
            t = m.get(key)
            if t and "error" in t:
                parts.append(f"{name}: {t['error']}")
            elif t:
                parts.append(f"{name} {t['median_ms']:.3f} ms (IQR {t['iqr_ms']:.3f}, noise floor "
                             f"{100 * t['noise_floor']:.1f}%)")
        if "predicted_latency_ms" in rec:
            parts.append(f"predicted {rec['predicted_latency_ms']:.3f} ms ({rec['latency_device']})")
        click.echo(f"#{i} latency at batch 1, {m['threads']} thread(s), {m['clock']} clock: "
                   + "; ".join(parts))


def _layer_table(layers: list[dict[str, Any]], merge_op: bool) -> Any:
    """Per-layer rows; with ``merge_op`` the op goes beside the layer's name, ``b2.expand
    (conv)``, which wraps between the two (for narrow terminals)."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    names = ["layer (op)"] if merge_op else ["layer", "op"]
    for col in (*names, "output", "params", "MACs", "flash (B)", "SRAM in use (B)"):
        left = col in (*names, "output")
        table.add_column(col, justify="left" if left else "right")
    for lc in layers:
        first = [f"{lc['name']} ({lc['op']})"] if merge_op else [lc["name"], lc["op"]]
        table.add_row(*map(escape, first), "x".join(map(str, lc["shape"])), f"{lc['params']:,}",
                      f"{lc['macs']:,}", f"{lc['flash_bytes']:,}", f"{lc['sram_bytes']:,}")
    return table
