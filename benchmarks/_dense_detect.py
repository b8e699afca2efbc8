"""The ``detect`` task of ``benchmarks/dense_fidelity.py``: is the short detection proxy worth
anything? Rank fidelity of a budget B against ``--factor`` x B.

Seeded NAS-FPN architectures (Ghiasi et al., CVPR 2019; ``nasfpn`` with its ``fcos`` head; arch
0 the paper's discovered NAS-FPN, arch i > 0 ``space.sample(i)``) are trained by the ``detect``
estimator on the digit scenes at B epochs and at ``--factor`` x B, with the same seed; the
report gives Kendall's tau between the two rankings by COCO box AP (goal: at least 0.6), the
spread of AP over the archs against a constant predictor's AP (the same ten training boxes,
each with every class, on every validation image: what knowing only the box statistics
scores), the seed-to-seed noise floor (archs retrained at B with ``--seed 1``) and the CPU
seconds per trial (``time.process_time``, one thread). Each budget has its own cosine
schedule, as a search at that budget would run it.

One JSON line per (arch, budget, seed) goes to ``--out`` (default
``benchmarks/results/dense_fidelity_detect.jsonl``); lines already there are skipped.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "results" / "dense_fidelity_detect.jsonl"
SPACE = {"channels": 32}
#: B in epochs when --epochs is not given (the estimator's default)
EPOCHS = 3.0


def _estimator(epochs: float, options: dict[str, Any]) -> Any:
    from archspace.estimators import get_estimator

    return get_estimator("detect", device="cpu", epochs=epochs, keep="none", **options)


def _done(path: Path) -> set[tuple[int, float, int]]:
    if not path.is_file():
        return set()
    out = set()
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            out.add((int(r["arch"]), float(r["epochs"]), int(r.get("seed", 0))))
    return out


def _jobs(args: argparse.Namespace, budgets: list[float], out: Path) -> list[tuple[int, float]]:
    done = _done(out)
    jobs = [(i, e) for i in range(args.start, args.start + args.archs) for e in budgets
            if (i, float(e), args.seed) not in done]
    if args.shard is not None:  # whole archs per shard, so every shard finishes pairs
        k, n = (int(v) for v in args.shard.split("/"))
        jobs = [(i, e) for i, e in jobs if i % n == k]
    return jobs


def run(args: argparse.Namespace) -> None:
    """Train the archs ``--start`` ... at B (and ``--factor`` x B unless ``--only-b``)."""
    import torch

    from archspace import get_space

    torch.set_num_threads(1)
    out = Path(args.out)
    space = get_space("nasfpn", **SPACE)
    options: dict[str, Any] = dict(kv.split("=", 1) for kv in args.option)
    out.parent.mkdir(parents=True, exist_ok=True)
    budgets = [args.epochs] if args.only_b else [args.epochs, args.epochs * args.factor]
    ests = {e: _estimator(e, options) for e in budgets}
    for i, e in _jobs(args, budgets, out):
        if (i, float(e), args.seed) in _done(out):  # another shard did it meanwhile
            continue
        arch = space.named("nasfpn") if i == 0 else space.sample(i)
        t0 = time.process_time()
        m = ests[e].evaluate(space, arch, args.seed)
        cpu = time.process_time() - t0
        row = {"arch": i, "epochs": float(e), "seed": args.seed, "ap": m["ap"],
               "ap50": m["ap50"], "ap75": m["ap75"],
               "train_loss": m["train_loss"], "steps": m["steps"], "macs": m["macs"],
               "cpu_seconds": cpu, "options": options, "space": space.label,
               "arch_str": space.format_arch(arch)}
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"arch {i} epochs {e:g} seed {args.seed}: ap {m['ap']:.2f} ap50 {m['ap50']:.2f} "
              f"cpu {cpu:.0f}s", flush=True)


def constant_ap(options: dict[str, Any]) -> dict[str, float]:
    """AP of predicting the same ten training boxes, each with every class, on every image."""
    import numpy as np
    import torch

    from archspace.estimators.detect.coco_eval import coco_ap

    est = _estimator(1.0, options)
    data = est.native_dataset()
    boxes = torch.cat(list(data.boxes_train))
    pick = boxes[torch.randperm(len(boxes), generator=torch.Generator().manual_seed(0))[:10]]
    xywh = torch.cat((pick[:, :2], pick[:, 2:] - pick[:, :2]), 1).numpy()
    c = data.num_classes
    per = np.repeat(xywh, c, 0)
    labels = np.tile(np.arange(c), len(xywh))
    n = len(data.boxes_val)
    return coco_ap(data.val_ground_truth(), [per] * n, [np.ones(len(per))] * n, [labels] * n)


def _noise(rows: list[dict[str, Any]], budget: float) -> dict[str, Any]:
    """Per arch trained with several seeds at ``budget``: its APs and their range."""
    seeds: dict[int, dict[int, float]] = {}
    for r in rows:
        if r["epochs"] == budget:
            seeds.setdefault(int(r["arch"]), {})[int(r.get("seed", 0))] = r["ap"]
    return {str(a): {"aps": [v[k] for k in sorted(v)], "range": max(v.values()) - min(v.values())}
            for a, v in sorted(seeds.items()) if len(v) > 1}


def summarize(every: list[dict[str, Any]], constant: dict[str, float] | None) -> dict[str, Any]:
    """Kendall's tau between the lowest and highest budget (seed 0), AP spreads, the constant
    predictor's AP, the noise floor and CPU seconds per trial."""
    from scipy.stats import kendalltau

    rows = [r for r in every if r.get("seed", 0) == 0]
    budgets = sorted({r["epochs"] for r in rows})
    lo, hi = budgets[0], budgets[-1]
    by = {(r["arch"], r["epochs"]): r for r in rows}
    archs = sorted(a for a in {r["arch"] for r in rows} if (a, lo) in by and (a, hi) in by)
    a_lo = [by[(a, lo)]["ap"] for a in archs]
    a_hi = [by[(a, hi)]["ap"] for a in archs]
    tau = kendalltau(a_lo, a_hi)
    return {
        "space": rows[0]["space"], "options": rows[0].get("options", {}), "archs": len(archs),
        "budgets_epochs": [lo, hi], "kendall_tau": float(tau.statistic),
        "kendall_p": float(tau.pvalue),
        "ap": {str(b): {"min": min(v), "median": sorted(v)[len(v) // 2], "max": max(v)}
               for b, v in ((lo, a_lo), (hi, a_hi))},
        "constant_predictor": constant,
        "noise_floor": _noise(every, lo),
        "cpu_seconds_per_trial": {str(b): sum(by[(a, b)]["cpu_seconds"] for a in archs)
                                  / max(len(archs), 1) for b in (lo, hi)},
    }


def report(args: argparse.Namespace) -> None:
    """Print the summary of ``--out`` as JSON and write it beside the lines (``.json``)."""
    out = Path(args.out)
    every = [json.loads(x) for x in out.read_text().splitlines() if x.strip()]
    options = next((r.get("options", {}) for r in every), {})
    summary = summarize(every, constant_ap(options))
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
