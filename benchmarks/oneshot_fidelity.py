"""How well inherited weights rank NAS-Bench-201 cells: one-shot and few-shot supernets on CPU.

A weight-sharing supernet of ``nb201`` (reduced: ``-p C=8 -p N=1``, 32x32 input, a
class-balanced subset of the shared CIFAR-10 copy, a few epochs) is trained with single-path
uniform sampling (SPOS, Guo et al. ECCV 2020; :func:`archspace.supernet.train.train_supernet`).
Then a seeded uniform sample of benchmark cells is scored with inherited weights, each after
recalibrating its batch-norm statistics on a few training batches (the ``oneshot`` estimator),
and the scores are compared with the table's ``cifar10_test_200ep``: Kendall tau-b, Spearman
and the precision at the top 10%, against the CPU seconds (``time.process_time``, one thread) of
training the supernet and of scoring one cell.

Methods (``--method``):

``spos``
    plain SPOS: one path per step.
``sandwich``
    SPOS with the sandwich rule (largest, smallest and two random paths per step; Yu et al.,
    BigNAS, ECCV 2020).
``fewshot``
    few-shot NAS (Zhao et al., "Few-shot Neural Architecture Search", ICML 2021), with the
    library's :mod:`archspace.supernet.fewshot` (``supernet train -e few_shot=EDGE``): the
    trained SPOS supernet is split on one edge (``--split-edge``, default ``n3.in0``, the edge
    from the cell input to its output, whose op explains most of the table's variance) into
    one sub-supernet per candidate op, each initialised with the one-shot weights and trained
    ``--fewshot-epochs`` epochs (lr ``--fewshot-lr``, cosine) on the archs whose edge holds
    its op, all in one file; the ``oneshot`` estimator scores a cell with the sub-supernet of
    its op. Its cost is the SPOS supernet's plus the split stage's.

``--resolution 16`` trains and scores at 16x16 pixels (a quarter of the CPU per step, so four
times the steps for the same CPU); ``--bn-batches`` and ``--val-samples`` set the cost of
scoring a cell (a setting other than 4 batches and 1,000 test images is recorded as
``SETTING|bnB,vV``). Each cell's line holds its test accuracy and loss; ``report`` gives the
Kendall tau of both (ranking by the loss, lower first).

Every step appends JSON lines to ``--out`` (``benchmarks/results/oneshot_fidelity.jsonl``):
the training cost of each supernet file once it is complete, and one line per scored cell;
supernet files are written (resumably, every epoch) under ``benchmarks/results/oneshot/``. A
rerun skips what is recorded. ``report`` prints a markdown table. ``mcunet`` ranks 20 archs of
``mcunet -p width=0.35 -p resolution=32`` under an SRAM limit by inherited weights and by short
stand-alone training (``train`` estimator) on scikit-learn's digits::

    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/oneshot_fidelity.py run --method spos
    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/oneshot_fidelity.py run --method fewshot
    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/oneshot_fidelity.py mcunet
    python benchmarks/oneshot_fidelity.py report
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy and torch

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "cifar10-jpeg.tar.gz"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "oneshot_fidelity.jsonl"
TARGET = "cifar10_test_200ep"
#: Per-cell cost of stand-alone training on this machine (docs/benchmarks.md, estimator
#: fidelity: ``nb201 -p C=8 -p N=1``, 6 epochs on 5,000 images, one thread): 58 CPU-s.
TRAIN_CPU_PER_CELL = 58.0
#: Published Kendall tau of weight-sharing rankings on NAS-Bench-201 CIFAR-10.
PUBLISHED = {
    "spos": (0.52, "one-shot supernets, about 0.50-0.54 (as the issue and Zhao et al. 2021 "
                   "quote them)"),
    "fewshot": (0.61, "few-shot NAS, Zhao et al. ICML 2021"),
}


# -- pure helpers (tested without data) -------------------------------------------------------

def sample_ids(cells: int, seed: int) -> list[int]:
    """``cells`` distinct benchmark ids drawn uniformly with ``seed`` (as
    ``estimator_fidelity.py`` draws them)."""
    rng = np.random.default_rng(seed)
    return [int(i) for i in rng.choice(15_625, size=cells, replace=False)]


def read_records(out: Path) -> list[dict[str, Any]]:
    """Every complete JSON line of ``out`` (a line cut by a kill is skipped)."""
    if not out.exists():
        return []
    records = []
    for line in out.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def append(out: Path, record: dict[str, Any]) -> None:
    """Add one JSON line to ``out``, flushed to disk."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def done(records: Sequence[dict[str, Any]], kind: str, setting: str) -> dict[Any, dict[str, Any]]:
    """The records of ``kind`` under ``setting``, by their key (a cell id or a file name)."""
    return {r["key"]: r for r in records if r.get("kind") == kind and r.get("setting") == setting}


