"""Pilot of ``oneshot_fidelity.py``: how the ranking of NAS-Bench-201 cells by inherited
weights changes while an SPOS supernet trains.

The same pieces as :func:`archspace.supernet.train.train_supernet` (``nb201 -p C=8 -p N=1``,
a class-balanced subset of the shared CIFAR-10 copy, SGD with Nesterov momentum, per-step
cosine, flip-crop; uniform single-path sampling, Guo et al. ECCV 2020) in a loop of its own
that scores the first ``--cells`` cells of the benchmark's seeded sample ``--evals`` times
during training (batch norm recalibrated on ``--bn-batches`` training batches, as the
``oneshot`` estimator does, on a fixed subset of ``--val-samples`` test images), so one run
shows the trend. Kendall tau-b of the accuracy and of the (negated) test loss against the
table's ``cifar10_test_200ep``. CPU seconds are ``time.process_time`` with one thread,
training steps only. ``--sandwich LRR`` trains the largest (L), smallest (S) and random (R)
paths every step (the sandwich rule, Yu et al., BigNAS, ECCV 2020); ``--affine-free`` and
``--sampler`` are the supernet options ``searched_bn_affine=false`` and ``sampler``. Appends
one JSON line per evaluation to ``--out``::

    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/oneshot_pilot.py --resolution 16 --epochs 60
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy and torch

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from oneshot_fidelity import DEFAULT_DATA, TARGET, correlations, sample_ids  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "oneshot_pilot.jsonl"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--resolution", type=int, default=16)
    p.add_argument("--epochs", type=float, default=60)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--train-samples", type=int, default=5000)
    p.add_argument("--cells", type=int, default=30)
    p.add_argument("--evals", type=int, default=4)
    p.add_argument("--bn-batches", type=int, default=4)
    p.add_argument("--val-samples", type=int, default=1000)
    p.add_argument("--sandwich", default="", help="paths per step, e.g. LRR (largest, random, "
                   "random); default one random path")
    p.add_argument("--affine-free", action="store_true", help="affine-free batch norm in the "
                   "searched ops (the supernet option searched_bn_affine=false)")
    p.add_argument("--sampler", choices=("uniform", "connected", "fair"), default="uniform",
                   help="how the random paths are drawn (the supernet option sampler)")
    a = p.parse_args()
    if not a.data.exists():
        p.exit(2, f"archspace: error: no dataset at {a.data}; allowed: the shared "
                  "cifar10-jpeg.tar.gz (--data PATH)\n")
    if set(a.sandwich) - set("LSR"):
        p.exit(2, f"archspace: error: --sandwich {a.sandwich!r}; allowed: letters L, S, R\n")

    import torch
    import torch.nn.functional as F

    from archspace.datasets import prepared
    from archspace.estimators.augment import augmentation
    from archspace.estimators.loop import make_optimizer
    from archspace.spaces import get_space
    from archspace.supernet import build_supernet
    from archspace.supernet.sampling import path_sampler
    from archspace.supernet.train import (
        SupernetTrainer,
        _calibration_images,
        _lr,
        evaluate_path,
        extremes,
    )
    from archspace.tabular import load_nb201

    torch.set_num_threads(1)
    space, bench = get_space("nb201", C=8, N=1), get_space("nb201")
    truth = load_nb201().metric(TARGET)
    ids = sample_ids(a.cells, 0)
    archs = [space.validate(bench.from_index(i)) for i in ids]
    true = [float(truth[i]) for i in ids]
    tr = SupernetTrainer(dataset=f"imagefolder:{a.data}", device="cpu", epochs=a.epochs,
                         train_samples=a.train_samples, batch_size=a.batch_size,
                         resolution=a.resolution)
    fitted, r = tr.adapted(space)
    native = tr.native_dataset()
    data = prepared(native, r, fitted.in_channels, "cpu")
    x, y = tr._train_split(data)
    pick = torch.randperm(int(data.x_val.shape[0]),
                          generator=torch.Generator().manual_seed(0))[:a.val_samples]
    xv, yv = data.x_val[pick], data.y_val[pick]
    torch.manual_seed(0)
    sn = build_supernet(fitted, r, searched_bn_affine=not a.affine_free)
    opt = make_optimizer(sn, "sgd", a.lr, 5e-4, 0.9)
    augment = augmentation("auto", native.in_channels, r, data.mean, data.std)
    n = int(x.shape[0])
    per = n // a.batch_size
    total = math.ceil(a.epochs * per)
    calib = _calibration_images(x, a.bn_batches * a.batch_size, 0)
    gen = torch.Generator().manual_seed(0)
    big, small = extremes(sn)
    draw = path_sampler(sn, a.sampler, 0)
    marks = {round(total * (k + 1) / a.evals) for k in range(a.evals)}
    train_cpu, loss_sum, last, perm = 0.0, 0.0, 0, None
    for step in range(total):
        t0 = time.process_time()
        b = step % per
        if b == 0 or perm is None:
            perm = torch.randperm(n, generator=gen)
        for g in opt.param_groups:
            g["lr"] = _lr(a.lr, step / total)
        idx = perm[b * a.batch_size:(b + 1) * a.batch_size]
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        if augment is not None:
            xb = augment(xb, gen)
        rand = iter(draw(step, a.sandwich.count("R") if a.sandwich else 1))
        paths = [{"L": big, "S": small}.get(c) or next(rand) for c in a.sandwich] \
            if a.sandwich else list(rand)
        sn.train()
        opt.zero_grad(set_to_none=True)
        for arch in paths:
            sn.activate(arch)
            loss = F.cross_entropy(sn(xb), yb)
            loss.backward()
            loss_sum += float(loss.detach()) / len(paths)
        opt.step()
        train_cpu += time.process_time() - t0
        if step + 1 not in marks:
            continue
        t0 = time.process_time()
        scores = [evaluate_path(sn, arch, calib, xv, yv, a.bn_batches, a.batch_size)
                  for arch in archs]
        per_cell = (time.process_time() - t0) / len(archs)
        by_acc = correlations([s[0] for s in scores], true)
        by_loss = correlations([-s[1] for s in scores], true)
        rec = {"options": {k: os.path.relpath(v, ROOT) if isinstance(v, Path) else v
                           for k, v in vars(a).items()},
               "step": step + 1, "epoch": (step + 1) / per, "train_cpu_s": train_cpu,
               "train_loss": loss_sum / (step + 1 - last), "score_cpu_s_per_cell": per_cell,
               "kendall_acc": by_acc["kendall"], "kendall_loss": by_loss["kendall"],
               "spearman_acc": by_acc["spearman"], "spearman_loss": by_loss["spearman"],
               "ids": ids, "accs": [s[0] for s in scores], "losses": [s[1] for s in scores]}
        a.out.parent.mkdir(parents=True, exist_ok=True)
        with a.out.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        loss_sum, last = 0.0, step + 1
        print(f"epoch {rec['epoch']:.1f}: train {train_cpu:.0f} CPU-s, loss "
              f"{rec['train_loss']:.3f}; Kendall acc {by_acc['kendall']:.3f}, loss "
              f"{by_loss['kendall']:.3f} ({per_cell:.2f} CPU-s/cell)", flush=True)


if __name__ == "__main__":
    main()
