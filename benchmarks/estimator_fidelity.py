"""What each estimator is worth: rank correlation with NAS-Bench-201 against CPU cost per cell.

A seeded uniform sample of NAS-Bench-201 cells (Dong & Yang, ICLR 2020) is scored by every
zero-cost proxy (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021;
Mellor et al., ICML 2021) on real CIFAR-10 batches, and optionally by a short training run on
fewer cells (EcoNAS-style reduced settings, Zhou et al., CVPR 2020). Each setting is compared
with the table's ``cifar10_test_200ep`` and ``cifar10_valid_12ep``: Spearman and Kendall
correlation (with a bootstrap 95% interval for Spearman), the precision at the top 10% (the share
of the true top-10% cells among the setting's top 10%) and the CPU seconds per cell
(``time.process_time``, one thread).

Phases append one JSON line per cell to ``--out`` (default
``benchmarks/results/estimator_fidelity.jsonl``) and skip cells already there, so a run cut off
loses nothing and a rerun continues; ``report`` reads the lines back and writes the summary
(``.json`` and ``.csv`` beside it), the frontier plot and a markdown table::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/estimator_fidelity.py zero-cost --cells 200
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/estimator_fidelity.py train --cells 30 \\
        --train epochs=6 --train train_samples=5000
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/estimator_fidelity.py train --cells 30 \\
        --train epochs=12 --train train_samples=5000 --train resolution=16 --shard 0/2 &
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/estimator_fidelity.py train --cells 30 \\
        --train epochs=12 --train train_samples=5000 --train resolution=16 --shard 1/2
    python benchmarks/estimator_fidelity.py report --plot docs/img/estimator_fidelity.png

The zero-cost proxies score the benchmark's own network (``C=16, N=5``, 32x32 input) with one
batch of ``--batch-size`` training images and weights both drawn with ``--seed`` (the same batch
for every cell); a cell's CPU time for a proxy is the shared set-up (building the network,
drawing the batch) plus the proxy's own computation. Training runs ``nb201 -p C=8 -p N=1`` (by
default) with the ``train`` estimator and records its validation accuracy on the dataset's test
split (the row named by the setting), its validation loss and the training-speed estimators
SoTL-E and SoTL of Ru et al. ("Speedy Performance Estimation for Neural Architecture Search",
NeurIPS 2021: the mean minibatch training loss of the last epoch, and of the whole run), each
a row suffixed with its name, plus each one's rank combination with naswot, jacov and both:
one training run, every row. ``--shard K/N`` splits the cells between N processes. The
dataset is the shared ImageFolder copy of CIFAR-10 (JPEG re-encoded: close to, not identical
with, the official pickles).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy and torch

import argparse  # noqa: E402
import contextlib  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "cifar10-jpeg.tar.gz"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "estimator_fidelity.jsonl"
TARGETS = ("cifar10_test_200ep", "cifar10_valid_12ep")
#: What one training run scores a cell by besides its validation accuracy (``train``), each a
#: row of its own; all are losses, so a cell ranks by the negated value. ``sotl_e`` and ``sotl``
#: are the training-speed estimators of Ru et al., "Speedy Performance Estimation for Neural
#: Architecture Search" (NeurIPS 2021): the mean minibatch training loss of the last epoch and
#: of the whole run.
TRAIN_METRICS = ("val_loss", "sotl_e", "sotl")
#: The proxies every training row is rank-combined with (mean rank), alone and together.
TRAIN_COMBOS = (("naswot",), ("jacov",), ("naswot", "jacov"))
#: Published Spearman correlations with CIFAR-10 test accuracy on NAS-Bench-201 (all 15,625
#: cells). The gradient proxies and synflow: Abdelfattah et al.'s released computation of their
#: Table ("Spearman rho of zero-cost proxies on NAS-Bench-201"), SamsungLabs/zero-cost-nas,
#: notebooks/nasbench201_correlations.ipynb (|rho| against the 200-epoch test accuracy of the
#: ``cifar10-valid`` runs, batch 64, seed 42). naswot and the 12-epoch validation as the issue
#: quotes them (Mellor et al.'s repository reports search accuracies, not correlations).
PUBLISHED = {
    "synflow": (0.737, "Abdelfattah et al. 2021 (zero-cost-nas notebook)"),
    "naswot": (0.78, "Mellor et al. 2021, as the issue quotes it"),
    "snip": (0.596, "Abdelfattah et al. 2021 (zero-cost-nas notebook)"),
    "grad_norm": (0.594, "Abdelfattah et al. 2021 (zero-cost-nas notebook)"),
    "fisher": (0.360, "Abdelfattah et al. 2021 (zero-cost-nas notebook)"),
    "jacov": (0.731, "Abdelfattah et al. 2021 (zero-cost-nas notebook)"),
    "valid_12ep": (0.77, "NAS-Bench-201: 12-epoch validation vs 200-epoch test"),
}


def sample_ids(cells: int, seed: int) -> list[int]:
    """``cells`` distinct benchmark ids drawn uniformly with ``seed``."""
    rng = np.random.default_rng(seed)
    return [int(i) for i in rng.choice(15_625, size=cells, replace=False)]


def done_ids(out: Path, setting: str) -> set[int]:
    """Ids already scored under ``setting`` in ``out``."""
    return {r["id"] for r in read_records(out) if r["setting"] == setting}


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
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _pin_torch() -> None:
    import torch

    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):  # already set in this process
        torch.set_num_interop_threads(1)


def zero_cost(args: argparse.Namespace) -> None:
    """Score every sampled cell by every proxy, one JSON line per cell."""
    _pin_torch()
    import torch

    from archspace.estimators import get_estimator
    from archspace.estimators.train import deterministic_mode
    from archspace.estimators.zero_cost import proxies
    from archspace.nn import build_module
    from archspace.spaces import get_space

    params = dict(kv.split("=", 1) for kv in args.zc_param)
    setting = f"zero-cost:b{args.batch_size}:s{args.seed}" + "".join(
        f":{k}={v}" for k, v in params.items())
    names = tuple(n.strip() for n in args.proxies.split(",") if n.strip())
    table = proxies()
    space = get_space("nb201", **{k: int(v) for k, v in params.items()})
    est: Any = get_estimator("synflow", dataset=f"imagefolder:{args.data}", device="cpu",
                             batch_size=args.batch_size)
    est.check_space(space)
    fitted, r = est.adapted(space)
    have = done_ids(args.out, setting)
    todo = [i for i in sample_ids(args.cells, args.sample_seed) if i not in have]
    print(f"{setting}: {len(todo)} cells to score ({len(have)} done)", file=sys.stderr)
    for k, i in enumerate(todo):
        arch = space.from_index(i)
        t0 = time.process_time()
        x, y = est.batch(space, args.seed)
        with deterministic_mode("cpu"):
            torch.manual_seed(args.seed)
            model = build_module(fitted.lower(arch, r))
        setup = time.process_time() - t0
        values: dict[str, float] = {}
        cpu: dict[str, float] = {}
        for n in names:
            t1 = time.process_time()
            if table[n].score is None:
                values[n] = float(getattr(fitted.profile(arch, r), n))
                cpu[n] = time.process_time() - t1
                continue
            with deterministic_mode("cpu"):
                torch.manual_seed(args.seed)
                values[n] = float(table[n].score(model, x, y))  # type: ignore[misc]
            cpu[n] = setup + time.process_time() - t1
        append(args.out, {"setting": setting, "id": i, "arch": space.format_arch(arch),
                          "values": values, "cpu": cpu, "setup_cpu": setup})
        if (k + 1) % 10 == 0:
            print(f"  {k + 1}/{len(todo)}", file=sys.stderr)


def train(args: argparse.Namespace) -> None:
    """Train the first ``--cells`` sampled cells with the ``train`` estimator."""
    _pin_torch()
    from archspace.estimators import get_estimator
    from archspace.spaces import get_space

    options = dict(kv.split("=", 1) for kv in args.train)
    params = dict(kv.split("=", 1) for kv in args.param)
    label = ",".join([*(f"{k}={v}" for k, v in params.items()),
                      *(f"{k}={v}" for k, v in options.items())])
    setting = f"train:{label}:s{args.seed}"
    base = get_space("nb201")
    space = get_space("nb201", **{k: int(v) for k, v in params.items()})
    est = get_estimator("train", dataset=f"imagefolder:{args.data}", device="cpu", **options)
    est.check_space(space)
    have = done_ids(args.out, setting)
    sample = sample_ids(max(args.cells, args.sample_size), args.sample_seed)[:args.cells]
    k, n = args.shard
    todo = [i for i in sample[k::n] if i not in have]
    print(f"{setting}: {len(todo)} cells to train ({len(have)} done)", file=sys.stderr)
    for k, i in enumerate(todo):
        arch = space.validate(base.from_index(i))
        t0 = time.process_time()
        metrics = est.evaluate(space, arch, args.seed)
        cost = time.process_time() - t0
        values = {"train": float(metrics[est.metric]),
                  **{m: float(metrics[m]) for m in TRAIN_METRICS}}
        append(args.out, {"setting": setting, "id": i, "arch": space.format_arch(arch),
                          "values": values, "cpu": dict.fromkeys(values, cost)})
        print(f"  {k + 1}/{len(todo)} {metrics[est.metric]:.2f}% {cost:.1f} CPU-s",
              file=sys.stderr)


def _ranked(v: Sequence[float]) -> np.ndarray:
    return np.array([-math.inf if math.isnan(x) else x for x in v], dtype=float)


def precision_top(pred: np.ndarray, truth: np.ndarray, share: float = 0.1) -> float:
    """The share of the true top ``share`` among the predicted top ``share`` (ties broken by
    order)."""
    k = max(1, round(share * len(pred)))
    top_pred = set(np.argsort(-pred, kind="stable")[:k].tolist())
    top_true = set(np.argsort(-truth, kind="stable")[:k].tolist())
    return len(top_pred & top_true) / k


def correlations(pred: np.ndarray, truth: np.ndarray, boot: int = 2000,
                 seed: int = 0) -> dict[str, float]:
    """Spearman (with a bootstrap 95% interval), Kendall tau-b and the top-10% precision."""
    from scipy.stats import kendalltau, rankdata, spearmanr

    pr, tr = rankdata(pred), rankdata(truth)
    rho = float(spearmanr(pr, tr).statistic)
    lo = hi = math.nan
    if boot:
        idx = np.random.default_rng(seed).integers(0, len(pr), (boot, len(pr)))
        a, b = rankdata(pr[idx], axis=1), rankdata(tr[idx], axis=1)
        a -= a.mean(1, keepdims=True)
        b -= b.mean(1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (a * b).sum(1) / np.sqrt((a * a).sum(1) * (b * b).sum(1))
        r = r[np.isfinite(r)]
        if len(r):
            lo, hi = (float(x) for x in np.percentile(r, [2.5, 97.5]))
    return {"spearman": rho, "spearman_lo": lo, "spearman_hi": hi,
            "kendall": float(kendalltau(pr, tr).statistic),
            "top10_precision": precision_top(pred, truth)}


def _settings(records: Sequence[dict[str, Any]]) -> dict[str, dict[int, dict[str, Any]]]:
    """Per (setting, value name): the cells' values and CPU seconds, by benchmark id. The
    zero-cost setting with the most cells names its proxies plainly, others as
    ``proxy (setting)``."""
    counts: dict[str, int] = {}
    for r in records:
        if r["setting"].startswith("zero-cost"):
            counts[r["setting"]] = counts.get(r["setting"], 0) + 1
    main = max(counts, key=lambda k: counts[k], default=None)
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for r in records:
        prefix = r["setting"]
        for name, value in r["values"].items():
            if not prefix.startswith("zero-cost"):
                # a training run's metrics: the accuracy keeps the setting's name, the others
                # are suffixed and negated (lower loss: higher rank)
                key = prefix if name == "train" else f"{prefix} {name}"
                value = value if name == "train" else -value
            else:
                key = name if prefix == main else f"{name} ({prefix})"
            out.setdefault(key, {})[r["id"]] = {"value": value, "cpu": r["cpu"][name],
                                                "setup": r.get("setup_cpu", 0.0)}
    return out


def _rank_mean(columns: Sequence[np.ndarray]) -> np.ndarray:
    from scipy.stats import rankdata

    return np.mean([rankdata(c) for c in columns], axis=0)


def report(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Correlations of every recorded setting (and a few rank combinations) with the table."""
    from archspace.tabular import load_nb201

    table = load_nb201()
    truth = {t: table.metric(t) for t in TARGETS}
    settings = _settings(read_records(args.out))
    rows: list[dict[str, Any]] = []

    def add(name: str, ids: list[int], pred: np.ndarray, cpu: float | None, kind: str) -> None:
        row: dict[str, Any] = {"setting": name, "kind": kind, "cells": len(ids),
                               "cpu_s_per_cell": cpu}
        for t in TARGETS:
            if name.startswith("valid_12ep") and t == "cifar10_valid_12ep":
                continue
            for k, v in correlations(pred, truth[t][ids]).items():
                row[f"{t}:{k}"] = v
        published = PUBLISHED.get(name.split(" ")[0]) if kind != "same cells" else None
        row["published_spearman"] = published[0] if published else None
        rows.append(row)

    zc_ids: list[int] = []
    for name, cells in settings.items():
        ids = sorted(cells)
        pred = _ranked([cells[i]["value"] for i in ids])
        cpu = float(np.mean([cells[i]["cpu"] for i in ids]))
        kind = "training" if name.startswith("train") else "zero-cost"
        add(name, ids, pred, cpu, kind)
        if name == "synflow":
            zc_ids = ids
    if zc_ids:
        valid = truth["cifar10_valid_12ep"]
        add("valid_12ep", zc_ids, valid[zc_ids], None, "table")
        all_ids = list(range(len(table)))
        row = {"setting": "valid_12ep (all 15,625 cells)", "kind": "table", "cells": len(table),
               "cpu_s_per_cell": None, "published_spearman": PUBLISHED["valid_12ep"][0]}
        row.update({f"cifar10_test_200ep:{k}": v for k, v in
                    correlations(valid, truth["cifar10_test_200ep"][all_ids], boot=0).items()})
        rows.append(row)
        for combo in (("synflow", "naswot"), ("synflow", "jacov"), ("naswot", "jacov"),
                      ("synflow", "naswot", "jacov")):
            if all(c in settings for c in combo):
                pred = _rank_mean([_ranked([settings[c][i]["value"] for i in zc_ids])
                                   for c in combo])
                # one network and batch serve every proxy of the combination
                setup = float(np.mean([settings[combo[0]][i]["setup"] for i in zc_ids]))
                shared = sum(float(np.mean([settings[c][i]["cpu"] for i in zc_ids]))
                             for c in combo) - (len(combo) - 1) * setup
                add("+".join(combo), zc_ids, pred, shared, "zero-cost combination")
    training = [n for n in settings if n.startswith("train") and "synflow" in settings]
    for name in training:
        cells = settings[name]
        for combo in TRAIN_COMBOS:
            ids = sorted(set(cells).intersection(*(settings.get(c, {}) for c in combo)))
            if len(ids) < 5:
                continue
            pred = _rank_mean([_ranked([cells[i]["value"] for i in ids]),
                               *(_ranked([settings[c][i]["value"] for i in ids])
                                 for c in combo)])
            # the proxies of a combination share one network and batch (set-up counted once)
            setup = float(np.mean([settings[combo[0]][i]["setup"] for i in ids]))
            cpu = float(np.mean([cells[i]["cpu"] for i in ids])) + sum(
                float(np.mean([settings[c][i]["cpu"] for i in ids])) for c in combo) \
                - (len(combo) - 1) * setup
            add(f"{name} + {'+'.join(combo)}", ids, pred, cpu, "training combination")
    # the proxies, the table's 12-epoch validation and the other training settings on each
    # training setting's own cells: a small sample's correlation is only comparable with
    # others on the same cells
    seen: set[tuple[int, ...]] = set()
    for name in training:
        ids = sorted(set(settings[name]) & set(zc_ids))
        if len(ids) < 5 or tuple(ids) in seen:
            continue
        seen.add(tuple(ids))
        for proxy in ("naswot", "jacov", "synflow", "params"):
            if proxy in settings:
                pred = _ranked([settings[proxy][i]["value"] for i in ids])
                cpu = float(np.mean([settings[proxy][i]["cpu"] for i in ids]))
                add(f"{proxy} (same {len(ids)} cells)", ids, pred, cpu, "same cells")
        for combo in (("synflow", "jacov"), ("naswot", "jacov")):
            if all(c in settings for c in combo):
                pred = _rank_mean([_ranked([settings[c][i]["value"] for i in ids])
                                   for c in combo])
                add(f"{'+'.join(combo)} (same {len(ids)} cells)", ids, pred, None, "same cells")
        add(f"valid_12ep (same {len(ids)} cells)", ids,
            truth["cifar10_valid_12ep"][ids], None, "same cells")
        for other in training:
            if other.split(" ")[0] != name.split(" ")[0] and set(ids) <= set(settings[other]) \
                    and len(settings[other]) > len(ids):
                pred = _ranked([settings[other][i]["value"] for i in ids])
                cpu = float(np.mean([settings[other][i]["cpu"] for i in ids]))
                add(f"{other} (same {len(ids)} cells)", ids, pred, cpu, "same cells")
    summary = args.out.with_suffix(".json")
    summary.write_text(json.dumps(rows, indent=1) + "\n")
    with args.out.with_suffix(".csv").open("w", newline="") as f:
        keys = list(dict.fromkeys(k for r in rows for k in r))
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    print(markdown(rows))
    if args.plot:
        plot(rows, args.plot)
    return rows


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}f}"


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The summary as a markdown table."""
    t, v = TARGETS
    lines = ["| setting | cells | Spearman test (95% CI) | Kendall test | top-10% test | "
             "Spearman valid-12ep | published Spearman | CPU s/cell |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        ci = (f" ({_fmt(r.get(f'{t}:spearman_lo'))}..{_fmt(r.get(f'{t}:spearman_hi'))})"
              if not math.isnan(r.get(f"{t}:spearman_lo", math.nan)) else "")
        lines.append(f"| {r['setting']} | {r['cells']} | {_fmt(r.get(f'{t}:spearman'))}{ci} | "
                     f"{_fmt(r.get(f'{t}:kendall'))} | {_fmt(r.get(f'{t}:top10_precision'))} | "
                     f"{_fmt(r.get(f'{v}:spearman'))} | {_fmt(r['published_spearman'])} | "
                     f"{_fmt(r['cpu_s_per_cell'], 3)} |")
    return "\n".join(lines)


def _short(setting: str) -> str:
    """A training setting's plot label: ``train:C=8,N=1,epochs=6,train_samples=5000:s0 sotl_e``
    as ``e6,n5000 sotl_e``."""
    if not setting.startswith("train:"):
        return setting
    for long, short in (("train:", ""), ("C=8,N=1,", ""), ("epochs=", "e"),
                        ("train_samples=", "n"), ("resolution=", "r"), (":s0", "")):
        setting = setting.replace(long, short)
    return setting


def plot(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Spearman with the 200-epoch test accuracy against CPU seconds per cell (log scale); rows
    of fewer than 10 cells are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    colours = {"zero-cost": "tab:blue", "zero-cost combination": "tab:cyan",
               "training": "tab:red", "training combination": "tab:orange"}
    for r in rows:
        cpu, rho = r["cpu_s_per_cell"], r.get(f"{TARGETS[0]}:spearman")
        if r["kind"] == "same cells" or r["cells"] < 10:  # a row of a few cells is noise
            continue
        if r["kind"] == "table":
            if r["cells"] < 15_625:
                ax.axhline(rho, color="grey", ls="--", lw=1)
                ax.annotate(f"NB201 valid 12ep ({r['cells']} cells)", (1e-4, rho), fontsize=7,
                            va="bottom", color="grey")
            continue
        cpu = max(cpu, 1e-4)
        ax.scatter(cpu, rho, color=colours.get(r["kind"], "k"), s=18)
        ax.annotate(f"{_short(r['setting'])} ({r['cells']})", (cpu, rho), fontsize=5,
                    xytext=(3, 2), textcoords="offset points")
        if r.get("published_spearman") is not None and r["kind"] == "zero-cost":
            ax.scatter(cpu, r["published_spearman"], marker="x", color="grey", s=14)
    ax.set_xscale("log")
    ax.set_xlim(right=2e3)  # room for the training rows' labels
    ax.set_xlabel("CPU seconds per cell (one thread, log scale)")
    ax.set_ylabel("Spearman vs cifar10_test_200ep")
    ax.set_title("Estimator fidelity on NAS-Bench-201 (CIFAR-10); x: published value")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _shard(text: str) -> tuple[int, int]:
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and 0 <= int(k) < int(n)):
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N with 0 <= K < N")
    return int(k), int(n)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("phase", choices=("zero-cost", "train", "report"))
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CIFAR-10 ImageFolder archive")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON-lines results file")
    p.add_argument("--cells", type=int, default=200, help="cells to score (default 200)")
    p.add_argument("--sample-seed", type=int, default=0, help="seed of the cell sample")
    p.add_argument("--sample-size", type=int, default=200,
                   help="train: take the first --cells of the zero-cost sample of this size")
    p.add_argument("--seed", type=int, default=0, help="seed of batches and weights")
    p.add_argument("--batch-size", type=int, default=64, help="proxy batch size (default 64)")
    p.add_argument("--proxies", default="synflow,naswot,snip,grad_norm,fisher,jacov,params,macs")
    p.add_argument("--train", action="append", default=[], metavar="KEY=VALUE",
                   help="a train estimator option (repeatable; default epochs=6, "
                        "train_samples=5000)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="an nb201 space parameter for training (default C=8, N=1)")
    p.add_argument("--zc-param", action="append", default=[], metavar="KEY=VALUE",
                   help="an nb201 space parameter for the proxies (default: the benchmark's "
                        "network, C=16, N=5)")
    p.add_argument("--shard", type=_shard, default=(0, 1), metavar="K/N",
                   help="train: only the cells at positions K, K+N, ... of the sample (run N "
                        "processes, K=0..N-1, appending to one --out)")
    p.add_argument("--plot", type=Path, help="report: write the frontier plot here")
    args = p.parse_args(argv)
    if args.phase != "report" and not args.data.exists():
        p.error(f"--data {args.data}: no such file; pass the CIFAR-10 ImageFolder archive")
    args.train = args.train or ["epochs=6", "train_samples=5000"]
    args.param = args.param or ["C=8", "N=1"]
    {"zero-cost": zero_cost, "train": train, "report": report}[args.phase](args)


if __name__ == "__main__":
    main()
