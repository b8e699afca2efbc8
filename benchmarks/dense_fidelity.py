"""Is a dense task's cheap proxy worth anything? Rank fidelity of budget B against 4B.

Cheap proxies rank architectures, they don't reproduce published numbers (EcoNAS, Zhou et al.,
CVPR 2020; UnNAS, Liu et al., ECCV 2020). For each dense task, ``--archs`` distinct seeded archs of the
task's space are trained at the estimator's budget B (``--epochs``) and at 4B, with the same
seed and data. Reported per task: Kendall's tau between the two rankings (goal >= 0.6), the
spread of the scores against the task's trivial baseline (segmentation: the mIoU of predicting
the background everywhere), and the CPU minutes per trial (``time.process_time``, one thread).

Each trial appends one JSON line to ``--out`` (default
``benchmarks/results/dense_fidelity.jsonl``); trials already there are skipped, so a run cut off
loses nothing and a rerun continues. ``report`` reads the lines back and prints a markdown
table (and writes ``.json`` beside the lines)::

    nice -n 15 python benchmarks/dense_fidelity.py run --task segment --archs 20 --layers 4 \
        --aspp 16 --shard 0/2   # and --shard 1/2 beside it: the estimator's defaults
    nice -n 15 python benchmarks/dense_fidelity.py run --task segment --archs 20 --size 48 \
        --scenes 96 --val-scenes 32 --layers 4 --aspp 16 --epochs 8 --lr 0.01 \
        --batch-size 8 --seg-option labels=foreground
    nice -n 15 python benchmarks/dense_fidelity.py run --task detect --archs 20 --epochs 3
    nice -n 15 python benchmarks/dense_fidelity.py run --task superres --archs 20 --epochs 5
    python benchmarks/dense_fidelity.py report [--task detect|superres]

A task is one entry of :data:`TASKS` (segment, detect, superres): how to run and report it, its
results file and its default B. ``segment`` runs through this file's shared runner (a function
of the arguments returning a :class:`Task`: its space, an estimator factory taking the budget
multiplier, its metric and the metric of its trivial baseline; :data:`SETUPS`); ``detect`` and
``superres`` keep their own runners and line formats (``_dense_detect.py``,
``_dense_superres.py``: the arch numbering, noise-floor seeds and shards their results files
were made with). ``dense_fidelity_detect.py`` and ``dense_fidelity_sr.py`` are thin wrappers
for ``--task detect`` and ``--task superres``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # numpy and torch are imported later, in the functions

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))  # the task modules beside this file

import _dense_detect  # noqa: E402
import _dense_superres  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "dense_fidelity.jsonl"
MULTIPLIERS = (1, 4)


@dataclass(frozen=True)
class Task:
    """What the benchmark needs of a dense task."""

    space: Any
    #: budget multiplier -> the estimator at that budget
    estimator: Callable[[int], Any]
    metric: str
    #: the metric holding the trivial baseline's score (None: the task reports none)
    trivial: str | None
    #: a short description of the setting, stored with every line
    setting: str


def segment_task(args: argparse.Namespace) -> Task:
    """Auto-DeepLab (small lattice) + ASPP on digit scenes, scored by mIoU."""
    from archspace.estimators import get_estimator
    from archspace.spaces.autodeeplab import AutoDeepLabSpace

    space = AutoDeepLabSpace(layers=args.layers, filter_multiplier=args.filters,
                             aspp_channels=args.aspp)
    given = {"image_size": args.size, "scenes": args.scenes, "val_scenes": args.val_scenes,
             "batch_size": args.batch_size, "lr": args.lr}  # None: the estimator's default
    opts: dict[str, Any] = {**{k: v for k, v in given.items() if v is not None},
                            "device": "cpu", "keep": "none",
                            **dict(kv.split("=", 1) for kv in args.seg_option)}

    def make(mult: int) -> Any:
        return get_estimator("segment", epochs=args.epochs * mult, **opts)

    # the loss and label options are always named: lines from before they existed (plain
    # cross-entropy, no prior init, the 11 classes) keep a setting of their own
    est = make(1)
    c = est.config
    lr = c["lr"] if c["lr"] is not None else est.default_lr[c["optimizer"]]
    setting = (f"autodeeplab(layers={args.layers},F={args.filters},aspp={args.aspp}) "
               f"digit-scenes {c['image_size']}px {c['scenes']}/{c['val_scenes']} scenes "
               f"B={args.epochs:g} epochs bs={c['batch_size']} lr={lr:g} "
               f"labels={c['labels']} class_weight={c['class_weight']} "
               f"prior_init={str(c['prior_init']).lower()}")
    return Task(space, make, "miou", "miou_background", setting)


#: task name -> its setup, for the tasks run by :func:`run` (add one by adding a function here).
SETUPS: dict[str, Callable[[argparse.Namespace], Task]] = {
    "segment": segment_task,
}


def _done(out: Path) -> set[tuple[str, str, int, int]]:
    if not out.is_file():
        return set()
    keys = set()
    for line in out.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            keys.add((r["task"], r["setting"], r["arch_seed"], r["mult"]))
    return keys


def _shard(spec: str | None) -> tuple[int, int]:
    """``I/N`` (this process runs the distinct archs j with j % N == I) as (I, N); None: all."""
    if spec is None:
        return 0, 1
    try:
        part, parts = (int(x) for x in spec.split("/"))
    except ValueError:
        part, parts = -1, 0
    if not 0 <= part < parts:
        print(f"archspace: error: --shard {spec}: allowed: I/N with 0 <= I < N", file=sys.stderr)
        raise SystemExit(2)
    return part, parts


def run(args: argparse.Namespace) -> None:
    import torch

    part, parts = _shard(args.shard)  # checked before the data are made
    torch.set_num_threads(1)
    task = SETUPS[args.task](args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = _done(out)
    ests = {mult: task.estimator(mult) for mult in MULTIPLIERS}
    seen: set[str] = set()
    i = -1
    want = min(args.archs, task.space.size())
    while len(seen) < want:  # seeds 0, 1, ..., skipping archs drawn before
        i += 1
        arch = task.space.sample(i)
        if task.space.format_arch(arch) in seen:
            continue
        seen.add(task.space.format_arch(arch))
        if (len(seen) - 1) % parts != part:  # the j-th distinct arch belongs to shard j % N
            continue
        for mult, est in ests.items():  # arch by arch: a run cut off leaves complete pairs
            if (args.task, task.setting, i, mult) in done:
                continue
            t0 = time.process_time()
            m = est.evaluate(task.space, arch, 0)
            cpu = time.process_time() - t0
            rec = {"task": args.task, "setting": task.setting, "arch_seed": i, "mult": mult,
                   "arch": task.space.format_arch(arch), "score": m[task.metric],
                   "trivial": m.get(task.trivial) if task.trivial else None,
                   "cpu_seconds": cpu, "macs": m.get("macs"), "metrics": m}
            with out.open("a") as f:
                f.write(json.dumps(rec) + "\n")
            print(f"{args.task} x{mult} arch {i}: {task.metric}={m[task.metric]:.2f} "
                  f"({cpu:.0f} s CPU)", file=sys.stderr, flush=True)


def summarise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (task, setting): Kendall between the B and 4B rankings, score spread, CPU/trial."""
    import numpy as np
    from scipy.stats import kendalltau

    groups: dict[tuple[str, str], dict[int, dict[int, dict[str, Any]]]] = {}
    for r in sorted(records, key=lambda r: r["arch_seed"]):
        by_seed = groups.setdefault((r["task"], r["setting"]), {}).setdefault(r["mult"], {})
        if all(o.get("arch") != r.get("arch") for o in by_seed.values()):  # first seed of an arch
            by_seed[r["arch_seed"]] = r
    rows = []
    for (task, setting), by_mult in groups.items():
        lo, hi = by_mult.get(1, {}), by_mult.get(4, {})
        both = sorted(set(lo) & set(hi))
        tau = (float(kendalltau([lo[i]["score"] for i in both],
                                [hi[i]["score"] for i in both]).statistic)
               if len(both) >= 3 else math.nan)
        row: dict[str, Any] = {"task": task, "setting": setting, "archs": len(both),
                               "kendall_B_4B": tau}
        # the validation loss ranks archs even where every score ties at the trivial baseline
        if len(both) >= 3 and all("val_loss" in by[i].get("metrics", {})
                                  for by in (lo, hi) for i in both):
            row["kendall_B_4B_val_loss"] = float(kendalltau(
                [lo[i]["metrics"]["val_loss"] for i in both],
                [hi[i]["metrics"]["val_loss"] for i in both]).statistic)
        row["distinct_archs"] = len({lo[i].get("arch") for i in both})
        for mult, rs in ((1, lo), (4, hi)):
            scores = np.array([r["score"] for r in rs.values()])
            triv = [r["trivial"] for r in rs.values() if r["trivial"] is not None]
            if scores.size:
                row[f"x{mult}"] = {
                    "n": int(scores.size), "min": float(scores.min()),
                    "median": float(np.median(scores)), "max": float(scores.max()),
                    "trivial": float(np.mean(triv)) if triv else None,
                    "above_trivial": int(sum(r["score"] > (r["trivial"] or -math.inf)
                                             for r in rs.values())),
                    "cpu_minutes_per_trial": float(np.mean(
                        [r["cpu_seconds"] for r in rs.values()]) / 60)}
        rows.append(row)
    return rows


