"""How well the per-device latency table predicts measured latency, and how fast it predicts.

Calibrates a table on this machine's CPU (``archspace latency calibrate``'s code, cheap
settings, into a private data folder), then, for held-out archs of four spaces (none of them
sampled for the calibration): measures each network twice (pass A over all archs, then pass B),
predicts it from the table, and reports RMSE, the share within 10% of measured, Spearman's rho
and the *noise floor* (the same statistics of pass B against pass A: how well a second
measurement of the same network predicts the first). Prediction speed is archs/s in
``time.process_time`` over fresh archs (cold: a new table's caches) and again (warm).

    nice -n 15 python benchmarks/latency_predictor.py --clock wall
    nice -n 15 python benchmarks/latency_predictor.py --clock thread
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/latency_predictor.py --speed-only

``--speed-only`` times prediction alone, on the spaces above and the cell spaces ``darts`` and
``nasnet``: with the calibrated table of ``--clock`` if one was made, else with an *unmeasured*
table holding exactly the layers calibration would measure, each given a stand-in latency (speed
does not depend on the values; which lookups hit the table or fall back is the same).

Results: ``benchmarks/results/latency_predictor_<clock>.json``; measurements are appended to
``..._<clock>.jsonl`` as they are taken, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy and torch

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from archspace.cost.latency_calibrate import (  # noqa: E402
    CalibrationSettings,
    _sample_graphs,
    calibrate,
)
from archspace.cost.latency_measure import (  # noqa: E402
    _torch_runner,
    machine_info,
    pinned_threads,
    time_call,
)
from archspace.cost.latency_store import load_table, save_table, table_path  # noqa: E402
from archspace.cost.latency_table import (  # noqa: E402
    LatencyTable,
    Overhead,
    fit_fallback,
    layer_class,
    layer_features,
    node_signature,
    signature_key,
)
from archspace.space import Space  # noqa: E402
from archspace.spaces import get_space  # noqa: E402
from archspace.spaces._registry import list_spaces  # noqa: E402

SPACES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("mobilenetv2", {"resolution": 96}), ("proxyless", {"resolution": 96}),
    ("mcunet", {"resolution": 96}), ("nb201", {"C": 16}))
#: Prediction speed is also timed on the other cell spaces (not measured: not in the table).
SPEED_SPACES = (*SPACES, ("darts", {}), ("nasnet", {}))


def _spaces() -> list[Space]:
    return [get_space(name, **kw) for name, kw in SPACES]


def _calibration_archs(space: Space, n: int, seed: int) -> set[Any]:
    rng = random.Random(f"archspace-latency-{seed}-{space.label}")
    return {space.sample(rng) for _ in range(n * 20)}


def _held_out(space: Space, n: int, exclude: set[Any]) -> list[Any]:
    rng = random.Random(f"latency-benchmark-held-out-{space.label}")
    out: list[Any] = []
    while len(out) < n:
        a = space.sample(rng)
        if a not in exclude and a not in out:
            out.append(a)
    return out


def _stats(pred: np.ndarray, meas: np.ndarray) -> dict[str, float]:
    from scipy.stats import spearmanr

    rel = np.abs(pred - meas) / meas
    return {"rmse_ms": float(np.sqrt(np.mean((pred - meas) ** 2))),
            "within_10pct": float(np.mean(rel <= 0.10)),
            "median_rel_error": float(np.median(rel)),
            "spearman": float(spearmanr(pred, meas).statistic), "n": len(meas)}


def _unmeasured_table(spaces: list[Space], settings: CalibrationSettings) -> LatencyTable:
    """The layers :func:`calibrate` would measure for ``spaces``, each given a stand-in
    latency (1 us + 1 ns per MAC), with its fallback fit and a linear overhead."""
    layers: dict[str, float] = {}
    rows = []
    for space in spaces:
        for g in _sample_graphs(space, settings.archs, settings.seed):
            for node in g.nodes:
                if node.op != "input":
                    sig = node_signature(node, g.nodes)
                    feats = layer_features(sig)
                    ms = 1e-3 + 1e-6 * feats[0]
                    if layers.setdefault(signature_key(sig), ms) == ms:
                        rows.append((layer_class(sig), feats, ms))
    return LatencyTable("bench-unmeasured", layers, Overhead(1.2, 0.001, 0.05), fit_fallback(rows))


def _speed(table_json: dict[str, Any], n: int, runs: int,
           spaces: tuple[tuple[str, dict[str, Any]], ...] = SPACES,
           log: Path | None = None) -> dict[str, Any]:
    """Archs/s cold (a new table, a fresh copy of the space) and warm, the median of ``runs``
    (each space's result appended to ``log`` as it is done)."""
    out: dict[str, Any] = {}
    for name, kw in spaces:
        colds, warms = [], []
        for _ in range(runs):
            space = get_space(name, **kw)
            rng = random.Random(f"latency-speed-{space.label}")
            archs = [space.sample(rng) for _ in range(n)]
            r = space.default_resolution
            table = LatencyTable.from_json(table_json, "bench")
            gc.collect()  # so the collector's full passes do not move between spaces
            t0 = time.process_time()
            for a in archs:
                table.predict(space, a, r)
            colds.append(n / max(time.process_time() - t0, 1e-9))
            gc.collect()
            t0 = time.process_time()
            for a in archs:
                table.predict(space, a, r)
            warms.append(n / max(time.process_time() - t0, 1e-9))
        out[space.label] = {"archs": n, "runs": runs,
                            "cold_archs_per_s": round(float(np.median(colds))),
                            "warm_archs_per_s": round(float(np.median(warms)))}
        if log is not None:
            with log.open("a") as f:
                f.write(json.dumps({"space": space.label, **out[space.label]}) + "\n")
        print(space.label, out[space.label], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clock", choices=("wall", "thread"), default="wall")
    ap.add_argument("--held-out", type=int, default=30, help="held-out archs per space")
    ap.add_argument("--repeats", type=int, default=30, help="timed repeats per measurement")
    ap.add_argument("--cal-archs", type=int, default=40)
    ap.add_argument("--cal-networks", type=int, default=12)
    ap.add_argument("--cal-repeats", type=int, default=15)
    ap.add_argument("--speed-archs", type=int, default=3000)
    ap.add_argument("--speed-runs", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--all", action="store_true",
                    help="time prediction speed on every catalog space (at its defaults)")
    ap.add_argument("--speed-only", action="store_true",
                    help="time prediction only (see the module docstring); no measurement")
    args = ap.parse_args()
    if args.all:
        global SPEED_SPACES
        SPEED_SPACES = (*SPACES, *((n, {}) for n in list_spaces() if n not in dict(SPACES)))
    if args.speed_only:
        _speed_only(args)
        return
    import torch

    torch.set_num_threads(1)
    stem = args.out / f"latency_predictor_{args.clock}"
    os.environ["ARCHSPACE_DATA_DIR"] = str(args.out / "latency_data")
    device = f"bench-{args.clock}"
    spaces = _spaces()
    settings = CalibrationSettings(args.cal_archs, args.cal_networks, 3, args.cal_repeats,
                                   args.cal_repeats, 1, 0, args.clock)
    t0 = time.time()
    if not table_path(device).exists():
        table = calibrate(device, spaces, settings, log=lambda m: print(m, flush=True))
        save_table(table)
    table = load_table(device)
    print(f"table: {len(table.layers)} layers, overhead {table.meta.get('overhead_form')} "
          f"{table.overhead}, {table.meta.get('seconds')} s", flush=True)
    log = stem.with_suffix(".jsonl")
    done: dict[tuple[str, str, str], float] = {}
    if log.exists():
        for line in log.read_text().splitlines():
            rec = json.loads(line)
            done[(rec["pass"], rec["space"], rec["arch"])] = rec["ms"]
    held = {s.label: _held_out(s, args.held_out, _calibration_archs(s, args.cal_archs, 0))
            for s in spaces}
    with pinned_threads(1), log.open("a") as f:
        for pass_ in ("A", "B"):
            for space in spaces:
                for a in held[space.label]:
                    key = (pass_, space.label, space.format_arch(a))
                    if key in done:
                        continue
                    m = time_call(_torch_runner(space.lower(a)), 5, args.repeats,
                                  clock=args.clock)
                    done[key] = m.median_ms
                    f.write(json.dumps({"pass": pass_, "space": key[1], "arch": key[2],
                                        "ms": m.median_ms, "iqr_ms": m.iqr_ms}) + "\n")
                    f.flush()
            print(f"pass {pass_} measured", flush=True)
    per_space: dict[str, Any] = {}
    all_p, all_a, all_b, all_o = [], [], [], []
    one_fit = LatencyTable(table.device, table.layers, table.overhead, table.fallback)
    for space in spaces:
        archs = held[space.label]
        pred = np.array([table.predict(space, a) for a in archs])
        pred_one = np.array([one_fit.predict(space, a) for a in archs])
        a_ms = np.array([done[("A", space.label, space.format_arch(x))] for x in archs])
        b_ms = np.array([done[("B", space.label, space.format_arch(x))] for x in archs])
        per_space[space.label] = {"predicted": _stats(pred, a_ms), "noise_floor": _stats(b_ms, a_ms),
                                  "predicted_one_overhead": _stats(pred_one, a_ms),
                                  "measured_ms_range": [float(a_ms.min()), float(a_ms.max())]}
        all_p.extend(pred)
        all_o.extend(pred_one)
        all_a.extend(a_ms)
        all_b.extend(b_ms)
    p, a_, b_ = np.array(all_p), np.array(all_a), np.array(all_b)
    result = {"clock": args.clock, "machine": machine_info(), "torch": torch.__version__,
              "table_layers": len(table.layers), "table_meta": table.meta,
              "overhead": [table.overhead.a, table.overhead.b, table.overhead.c],
              "space_overhead": {k: [v.a, v.b, v.c] for k, v in table.space_overhead.items()},
              "lookup_hits": table.hits, "lookup_misses": table.misses,
              "all": {"predicted": _stats(p, a_), "noise_floor": _stats(b_, a_),
                      "predicted_one_overhead": _stats(np.array(all_o), a_)},
              "per_space": per_space,
              "speed": _speed(table.to_json(), args.speed_archs, args.speed_runs),
              "load_average": os.getloadavg(), "wall_seconds": round(time.time() - t0, 1)}
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("all", "speed", "lookup_misses", "load_average")},
                     indent=1))


def _speed_only(args: argparse.Namespace) -> None:
    os.environ["ARCHSPACE_DATA_DIR"] = str(args.out / "latency_data")
    device = f"bench-{args.clock}"
    settings = CalibrationSettings(args.cal_archs, args.cal_networks, 3, args.cal_repeats,
                                   args.cal_repeats, 1, 0, args.clock)
    if table_path(device).exists():
        table, kind = load_table(device), f"calibrated ({device})"
    else:
        table, kind = _unmeasured_table(_spaces(), settings), "unmeasured (stand-in latencies)"
    print(f"table: {kind}, {len(table.layers)} layers", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "latency_predictor_speed.jsonl"
    t0 = time.process_time()
    speed = _speed(table.to_json(), args.speed_archs, args.speed_runs, SPEED_SPACES, log)
    result = {"table": kind, "table_layers": len(table.layers), "speed": speed,
              "load_average": os.getloadavg(), "cpu_seconds": round(time.process_time() - t0, 1)}
    (args.out / "latency_predictor_speed.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
