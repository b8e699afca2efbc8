"""Is the super-resolution proxy worth anything? Rankings at budget B against 4B.

Cheap proxies rank architectures, they don't reproduce published numbers (EcoNAS, Zhou et al.,
CVPR 2020; UnNAS, Liu et al., ECCV 2020). ``--archs`` seeded samples of the ``trilevel`` space
are trained by the ``superres`` estimator (its defaults: the bundled photographs, x2, 16-pixel
LR patches, 512 training and 64 validation pairs) for ``--epochs`` (B) and for 4B, with the same
weight seed. Reported: Kendall's tau between the two rankings by ``psnr_y`` (the issue's goal:
at least 0.6), the spread of the networks' PSNR against bicubic's on the same patches (the
trivial baseline), and CPU minutes per trial (``time.process_time``, one thread). The first
``--noise`` archs are trained at B again with other weight seeds: the seed-to-seed spread is
the noise floor of one score.

One JSON line per (arch, budget, seed) goes to ``--out`` (default
``benchmarks/results/dense_fidelity_sr.jsonl``); lines already there are skipped, so a run cut
off continues where it stopped; ``report`` prints the summary as markdown::

    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/dense_fidelity_sr.py run --archs 16 \
        --epochs 3 -p channels=8 -e train_patches=256 --shard 0/2   # and --shard 1/2 beside it
    python benchmarks/dense_fidelity_sr.py report --epochs 3

:func:`superres_setup` is this task in the form of ``benchmarks/dense_fidelity.py``'s task
table; :func:`superres_rows` and :func:`summarize` run and summarise it on their own.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy and torch

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "dense_fidelity_sr.jsonl"


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


def superres_setup(epochs: float, channels: int = 8, train_patches: int = 256
                   ) -> tuple[Any, Any, str, str, str]:
    """The super-resolution task in the fields of ``benchmarks/dense_fidelity.py``'s ``Task``
    (space, budget multiplier -> estimator, metric, trivial baseline's metric, setting), so
    that ``Task(*superres_setup(args.epochs))`` adds it to that script's table."""
    from archspace import get_space
    from archspace.estimators import get_estimator

    space = get_space("trilevel", channels=channels)

    def make(mult: int) -> Any:
        return get_estimator("superres", epochs=epochs * mult, train_patches=train_patches,
                             device="cpu", keep="none")

    setting = (f"trilevel(channels={channels}) photos x2 lr_patch=16 {train_patches}/64 pairs "
               f"B={epochs:g} epochs")
    return space, make, "psnr_y", "bicubic_psnr_y", setting


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("phase", choices=("run", "report"))
    ap.add_argument("--archs", type=int, default=20)
    ap.add_argument("--epochs", type=float, default=5.0, help="budget B (4B is also trained)")
    ap.add_argument("--noise", type=int, default=3, help="archs retrained with 2 more seeds")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("-e", action="append", default=[], metavar="K=V",
                    help="more superres options (e.g. lr_patch=12)")
    ap.add_argument("-p", action="append", default=[], metavar="K=V",
                    help="trilevel space parameters (e.g. channels=8)")
    ap.add_argument("--shard", default="0/1", help="I/N: run the archs numbered I modulo N")
    args = ap.parse_args(argv)
    options = dict(kv.split("=", 1) for kv in args.e)
    from archspace.spaces import parse_params

    params = parse_params("trilevel", args.p)
    i, n = (int(v) for v in args.shard.split("/"))
    if args.phase == "run":
        for _ in superres_rows(args.archs, args.epochs, args.noise, args.out, options, params,
                               (i, n)):
            pass
    summary = summarize(list(_done(args.out).values()), args.epochs)
    print(_markdown(summary))
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
