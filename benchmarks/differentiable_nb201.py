"""DARTS and GDAS on NAS-Bench-201 at CPU scale: does DARTS collapse, what does GDAS derive?

Published (Dong & Yang, ICLR 2020, Table 5; CIFAR-10, C=16, N=5, 50 search epochs on the
25k/25k split): DARTS (first and second order) derives the all-skip cell, 54.30% test accuracy;
GDAS 93.61 +- 0.09. Here each search is the strategy's own code
(:class:`archspace.strategies.differentiable.DARTS` / ``GDAS``, exactly what ``archspace search
--strategy darts`` runs), on a class-balanced subset of the shared CIFAR-10 (the JPEG copy in
``../shared/datasets``, read by the ``imagefolder`` loader; the subset is split in two halves
for weights and architecture), with a reduced network (``-p C=8 -p N=1`` by default) and
epochs. The derived cell is looked up in the shipped NAS-Bench-201 table (its
``cifar10_test_200ep``: the benchmark's 200-epoch training of that cell at full scale).

One search per (method, seed), written to ``--out`` as it finishes; a rerun skips the pairs
already there (resumable). CPU seconds are ``time.process_time`` of the search, one thread::

    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/differentiable_nb201.py \\
        --methods darts,gdas --seeds 0,1,2 --epochs 10 --train-samples 5000
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "datasets" / "cifar10-jpeg.tar.gz"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DATA), help="CIFAR-10 ImageFolder tree or archive")
    p.add_argument("--methods", default="darts,gdas", help="comma-separated: darts, gdas, "
                   "darts2 (second order)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--train-samples", type=int, default=5000)
    p.add_argument("--C", type=int, default=8)
    p.add_argument("--N", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--arch-lr", type=float, default=None, help="architecture learning rate "
                   "(default: the strategy's, 3e-4); the label then says arch_lr=...")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" /
                                        "differentiable_nb201.json"))
    return p.parse_args(argv)


def _label(method: str, args: argparse.Namespace) -> str:
    return method if args.arch_lr is None else f"{method}:arch_lr={args.arch_lr:g}"


def run_one(method: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """One search's record (the strategy's own), with the wall and CPU time around it."""
    import torch

    from archspace.estimators import get_estimator
    from archspace.spaces import get_space
    from archspace.strategies import get_strategy

    torch.set_num_threads(1)
    space = get_space("nb201", C=args.C, N=args.N)
    options: dict[str, Any] = {"epochs": args.epochs, "batch_size": args.batch_size}
    if args.arch_lr is not None:
        options["arch_lr"] = args.arch_lr
    name = method
    if method == "darts2":
        name, options["unrolled"] = "darts", True
    strategy = get_strategy(name, space, seed=seed, **options)
    est = get_estimator("train", dataset=f"imagefolder:{args.data}",
                        train_samples=args.train_samples, device="cpu")
    strategy.use_estimator(est)  # type: ignore[attr-defined]
    t0, c0 = time.time(), time.process_time()
    strategy.ask()
    rec = dict(strategy.searches[0])  # type: ignore[attr-defined]
    rec.update(label=_label(method, args), arch_lr=strategy.settings.arch_lr,  # type: ignore[attr-defined]
               epochs_arg=args.epochs, wall_seconds=round(time.time() - t0, 1),
               process_seconds=round(time.process_time() - c0, 1),
               space=space.label, train_samples=args.train_samples)
    return rec


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if not Path(args.data).exists():
        print(f"no CIFAR-10 at {args.data}; pass --data", file=sys.stderr)
        return 2
    out = Path(args.out)
    results: list[dict[str, Any]] = json.loads(out.read_text()) if out.exists() else []
    done = {(r["label"], r["seed_arg"]) for r in results}
    for method in args.methods.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            if (_label(method, args), seed) in done:
                continue
            rec = run_one(method, seed, args)
            rec["seed_arg"] = seed
            results.append(rec)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(results, indent=1) + "\n")
            bench = rec.get("benchmark", {})
            print(f"{rec['label']} seed {seed}: {rec['arch']} collapse={rec['collapse']} "
                  f"cifar10_test_200ep={bench.get('cifar10_test_200ep')} "
                  f"cpu={rec['process_seconds']}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
