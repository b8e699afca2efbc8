"""Hyperband against full-budget random search: the accuracy each reaches and its CPU time.

Both search nb201 cells (a reduced-cost proxy network, ``-p C=8 -p N=1``, in the sense of EcoNAS)
with the ``train`` estimator and a seeded random strategy:

* **random search** trains each of N archs for ``max_resource`` epochs;
* **Hyperband** (Li et al., JMLR 2018) runs one pass of its brackets from ``min_resource`` to
  ``max_resource`` epochs (eta 3), which samples the same N archs' worth of new ones (N is the
  number of bottom-rung archs of the pass) and continues each promoted arch from its checkpoint.

What each reaches is the arch it selects by validation accuracy (Hyperband: among its top-rung
trials, every one trained to ``max_resource`` epochs), scored by the NAS-Bench-201 table: that
cell's 200-epoch CIFAR-10 test accuracy (mean over the benchmark's seeds), a ground truth
neither search sees. Cost is the process's CPU time (``time.process_time``) of the whole study,
torch pinned to one thread, so other processes on a shared machine barely disturb it.

Each study appends one JSON line to ``--out`` (default ``benchmarks/results/hyperband.jsonl``) as
soon as it ends, with the settings it ran under; a rerun skips the (search, seed) pairs already
there under the same settings, so a run cut off keeps its finished studies and continues.
``--search`` runs only one of the two searches (e.g. to split seeds over two processes), and the
summary at the end covers every line of ``--out`` under the current settings.

    python benchmarks/hyperband.py --dataset imagefolder:../shared/datasets/cifar10-jpeg.tar.gz
    python benchmarks/hyperband.py --dataset digits --train-samples 600 --seeds 0 1 \\
        --out /tmp/hb-smoke.jsonl  # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import archspace  # noqa: E402
from archspace.study.scheduled import pass_trials  # noqa: E402
from archspace.study.schedulers import make_scheduler  # noqa: E402
from archspace.tabular import load_nb201  # noqa: E402

TEST = "cifar10_test_200ep"
DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "hyperband.jsonl"
#: The arguments a row's result depends on; a row is reused only when all of them match.
SETTINGS = ("dataset", "train_samples", "batch_size", "val_fraction", "resolution", "C", "N",
            "min_resource", "max_resource", "eta")


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in SETTINGS}


def _read_rows(out: Path) -> list[dict[str, Any]]:
    """Every complete JSON line of ``out`` (a line cut by a kill is skipped)."""
    if not out.exists():
        return []
    rows = []
    for line in out.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _append(out: Path, row: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _options(args: argparse.Namespace) -> dict[str, Any]:
    opts: dict[str, Any] = {"dataset": args.dataset, "train_samples": args.train_samples,
                            "batch_size": args.batch_size, "val_split": "train",
                            "val_fraction": args.val_fraction, "device": "cpu"}
    if args.resolution:
        opts["resolution"] = args.resolution
    return opts


def _test_accuracy(arch: str) -> float:
    table = load_nb201()
    return float(table.metric(TEST)[table.index_of(arch)])


def _run(args: argparse.Namespace, seed: int, folder: Path, hyperband: bool) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    scheduler = make_scheduler("hyperband", args.min_resource, args.max_resource, args.eta)
    archs = sum(b.sizes[0] for b in scheduler.brackets)  # type: ignore[attr-defined]
    common: dict[str, Any] = {"space": "nb201", "space_params": {"C": args.C, "N": args.N},
                              "estimator": "train", "strategy": "random", "seed": seed}
    t0 = time.process_time()
    if hyperband:
        study = archspace.search(**common, estimator_options=_options(args),
                                 budget=pass_trials(scheduler), study=folder / f"hb{seed}.db",
                                 scheduler="hyperband", min_resource=args.min_resource,
                                 max_resource=args.max_resource, eta=args.eta)
    else:
        study = archspace.search(**common, estimator_options={**_options(args),
                                                              "epochs": args.max_resource},
                                 budget=archs, study=folder / f"rs{seed}.db")
    cpu = time.process_time() - t0
    full = [t for t in study.trials if t.status == "complete" and t.metrics
            and t.metrics.get("epochs") == args.max_resource]
    best = max(full, key=lambda t: (t.score or 0.0, -t.number))
    epochs = sum(t.metrics["epochs"] - t.metrics.get("resumed_from", 0.0)
                 for t in study.trials if t.metrics)
    return {"search": "hyperband" if hyperband else "random", "seed": seed, "archs": archs,
            "trials": len(study.trials), "epochs_trained": epochs, "cpu_s": cpu,
            "val_accuracy": best.score, "arch": best.arch, TEST: _test_accuracy(best.arch)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="imagefolder:../shared/datasets/cifar10-jpeg.tar.gz")
    p.add_argument("--train-samples", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--val-fraction", type=float, default=0.05,
                   help="training images held out to validate on (selection only)")
    p.add_argument("--resolution", type=int, default=0, help="input side (0: the dataset's)")
    p.add_argument("-C", type=int, default=8)
    p.add_argument("-N", type=int, default=1)
    p.add_argument("--min-resource", type=int, default=1)
    p.add_argument("--max-resource", type=int, default=27)
    p.add_argument("--eta", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--search", nargs="+", choices=("hyperband", "random"),
                   default=["hyperband", "random"], help="which searches to run (default both)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="JSON-lines file each study appends its row to (default %(default)s)")
    args = p.parse_args()
    settings = _settings(args)
    done = {(r["search"], r["seed"]) for r in _read_rows(args.out)
            if r.get("settings") == settings}
    todo = []
    for seed in args.seeds:
        for hyperband in ((True, False) if seed % 2 == 0 else (False, True)):
            search = "hyperband" if hyperband else "random"
            if search in args.search and (search, seed) not in done:
                todo.append((seed, hyperband))
    if todo:
        with tempfile.TemporaryDirectory() as tmp:
            # untimed: decode the dataset into its cache and warm the imports
            archspace.search(space="nb201", space_params={"C": args.C, "N": args.N},
                             estimator="train",
                             estimator_options={**_options(args), "epochs": 1},
                             strategy="random", budget=1, study=Path(tmp) / "warm.db")
            for seed, hyperband in todo:
                row = {**_run(args, seed, Path(tmp), hyperband), "settings": settings}
                _append(args.out, row)
                print(json.dumps(row), flush=True)
    rows = [r for r in _read_rows(args.out) if r.get("settings") == settings]
    for search in ("hyperband", "random"):
        mine = [r for r in rows if r["search"] == search]
        if not mine:
            continue
        acc = sum(r[TEST] for r in mine) / len(mine)
        cpu = sum(r["cpu_s"] for r in mine) / len(mine)
        print(f"{search:>9}: {TEST} {acc:.2f} (mean of {len(mine)} seeds: "
              f"{sorted(r['seed'] for r in mine)}), CPU {cpu:.0f} s")

if __name__ == "__main__":
    main()