def report(args: argparse.Namespace) -> None:
    out = Path(args.out)
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    rows = summarise(records)
    def strict(v: Any) -> Any:  # NaN (an undefined tau: all scores tie) as JSON null
        if isinstance(v, dict):
            return {k: strict(x) for k, x in v.items()}
        return None if isinstance(v, float) and math.isnan(v) else v

    out.with_suffix(".json").write_text(json.dumps([strict(r) for r in rows], indent=1) + "\n")
    print("| task | setting | archs (distinct) | Kendall B vs 4B (val loss) | "
          "B: min / median / max (trivial) | 4B: min / median / max | CPU min/trial B, 4B |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        def cell(k: str, r: dict[str, Any] = r) -> str:
            s = r.get(k)
            if not s:
                return "-"
            triv = f" ({s['trivial']:.2f})" if s["trivial"] is not None else ""
            return f"{s['min']:.2f} / {s['median']:.2f} / {s['max']:.2f}{triv}"

        cpu = " , ".join(f"{r[k]['cpu_minutes_per_trial']:.2f}" for k in ("x1", "x4") if k in r)
        loss = r.get("kendall_B_4B_val_loss")
        tau = f"{r['kendall_B_4B']:.2f}" + (f" ({loss:.2f})" if loss is not None else "")
        print(f"| {r['task']} | {r['setting']} | {r['archs']} ({r['distinct_archs']}) | {tau} | "
              f"{cell('x1')} | {cell('x4')} | {cpu} |")


@dataclass(frozen=True)
class Runner:
    """How ``run`` and ``report`` treat a task, where its lines go and its default B."""

    run: Callable[[argparse.Namespace], None]
    report: Callable[[argparse.Namespace], None]
    out: Path
    epochs: float


def _segment_epochs() -> float:
    """The ``segment`` estimator's default ``epochs`` (its B; the module imports no torch)."""
    from archspace.estimators.segment import OPTIONS

    return float(next(o.default for o in OPTIONS if o.name == "epochs"))


#: Every task: ``--task NAME``.
TASKS: dict[str, Runner] = {
    "segment": Runner(run, report, DEFAULT_OUT, _segment_epochs()),
    "detect": Runner(_dense_detect.run, _dense_detect.report, _dense_detect.OUT,
                     _dense_detect.EPOCHS),
    "superres": Runner(_dense_superres.run, _dense_superres.report, _dense_superres.OUT,
                       _dense_superres.EPOCHS),
}


def _task_arguments(p: argparse.ArgumentParser) -> None:
    """The detect and superres runners' options (segment's are below, in :func:`main`)."""
    p.add_argument("-e", "--option", "--det-option", dest="option", action="append",
                   default=[], metavar="K=V", help="detect/superres: an estimator option")
    p.add_argument("-p", "--param", action="append", default=[], metavar="K=V",
                   help="superres: a trilevel space parameter (e.g. channels=8)")
    p.add_argument("--shard", default=None, help="I/N: the archs i with i %% N == I "
                   "(segment: the i-th distinct arch); run N processes, one per I")
    p.add_argument("--start", type=int, default=0, help="detect: the first arch")
    p.add_argument("--factor", type=float, default=4.0, help="detect: the larger budget / B")
    p.add_argument("--seed", type=int, default=0, help="detect: training seed (the noise "
                   "floor: the same archs with other seeds)")
    p.add_argument("--only-b", action="store_true", help="detect: train at B only")
    p.add_argument("--noise", type=int, default=3, help="superres: archs retrained at B "
                   "with 2 more seeds")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="train the archs at B and 4B (incremental)")
    r.add_argument("--archs", type=int, default=20)
    r.add_argument("--epochs", type=float, default=None, help="budget B in epochs (default: "
                   "the task's, segment 5, detect 3, superres 5)")
    # segment: None (not given) is the estimator's default (image_size 96, 256/64 scenes, ...)
    r.add_argument("--size", type=int, default=None)
    r.add_argument("--scenes", type=int, default=None)
    r.add_argument("--val-scenes", type=int, default=None)
    r.add_argument("--batch-size", type=int, default=None)
    r.add_argument("--lr", type=float, default=None)
    r.add_argument("--layers", type=int, default=6)
    r.add_argument("--filters", type=int, default=4)
    r.add_argument("--aspp", type=int, default=32)
    r.add_argument("--seg-option", action="append", default=[],
                   help="segment: an estimator option KEY=VALUE (repeatable), e.g. "
                   "labels=foreground, class_weight=none, prior_init=false")
    _task_arguments(r)
    q = sub.add_parser("report", help="summarise the lines")
    q.add_argument("--epochs", type=float, default=None, help="superres: B of the lines")
    for x in (r, q):
        x.add_argument("--task", choices=sorted(TASKS), default="segment")
        x.add_argument("--out", default=None, help="the lines (default: the task's file, "
                       "benchmarks/results/dense_fidelity{,_detect,_sr}.jsonl)")
    args = p.parse_args(argv)
    task = TASKS[args.task]
    args.out = args.out or str(task.out)
    args.epochs = task.epochs if args.epochs is None else args.epochs
    (task.run if args.cmd == "run" else task.report)(args)


if __name__ == "__main__":
    main()