def precision_top(pred: Sequence[float], truth: Sequence[float], share: float = 0.1) -> float:
    """The share of the true top ``share`` among the predicted top ``share`` (ties broken by
    order)."""
    p, t = np.asarray(pred, dtype=float), np.asarray(truth, dtype=float)
    k = max(1, round(share * len(p)))
    top_pred = set(np.argsort(-p, kind="stable")[:k].tolist())
    top_true = set(np.argsort(-t, kind="stable")[:k].tolist())
    return len(top_pred & top_true) / k


def correlations(pred: Sequence[float], truth: Sequence[float]) -> dict[str, float]:
    """Kendall tau-b, Spearman and the top-10% precision of ``pred`` against ``truth``."""
    from scipy.stats import kendalltau, spearmanr

    p, t = np.asarray(pred, dtype=float), np.asarray(truth, dtype=float)
    return {"kendall": float(kendalltau(p, t).statistic),
            "spearman": float(spearmanr(p, t).statistic),
            "top10_precision": precision_top(p, t)}


def tied_pairs(values: Sequence[float]) -> int:
    """Pairs of equal values (NAS-Bench-201 cells of identical accuracy tie; Kendall tau-b
    discounts them)."""
    _, counts = np.unique(np.asarray(values, dtype=float), return_counts=True)
    return int(sum(c * (c - 1) // 2 for c in counts))


# -- running --------------------------------------------------------------------------------

def _pin_torch() -> None:
    import torch

    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):  # already set in this process
        torch.set_num_interop_threads(1)


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _options(args: argparse.Namespace, sandwich: bool) -> dict[str, Any]:
    opts: dict[str, Any] = {"dataset": f"imagefolder:{args.data}", "device": "cpu",
                            "epochs": args.epochs, "train_samples": args.train_samples,
                            "batch_size": args.batch_size}
    if args.resolution != 32:
        opts["resolution"] = args.resolution
    if args.lr is not None:
        opts["lr"] = args.lr
    if sandwich:
        opts["sandwich"] = True
    if args.affine_free:
        opts["searched_bn_affine"] = False
    if args.sampler != "uniform":
        opts["sampler"] = args.sampler
    return opts


def _setting(args: argparse.Namespace, method: str) -> str:
    """The supernet's setting (what its training depends on); the settings of the first runs
    (32 pixels, the default lr) keep their names."""
    base = f"C={args.C},N={args.N},e{args.epochs:g},n{args.train_samples},b{args.batch_size}"
    if args.resolution != 32:
        base += f",r{args.resolution}"
    if args.lr is not None:
        base += f",lr{args.lr:g}"
    if args.affine_free:
        base += ",bnfree"
    if args.sampler != "uniform":
        base += f",{args.sampler}"
    if method == "fewshot":
        base += f",split={args.split_edge},fe{args.fewshot_epochs:g}"
        if args.fewshot_lr != 0.02:
            base += f",flr{args.fewshot_lr:g}"
    return f"{method}:{base}:s{args.seed}"


def score_setting(setting: str, bn_batches: int, val_samples: int) -> str:
    """The setting of a scoring run: the supernet's, with ``|bnB,vV`` when batch norm is
    recalibrated on other than 4 batches or the test subset is not 1,000 images."""
    if (bn_batches, val_samples) == (4, 1000):
        return setting
    return f"{setting}|bn{bn_batches},v{val_samples}"


def supernet_setting(setting: str) -> str:
    """The supernet's setting of a scoring setting (:func:`score_setting` undone)."""
    return setting.split("|", 1)[0]


def _space(args: argparse.Namespace) -> Any:
    from archspace.spaces import get_space

    return get_space("nb201", C=args.C, N=args.N)


def train_spos(args: argparse.Namespace, method: str, out: Path) -> Path:
    """Train (or continue) the SPOS / sandwich supernet; record its CPU seconds once done."""
    from archspace.supernet.train import train_supernet

    sandwich = method == "sandwich"
    setting = _setting(args, "sandwich" if sandwich else "spos")
    folder = out.parent / "oneshot"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (setting.replace(":", "_").replace(",", "_").replace("=", "") + ".pt")
    recorded = done(read_records(out), "train", setting)
    if path.name in recorded and path.exists():
        return path
    _log(f"training {setting} -> {path}")
    t0 = time.process_time()
    info = train_supernet(_space(args), path, _options(args, sandwich), seed=args.seed,
                          log=_log)
    cpu = time.process_time() - t0
    append(out, {"kind": "train", "setting": setting, "key": path.name, "cpu_s": cpu,
                 "epochs": info.get("epoch"), "history": info.get("history"),
                 "metrics": info.get("metrics")})
    _log(f"trained {setting} in {cpu:.1f} CPU-s: {info.get('metrics')}")
    return path


def train_fewshot(args: argparse.Namespace, base: Path, out: Path) -> Path:
    """Split the SPOS supernet in ``base`` on ``--split-edge`` with the library's few-shot
    training (:mod:`archspace.supernet.fewshot`: one sub-supernet per op, each initialised
    from ``base`` and trained ``--fewshot-epochs`` on the archs holding that op there; Zhao et
    al. 2021), into one file beside ``base``; records the CPU seconds of the split stage."""
    import shutil

    from archspace.supernet.train import train_supernet

    setting = _setting(args, "fewshot")
    path = base.with_name(f"{base.stem}_fewshot_{args.split_edge}_e{args.fewshot_epochs:g}"
                          f"_lr{args.fewshot_lr:g}.pt")
    recorded = done(read_records(out), "train", setting)
    if path.name in recorded and path.exists():
        return path
    if not path.exists():  # the one-shot stage is the trained SPOS supernet
        shutil.copyfile(base, path)
    opts = {**_options(args, False), "few_shot": args.split_edge,
            "few_shot_epochs": args.fewshot_epochs, "few_shot_lr": args.fewshot_lr}
    _log(f"few-shot {setting} -> {path.name}")
    t0 = time.process_time()
    info = train_supernet(_space(args), path, opts, seed=args.seed, log=_log)
    cpu = time.process_time() - t0
    subs = (info.get("few_shot") or {}).get("subs") or []
    append(out, {"kind": "train", "setting": setting, "key": path.name, "cpu_s": cpu,
                 "subs": [{"op": s.get("op"), "history": s.get("history"),
                           "metrics": s.get("metrics")} for s in subs]})
    _log(f"few-shot trained in {cpu:.1f} CPU-s: {info.get('metrics')}")
    return path


def score(args: argparse.Namespace, setting: str, supernet_of: Callable[[Any], Path],
          out: Path) -> None:
    """Score the sampled cells with inherited weights, one JSON line per cell."""
    from archspace.estimators import get_estimator
    from archspace.spaces import get_space

    space = _space(args)
    bench = get_space("nb201")
    have = done(read_records(out), "cell", setting)
    shard, shards = _shard(args)
    todo = [i for k, i in enumerate(sample_ids(args.cells, args.sample_seed))
            if i not in have and k % shards == shard]
    _log(f"{setting}: {len(todo)} cells to score ({len(have)} done)")
    estimators: dict[Path, Any] = {}
    for k, i in enumerate(todo):
        arch = space.validate(bench.from_index(i))
        path = supernet_of(arch)
        if path not in estimators:
            estimators[path] = get_estimator("oneshot", supernet=str(path), device="cpu",
                                             bn_batches=args.bn_batches,
                                             val_samples=args.val_samples)
        est = estimators[path]
        t0 = time.process_time()
        res = est.evaluate(space, arch, args.seed)
        cpu = time.process_time() - t0
        acc = float(res["val_accuracy"])
        append(out, {"kind": "cell", "setting": setting, "key": i, "arch": space.format_arch(arch),
                     "score": acc, "loss": float(res["val_loss"]), "cpu_s": cpu,
                     "supernet": path.name})
        if (k + 1) % 10 == 0:
            _log(f"  {k + 1}/{len(todo)} last {acc:.2f}% {cpu:.2f} CPU-s")


def run(args: argparse.Namespace) -> None:
    _pin_torch()
    out = args.out
    scoring = (args.bn_batches, args.val_samples)
    if args.method in ("spos", "sandwich"):
        path = train_spos(args, args.method, out)
        score(args, score_setting(_setting(args, args.method), *scoring), lambda arch: path, out)
    else:
        base = train_spos(args, "spos", out)
        path = train_fewshot(args, base, out)
        score(args, score_setting(_setting(args, "fewshot"), *scoring), lambda arch: path, out)


def _shard(args: argparse.Namespace) -> tuple[int, int]:
    i, n = (int(v) for v in str(args.shard).split("/"))
    return i, n


def mcunet(args: argparse.Namespace) -> None:
    """``--archs`` seeded archs of ``mcunet -p width=0.35 -p resolution=32`` within
    ``--sram`` bytes of TinyEngine's peak SRAM, ranked by inherited weights (a SPOS supernet
    trained on ``--dataset``, phase ``inherited``) and by short stand-alone training (the
    ``train`` estimator, same data, ``--arch-epochs``, phase ``trained``); one JSON line per
    arch and phase. The phases (and ``--shard I/N`` of the archs) can run apart."""
    _pin_torch()
    from archspace.estimators import get_estimator
    from archspace.spaces import get_space
    from archspace.supernet.train import train_supernet

    out = args.out
    space = get_space("mcunet", width=0.35, resolution=32)
    archs, seed = [], 0
    while len(archs) < args.archs:
        a = space.sample(seed)
        seed += 1
        if space.profile(a, memory_model="tinyengine").peak_sram_bytes <= args.sram:
            archs.append(a)
    setting = f"mcunet:w0.35,r32,sram<={args.sram},{args.dataset}:s{args.seed}"
    folder = out.parent / "oneshot"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"mcunet_w035_r32_{args.dataset}_e{args.epochs:g}_s{args.seed}.pt"
    records = read_records(out)
    shard, shards = _shard(args)
    mine = [k for k in range(len(archs)) if k % shards == shard]
    if args.phase == "trained":
        extra = dict(kv.split("=", 1) for kv in args.arch_option)
        kind = f"mcunet-trained-e{args.arch_epochs:g}" + "".join(
            f",{k}={v}" for k, v in sorted(extra.items()))
        train = get_estimator("train", dataset=args.dataset, device="cpu",
                              epochs=args.arch_epochs, **extra)
        have = done(records, kind, setting)
        for k in mine:
            if k in have:
                continue
            t0 = time.process_time()
            acc = float(train.evaluate(space, archs[k], args.seed)[train.metric])
            cpu = time.process_time() - t0
            append(out, {"kind": kind, "setting": setting, "key": k,
                         "arch": space.format_arch(archs[k]), "value": acc, "cpu_s": cpu})
            _log(f"  mcunet arch {k}: trained {acc:.2f}% ({cpu:.1f} CPU-s)")
        return
    trained = [r for r in records if r.get("kind") == "train" and r.get("key") == path.name]
    if not trained or not path.exists():
        _log(f"training the mcunet supernet -> {path.name}")
        t0 = time.process_time()
        info = train_supernet(space, path, {"dataset": args.dataset, "epochs": args.epochs,
                                            "device": "cpu"}, seed=args.seed, log=_log)
        append(out, {"kind": "train", "setting": setting, "key": path.name,
                     "cpu_s": time.process_time() - t0, "metrics": info.get("metrics")})
    kind = f"mcunet-inherited-e{args.epochs:g}"
    oneshot = get_estimator("oneshot", supernet=str(path), device="cpu")
    have = done(records, kind, setting)
    for k in mine:
        if k in have:
            continue
        t0 = time.process_time()
        acc = float(oneshot.evaluate(space, archs[k], args.seed)["val_accuracy"])
        cpu = time.process_time() - t0
        append(out, {"kind": kind, "setting": setting, "key": k, "supernet": path.name,
                     "arch": space.format_arch(archs[k]), "value": acc, "cpu_s": cpu})
        _log(f"  mcunet arch {k}: inherited {acc:.2f}% ({cpu:.2f} CPU-s)")


def mcunet_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per mcunet setting and (supernet epochs, stand-alone epochs): Kendall and Spearman of
    the inherited-weight accuracy against the stand-alone one, on the archs having both."""
    cost = {r["key"]: float(r["cpu_s"]) for r in records if r.get("kind") == "train"}
    rows = []
    kinds = dict.fromkeys((r["setting"], r["kind"]) for r in records
                          if str(r.get("kind", "")).startswith("mcunet-"))
    for s, ki in kinds:
        if not ki.startswith("mcunet-inherited"):
            continue
        inh = done(records, ki, s)
        for s2, kt in kinds:
            if s2 != s or not kt.startswith("mcunet-trained"):
                continue
            tr = done(records, kt, s)
            keys = sorted(set(inh) & set(tr))
            if len(keys) < 3:
                continue
            c = correlations([inh[k]["value"] for k in keys], [tr[k]["value"] for k in keys])
            sn = inh[keys[0]].get("supernet", "")
            rows.append({"kind": "mcunet", "setting": f"{s} {ki[7:]} vs {kt[7:]}",
                         "archs": len(keys), "kendall": c["kendall"],
                         "spearman": c["spearman"], "supernet_cpu_s": cost.get(sn),
                         "score_cpu_s_per_arch": float(np.mean([inh[k]["cpu_s"] for k in keys])),
                         "train_cpu_s_per_arch": float(np.mean([tr[k]["cpu_s"] for k in keys])),
                         "inherited_range": [min(inh[k]["value"] for k in keys),
                                             max(inh[k]["value"] for k in keys)],
                         "trained_range": [min(tr[k]["value"] for k in keys),
                                           max(tr[k]["value"] for k in keys)]})
    return rows


# -- reporting ------------------------------------------------------------------------------

def summarize(records: Sequence[dict[str, Any]], truth: Any) -> list[dict[str, Any]]:
    """One row per scored setting: correlations with ``truth`` (indexable by cell id), the
    supernet's training CPU seconds (a few-shot setting adds its SPOS supernet's) and the CPU
    seconds per scored cell. ``kendall_loss`` ranks by the test loss instead of the accuracy
    (lower loss first; when every cell has one)."""
    last: dict[tuple[str, str], float] = {}  # a file trained again counts once (its last run)
    for r in records:
        if r.get("kind") == "train":
            last[(r["setting"], r["key"])] = float(r["cpu_s"])
    train_cost: dict[str, float] = {}
    for (setting, _), cpu in last.items():
        train_cost[setting] = train_cost.get(setting, 0.0) + cpu
    rows = []
    settings = list(dict.fromkeys(r["setting"] for r in records if r.get("kind") == "cell"))
    for s in settings:
        cells = done(records, "cell", s)
        ids = sorted(cells)
        if len(ids) < 3:
            continue
        pred = [cells[i]["score"] for i in ids]
        true = [float(truth[i]) for i in ids]
        method = s.split(":", 1)[0]
        trained = supernet_setting(s)
        cost = train_cost.get(trained, 0.0)
        if method == "fewshot":
            base = ("spos:" + trained.split(":", 1)[1].split(",split=")[0] + ":"
                    + trained.rsplit(":", 1)[1])
            cost += train_cost.get(base, 0.0)
        per_cell = float(np.mean([cells[i]["cpu_s"] for i in ids]))
        amortized = cost / len(ids) + per_cell
        losses = [cells[i].get("loss") for i in ids]
        by_loss = (correlations([-float(v) for v in losses], true)["kendall"]
                   if all(v is not None for v in losses) else None)
        row = {"setting": s, "method": method, "cells": len(ids), **correlations(pred, true),
               "kendall_loss": by_loss,
               "tied_true_pairs": tied_pairs(true), "tied_score_pairs": tied_pairs(pred),
               "supernet_cpu_s": cost, "score_cpu_s_per_cell": per_cell,
               "cpu_s_per_cell_amortized": amortized,
               "speedup_vs_training": TRAIN_CPU_PER_CELL / amortized if amortized else None,
               "speedup_scoring_only": TRAIN_CPU_PER_CELL / per_cell if per_cell else None,
               "published_kendall": PUBLISHED.get(method, (None, ""))[0]}
        rows.append(row)
    rows += mcunet_rows(records)
    return rows


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The summary as a markdown table."""
    lines = ["| setting | cells | Kendall | Kendall (loss) | Spearman | top-10% | "
             "published Kendall | supernet CPU-s | scoring CPU-s/cell | "
             "CPU-s/cell incl. supernet | x cheaper than training (incl. supernet) | "
             "x cheaper (scoring only) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if r.get("kind") == "mcunet":
            continue
        setting = str(r["setting"]).replace("|", "\\|")  # a scoring setting's |bnB,vV
        lines.append(f"| {setting} | {r['cells']} | {_fmt(r['kendall'])} | "
                     f"{_fmt(r.get('kendall_loss'))} | "
                     f"{_fmt(r['spearman'])} | {_fmt(r['top10_precision'])} | "
                     f"{_fmt(r['published_kendall'])} | {_fmt(r['supernet_cpu_s'], 0)} | "
                     f"{_fmt(r['score_cpu_s_per_cell'])} | "
                     f"{_fmt(r['cpu_s_per_cell_amortized'])} | "
                     f"{_fmt(r['speedup_vs_training'], 0)} | "
                     f"{_fmt(r.get('speedup_scoring_only'), 0)} |")
    mc = [r for r in rows if r.get("kind") == "mcunet"]
    if mc:
        lines += ["", "| mcunet setting | archs | Kendall | Spearman | supernet CPU-s | "
                  "scoring CPU-s/arch | training CPU-s/arch |", "| --- | --- | --- | --- | --- "
                  "| --- | --- |"]
        for r in mc:
            lines.append(f"| {r['setting']} | {r['archs']} | {_fmt(r['kendall'])} | "
                         f"{_fmt(r['spearman'])} | {_fmt(r['supernet_cpu_s'], 0)} | "
                         f"{_fmt(r['score_cpu_s_per_arch'])} | {_fmt(r['train_cpu_s_per_arch'])} |")
    return "\n".join(lines)


def report(args: argparse.Namespace) -> list[dict[str, Any]]:
    from archspace.tabular import load_nb201

    truth = load_nb201().metric(TARGET)
    rows = summarize(read_records(args.out), truth)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    print(markdown(rows))
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="train a supernet (resumable) and score the sampled cells")
    r.add_argument("--method", choices=("spos", "sandwich", "fewshot"), default="spos")
    r.add_argument("--data", type=Path, default=DEFAULT_DATA)
    r.add_argument("--C", type=int, default=8)
    r.add_argument("--N", type=int, default=1)
    r.add_argument("--epochs", type=float, default=10)
    r.add_argument("--train-samples", type=int, default=5000)
    r.add_argument("--batch-size", type=int, default=64)
    r.add_argument("--resolution", type=int, default=32, help="input side the supernet trains "
                   "and scores at (16: a quarter of the CPU per step)")
    r.add_argument("--lr", type=float, default=None, help="SGD learning rate (default 0.05)")
    r.add_argument("--affine-free", action="store_true", help="affine-free batch norm in the "
                   "searched ops (searched_bn_affine=false)")
    r.add_argument("--sampler", choices=("uniform", "connected", "fair"), default="uniform",
                   help="how SPOS draws its paths (the supernet option sampler)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--cells", type=int, default=100)
    r.add_argument("--sample-seed", type=int, default=0)
    r.add_argument("--bn-batches", type=int, default=4)
    r.add_argument("--val-samples", type=int, default=1000, help="test images each cell is "
                   "scored on (a fixed subset)")
    r.add_argument("--split-edge", default="n3.in0")
    r.add_argument("--fewshot-epochs", type=float, default=2)
    r.add_argument("--fewshot-lr", type=float, default=0.02)
    r.add_argument("--shard", default="0/1", help="I/N: score only the sampled cells k with "
                   "k %% N == I (start shards once the supernet is trained)")
    m = sub.add_parser("mcunet", help="inherited-weight rank vs short training, mcunet archs")
    m.add_argument("--dataset", default="digits")
    m.add_argument("--epochs", type=float, default=10, help="supernet epochs")
    m.add_argument("--arch-epochs", type=float, default=3, help="stand-alone epochs per arch")
    m.add_argument("--arch-option", action="append", default=[], metavar="K=V",
                   help="a train-estimator option of the stand-alone runs (repeatable)")
    m.add_argument("--archs", type=int, default=20)
    m.add_argument("--sram", type=int, default=20_000, help="TinyEngine peak SRAM, bytes")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--phase", choices=("inherited", "trained"), default="inherited",
                   help="inherited: train the supernet and score; trained: stand-alone")
    m.add_argument("--shard", default="0/1", help="I/N: only the archs k with k %% N == I")
    sub.add_parser("report", help="print the markdown table (and write OUT.json)")
    args = p.parse_args(argv)
    if args.cmd == "run":
        if not args.data.exists():
            p.exit(2, f"archspace: error: no dataset at {args.data}; allowed: the shared "
                      "cifar10-jpeg.tar.gz (--data PATH)\n")
        run(args)
    elif args.cmd == "mcunet":
        mcunet(args)
    else:
        report(args)


if __name__ == "__main__":
    main()
