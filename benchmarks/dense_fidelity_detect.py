"""Is the ``detect`` proxy worth anything? Rank fidelity of a short budget against 4x of it.

Seeded NAS-FPN architectures (Ghiasi et al., CVPR 2019; ``nasfpn`` with its ``fcos`` head) are
trained by the ``detect`` estimator on the digit scenes at a budget of B epochs and at
``--factor`` x B, with the same seed; the report gives Kendall's tau between the two rankings by
COCO box AP (goal: at least 0.6), the spread of AP over the archs against a constant predictor's
AP (the same ten training boxes, each with every class, on every validation image: what knowing
only the box statistics scores), and the CPU seconds per trial (``time.process_time``, one
thread). The same seed at both budgets means the short run is a prefix of nothing: each budget
has its own cosine schedule, as a search at that budget would run it.

Each trial appends one JSON line to ``--out`` and trials already there are skipped, so a run cut
off loses nothing and a rerun continues; ``report`` prints the summary (and writes ``.json``
beside the lines)::

    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/dense_fidelity_detect.py run --archs 20
    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/dense_fidelity_detect.py run --archs 4 \
        --only-b --seed 1                  # the noise floor: other training seeds at B
    python benchmarks/dense_fidelity_detect.py report
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy and torch

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

OUT = Path(__file__).parent / "results" / "dense_fidelity_detect.jsonl"
SPACE = {"channels": 32}


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


def run(args: argparse.Namespace) -> None:
    import torch

    from archspace import get_space

    torch.set_num_threads(1)
    space = get_space("nasfpn", **SPACE)
    options: dict[str, Any] = dict(kv.split("=", 1) for kv in args.option)
    done = _done(args.out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    budgets = [args.epochs] if args.only_b else [args.epochs, args.epochs * args.factor]
    jobs = [(i, e) for i in range(args.start, args.start + args.archs) for e in budgets
            if (i, float(e), args.seed) not in done]
    if args.shard is not None:  # whole archs per shard, so every shard finishes pairs
        k, n = (int(v) for v in args.shard.split("/"))
        jobs = [(i, e) for i, e in jobs if i % n == k]
    ests = {e: _estimator(e, options) for e in budgets}
    for i, e in jobs:
        if (i, float(e), args.seed) in _done(args.out):
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
        with args.out.open("a") as f:
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


def report(args: argparse.Namespace) -> None:
    from scipy.stats import kendalltau

    every = [json.loads(x) for x in args.out.read_text().splitlines() if x.strip()]
    rows = [r for r in every if r.get("seed", 0) == 0]
    budgets = sorted({r["epochs"] for r in rows})
    lo, hi = budgets[0], budgets[-1]
    by = {(r["arch"], r["epochs"]): r for r in rows}
    archs = sorted(a for a in {r["arch"] for r in rows} if (a, lo) in by and (a, hi) in by)
    a_lo = [by[(a, lo)]["ap"] for a in archs]
    a_hi = [by[(a, hi)]["ap"] for a in archs]
    tau = kendalltau(a_lo, a_hi)
    options = rows[0].get("options", {})
    const = constant_ap(options)
    summary = {
        "space": rows[0]["space"], "options": options, "archs": len(archs),
        "budgets_epochs": [lo, hi], "kendall_tau": float(tau.statistic),
        "kendall_p": float(tau.pvalue),
        "ap": {str(b): {"min": min(v), "median": sorted(v)[len(v) // 2], "max": max(v)}
               for b, v in ((lo, a_lo), (hi, a_hi))},
        "constant_predictor": const,
        "noise_floor": _noise(every, lo),
        "cpu_seconds_per_trial": {str(b): sum(by[(a, b)]["cpu_seconds"] for a in archs)
                                  / max(len(archs), 1) for b in (lo, hi)},
    }
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--archs", type=int, default=20)
    r.add_argument("--start", type=int, default=0)
    r.add_argument("--epochs", type=float, default=4.0, help="the budget B")
    r.add_argument("--factor", type=float, default=4.0)
    r.add_argument("--seed", type=int, default=0, help="training seed (the noise floor: "
                   "the same archs with other seeds)")
    r.add_argument("--only-b", action="store_true", help="train at B only")
    r.add_argument("--option", "-e", action="append", default=[],
                   help="detect estimator option KEY=VALUE (repeatable)")
    r.add_argument("--shard", default=None, help="K/N: run the archs i with i %% N == K")
    r.add_argument("--out", type=Path, default=OUT)
    q = sub.add_parser("report")
    q.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()
    run(args) if args.cmd == "run" else report(args)


if __name__ == "__main__":
    main()
