"""Building a device's latency table: measure layers alone, then fit the per-network overhead.

``archspace latency calibrate --device NAME`` (Cai et al.'s ProxylessNAS/Once-for-All latency
tables, with nn-Meter's per-kernel measurement, Zhang et al. MobiSys 2021):

1. sample archs from each space (seeded) and lower them to the IR; collect every distinct layer
   signature (:func:`~archspace.cost.latency_table.node_signature`);
2. time each layer alone at batch 1 through the PyTorch builder (warm-up, repeats, median;
   threads pinned): the table;
3. fit the fallback model of each op class on those layers, for layers a later arch has and the
   table lacks;
4. time whole networks of the sampled archs and fit the per-network overhead (dispatch between
   layers, the call): ``measured ~ a * sum(layers) + b * layers + c``, or the plain sum or a
   scale when those predict left-out networks better
   (:func:`~archspace.cost.latency_table.fit_overhead`); once over all networks and once per
   space family, whose own fit is kept where it predicts that family's left-out networks
   better (:func:`~archspace.cost.latency_table.fit_space_overheads`).

The result is a :class:`~archspace.cost.latency_table.LatencyTable`; :mod:`archspace.cost.
latency_store` writes it to the user's data folder. Spaces are passed in (this module does not
import the space layer); torch is imported when measuring.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from archspace.cost.latency_measure import (
    _torch_runner,
    check_clock,
    layer_graph,
    machine_fingerprint,
    machine_info,
    pinned_threads,
    time_call,
)
from archspace.cost.latency_table import (
    LatencyTable,
    Signature,
    fit_fallback,
    fit_space_overheads,
    layer_class,
    layer_features,
    node_signature,
    signature_key,
)
from archspace.ir.graph import Graph, Node

__all__ = ["CalibrationSettings", "calibrate"]


@dataclass(frozen=True)
class CalibrationSettings:
    """How much to measure: archs sampled per space (their layers go in the table), whole
    networks timed per space (for the overhead fit), warm-up and repeats, threads, seed, and
    the clock (:data:`~archspace.cost.latency_measure.CLOCKS`)."""

    archs: int = 40
    networks: int = 12
    warmup: int = 3
    layer_repeats: int = 15
    network_repeats: int = 15
    threads: int = 1
    seed: int = 0
    clock: str = "wall"


def _sample_graphs(space: Any, n: int, seed: int) -> list[Graph]:
    """``n`` distinct seeded archs of ``space`` lowered at its default resolution (fewer when
    the space is smaller)."""
    import random

    rng = random.Random(f"archspace-latency-{seed}-{space.label}")
    seen: set[Any] = set()
    graphs: list[Graph] = []
    for _ in range(n * 20):
        if len(graphs) >= n:
            break
        arch = space.sample(rng)
        if arch in seen:
            continue
        seen.add(arch)
        graphs.append(space.lower(arch))
    return graphs


def calibrate(device: str, spaces: Sequence[Any], settings: CalibrationSettings = CalibrationSettings(),
              log: Callable[[str], None] | None = None) -> LatencyTable:
    """Measure a latency table for ``device`` on this machine from archs of ``spaces`` (see the
    module docstring)."""
    import torch

    check_clock(settings.clock)
    say = log or (lambda _: None)
    t_start = time.perf_counter()
    graphs: list[Graph] = []
    per_space: list[tuple[str, str, list[Graph]]] = []
    for space in spaces:
        gs = _sample_graphs(space, settings.archs, settings.seed)
        per_space.append((space.label, space.name, gs))
        graphs.extend(gs)
    examples: dict[Signature, tuple[Node, list[Node]]] = {}
    for g in graphs:
        for node in g.nodes:
            if node.op == "input":
                continue
            sig = node_signature(node, g.nodes)
            if sig not in examples:
                examples[sig] = (node, g.nodes)
    say(f"{len(examples)} distinct layers in {len(graphs)} archs of {len(spaces)} spaces")
    layers: dict[str, float] = {}
    rows: list[tuple[str, tuple[float, float, float], float]] = []
    with pinned_threads(settings.threads):
        for k, (sig, (node, nodes)) in enumerate(examples.items()):
            run = _torch_runner(layer_graph(node, nodes))
            ms = time_call(run, settings.warmup, settings.layer_repeats,
                           clock=settings.clock).median_ms
            layers[signature_key(sig)] = ms
            rows.append((layer_class(sig), layer_features(sig), ms))
            if (k + 1) % 200 == 0:
                say(f"  {k + 1}/{len(examples)} layers")
        table = LatencyTable(device, layers, fallback=fit_fallback(rows))
        sums: list[float] = []
        counts: list[int] = []
        measured: list[float] = []
        families: list[str] = []
        for label, family, gs in per_space:
            for g in gs[:settings.networks]:
                run = _torch_runner(g)
                ms = time_call(run, settings.warmup, settings.network_repeats,
                               clock=settings.clock).median_ms
                total, count = table._nodes_ms(g.nodes)
                sums.append(total)
                counts.append(count)
                measured.append(ms)
                families.append(family)
            say(f"  {label}: {min(settings.networks, len(gs))} networks timed")
    table.overhead, form, own = fit_space_overheads(families, sums, counts, measured)
    table.space_overhead = {name: model for name, (model, _) in own.items()}
    info = machine_info()
    table.fingerprint = machine_fingerprint(info)
    table.machine = info
    table.meta = {"torch_version": torch.__version__, "threads": settings.threads,
                  "runtime": "torch-eager", "batch": 1, "clock": settings.clock,
                  "spaces": [label for label, _, _ in per_space],
                  "archs_per_space": settings.archs, "networks_per_space": settings.networks,
                  "layer_repeats": settings.layer_repeats,
                  "network_repeats": settings.network_repeats, "seed": settings.seed,
                  "networks_fitted": len(measured), "overhead_form": form,
                  "space_overhead_forms": {name: f for name, (_, f) in own.items()},
                  "networks": [{"space": fam, "layers_ms": round(sm, 6), "layers": k,
                                "measured_ms": round(ms, 6)}
                               for fam, sm, k, ms in zip(families, sums, counts, measured,
                                                         strict=True)],
                  "created": time.strftime(
                      "%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "seconds": round(time.perf_counter() - t_start, 1)}
    return table
