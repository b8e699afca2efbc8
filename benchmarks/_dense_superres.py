"""The ``superres`` task of ``benchmarks/dense_fidelity.py``: is the super-resolution proxy
worth anything? Rankings at budget B against 4B.

Cheap proxies rank architectures, they don't reproduce published numbers (EcoNAS, Zhou et al.,
CVPR 2020; UnNAS, Liu et al., ECCV 2020). ``--archs`` seeded samples of the ``trilevel`` space
(``-p KEY=VALUE`` its parameters) are trained by the ``superres`` estimator (its defaults unless
``-e KEY=VALUE``: the bundled photographs, x2, 16-pixel LR patches, 512 training and 64
validation pairs) for ``--epochs`` (B) and for 4B, with the same weight seed. Reported:
Kendall's tau between the two rankings by ``psnr_y`` (the issue's goal: at least 0.6), the
spread of the networks' PSNR against bicubic's on the same patches (the trivial baseline), and
CPU minutes per trial (``time.process_time``, one thread). The first ``--noise`` archs are
trained at B again with weight seeds 1 and 2: the seed-to-seed spread is the noise floor of one
score.

One JSON line per (arch, budget, seed) goes to ``--out`` (default
``benchmarks/results/dense_fidelity_sr.jsonl``); lines already there are skipped, so a run cut
off continues where it stopped. :func:`superres_rows` and :func:`summarize` run and summarise
it as functions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "results" / "dense_fidelity_sr.jsonl"
#: B in epochs when --epochs is not given (the estimator's default)
EPOCHS = 5.0


def _done(out: Path) -> dict[tuple[int, float, int], dict[str, Any]]:
    rows: dict[tuple[int, float, int], dict[str, Any]] = {}
    if out.is_file():
        for line in out.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                rows[(r["arch_seed"], r["epochs"], r["seed"])] = r
    return rows


def superres_rows(archs: int, epochs: float, noise: int, out: Path,
                  options: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
                  shard: tuple[int, int] = (0, 1)) -> Iterator[dict[str, Any]]:
    """Train each (arch, budget, seed) not yet in ``out`` (of the archs numbered ``shard[0]``
    modulo ``shard[1]``: shards run as separate processes), appending its row; yields every
    row of the shard."""
    import torch

    from archspace import get_space
    from archspace.estimators import get_estimator

    torch.set_num_threads(1)
    space = get_space("trilevel", **(params or {}))
    est = get_estimator("superres", device="cpu", **(options or {}))
    est.check_space(space)
    done = _done(out)
    jobs = [(a, e, 0) for a in range(archs) for e in (epochs, 4 * epochs)]
    jobs += [(a, epochs, s) for a in range(min(noise, archs)) for s in (1, 2)]
    out.parent.mkdir(parents=True, exist_ok=True)
    for a, e, s in (j for j in jobs if j[0] % shard[1] == shard[0]):
        if (a, e, s) in done:
            yield done[(a, e, s)]
            continue
        arch = space.sample(a)
        est_e = get_estimator("superres", device="cpu", **{**(options or {}), "epochs": e})
        t0 = time.process_time()
        m = est_e.evaluate(space, arch, s)
        row = {"arch_seed": a, "epochs": e, "seed": s, "arch": space.format_arch(arch),
               "cpu_seconds": time.process_time() - t0,
               **{k: m[k] for k in ("psnr_y", "ssim_y", "psnr_gain", "bicubic_psnr_y",
                                    "bicubic_ssim_y", "params", "macs", "steps")}}
        with out.open("a") as f:
            f.write(json.dumps(row) + "\n")
        print(f"arch {a} epochs {e:g} seed {s}: psnr_y {row['psnr_y']:.3f} "
              f"(gain {row['psnr_gain']:+.3f}) in {row['cpu_seconds']:.1f} s", flush=True)
        yield row


def summarize(rows: list[dict[str, Any]], epochs: float) -> dict[str, Any]:
    """Kendall's tau between budgets, PSNR spread against bicubic, CPU minutes per trial and the
    seed-to-seed noise floor."""
    from scipy.stats import kendalltau

    low = {r["arch_seed"]: r for r in rows if r["epochs"] == epochs and r["seed"] == 0}
    high = {r["arch_seed"]: r for r in rows if r["epochs"] == 4 * epochs and r["seed"] == 0}
    both = sorted(low.keys() & high.keys())
    tau = kendalltau([low[a]["psnr_y"] for a in both], [high[a]["psnr_y"] for a in both])
    bic = low[both[0]]["bicubic_psnr_y"] if both else float("nan")

    def spread(table: dict[int, dict[str, Any]]) -> dict[str, float]:
        gains = [table[a]["psnr_gain"] for a in both]
        return {"min_gain": min(gains), "median_gain": statistics.median(gains),
                "max_gain": max(gains), "std_gain": statistics.pstdev(gains),
                "beats_bicubic": sum(g > 0 for g in gains),
                "cpu_minutes_per_trial": statistics.mean(table[a]["cpu_seconds"]
                                                         for a in both) / 60}

    noise = []
    for a in {r["arch_seed"] for r in rows if r["seed"] > 0}:
        scores = [r["psnr_y"] for r in rows if r["arch_seed"] == a and r["epochs"] == epochs]
        if len(scores) > 1:
            noise.append(statistics.pstdev(scores))
    return {"archs": len(both), "epochs_B": epochs, "kendall_tau": float(tau.statistic),
            "kendall_p": float(tau.pvalue), "bicubic_psnr_y": bic, "B": spread(low),
            "4B": spread(high),
            "seed_std_psnr": statistics.mean(noise) if noise else None}


def _markdown(s: dict[str, Any]) -> str:
    lines = [f"archs: {s['archs']}, B = {s['epochs_B']:g} epochs, Kendall tau(B, 4B) = "
             f"{s['kendall_tau']:.3f} (p = {s['kendall_p']:.2g}); bicubic PSNR_Y "
             f"{s['bicubic_psnr_y']:.3f} dB; seed-to-seed std of PSNR_Y at B: "
             + (f"{s['seed_std_psnr']:.3f} dB" if s["seed_std_psnr"] is not None else "n/a"),
             "", "| budget | PSNR gain over bicubic (dB): min / median / max | std | beat bicubic "
             "| CPU min / trial |", "|---|---|---|---|---|"]
    for b in ("B", "4B"):
        v = s[b]
        lines.append(f"| {b} | {v['min_gain']:+.3f} / {v['median_gain']:+.3f} / "
                     f"{v['max_gain']:+.3f} | {v['std_gain']:.3f} | {v['beats_bicubic']} of "
                     f"{s['archs']} | {v['cpu_minutes_per_trial']:.2f} |")
    return "\n".join(lines)


def _parse(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any], tuple[int, int]]:
    from archspace.spaces import parse_params

    options = dict(kv.split("=", 1) for kv in args.option)
    i, n = (int(v) for v in (args.shard or "0/1").split("/"))
    return options, parse_params("trilevel", args.param), (i, n)


def run(args: argparse.Namespace) -> None:
    """Train what ``--out`` lacks, then print the summary (:func:`report`)."""
    options, params, shard = _parse(args)
    for _ in superres_rows(args.archs, args.epochs, args.noise, Path(args.out), options, params,
                           shard):
        pass
    report(args)


def report(args: argparse.Namespace) -> None:
    """Print the summary of ``--out`` at B = ``--epochs`` as markdown and write it beside the
    lines (``.json``)."""
    out = Path(args.out)
    summary = summarize(list(_done(out).values()), args.epochs)
    print(_markdown(summary))
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
