"""Training throughput: the ``train`` estimator's loop against a plain PyTorch loop.

Both loops train the *same* built model (reset to the same initial weights before every run) on
the same in-memory data, with the same batch size and optimiser; the plain loop is the textbook
one (randperm, index, forward, cross-entropy, zero_grad, backward, SGD step, CosineAnnealingLR
step). Runs alternate between the two loops, and the best (minimum) per-step times are compared:
other processes on a shared machine only ever add time, so the minimum is the stable estimate.
On a busy machine, ``--clock cpu --threads 1`` times the process's CPU time instead of the wall
clock, which other processes barely disturb. The goal is an overhead under 5%.

    python benchmarks/train_throughput.py                      # the default configurations
    python benchmarks/train_throughput.py --clock cpu --threads 1 --core 0  # a shared CPU machine
    python benchmarks/train_throughput.py --space mobilenetv2 --param width=1.0 --batch-size 128
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archspace.datasets import load_dataset
from archspace.estimators.loop import fit, make_optimizer
from archspace.estimators.train import deterministic_mode
from archspace.spaces import get_space, parse_params

LR, WD, MOMENTUM = 0.05, 5e-4, 0.9
#: The clock runs are timed with (``--clock``).
CLOCK: Callable[[], float] = time.perf_counter


@dataclass(frozen=True)
class Config:
    """One benchmark row: a space (with parameters), an arch, a resolution and a batch size."""

    space: str
    params: tuple[str, ...]
    resolution: int
    batch_size: int
    arch: str = "sample0"  # "sample<N>" or a named arch of the space


PROBE = "probe"
DEFAULTS = (
    Config(PROBE, (), 8, 8, "Flatten+Linear"),
    Config("mobilenetv2", ("width=0.35",), 32, 64),
    Config("mobilenetv2", ("width=0.35",), 32, 8),
    Config("nb201", ("C=8", "N=1"), 16, 64, "resnet"),
    Config("nb201", ("C=8", "N=1"), 8, 8, "resnet"),
)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def plain_loop(model: nn.Module, x: Tensor, y: Tensor, bs: int, steps: int,
               gen: torch.Generator) -> float:
    """The reference: a plain PyTorch loop; returns seconds for ``steps`` steps."""
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WD,
                          nesterov=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    model.train()
    n = x.shape[0]
    step = 0
    _sync(x.device)
    t0 = CLOCK()
    while step < steps:
        perm = torch.randperm(n, generator=gen).to(x.device)
        for b in range(n // bs):
            if step >= steps:
                break
            idx = perm[b * bs:(b + 1) * bs]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
    _sync(x.device)
    return CLOCK() - t0


def archspace_loop(model: nn.Module, x: Tensor, y: Tensor, bs: int, steps: int,
                   gen: torch.Generator) -> float:
    """The estimator's loop (:func:`archspace.estimators.loop.fit`) for ``steps`` steps, in the
    estimator's deterministic mode."""
    opt = make_optimizer(model, "sgd", LR, WD, MOMENTUM)
    _sync(x.device)
    t0 = CLOCK()
    with deterministic_mode(str(x.device)):
        res = fit(model, x, y, opt, bs, steps / (x.shape[0] // bs), None, gen)
    _sync(x.device)
    assert res.steps == steps
    return CLOCK() - t0


def _model(cfg: Config, device: str) -> tuple[nn.Module, int]:
    """The configuration's model and its input channels; the ``probe`` is one linear layer, so
    its step time is almost all loop overhead."""
    torch.manual_seed(0)
    if cfg.space == PROBE:
        return nn.Sequential(nn.Flatten(), nn.Linear(cfg.resolution ** 2, 10)).to(device), 1
    space = get_space(cfg.space, **parse_params(cfg.space, list(cfg.params)), num_classes=10)
    arch = space.sample(int(cfg.arch[6:])) if cfg.arch.startswith("sample") else space.named(cfg.arch)
    return space.build(arch, cfg.resolution).to(device), space.in_channels


def measure(cfg: Config, steps: int, repeats: int, device: str) -> dict[str, float]:
    """Best seconds per step of both loops on one configuration."""
    model, channels = _model(cfg, device)
    data = load_dataset("digits", cfg.resolution, channels, device)
    steps = steps * 20 if cfg.space == PROBE else steps
    init = copy.deepcopy(model.state_dict())
    loops: dict[str, Callable[..., float]] = {"plain": plain_loop, "archspace": archspace_loop}
    times: dict[str, list[float]] = {k: [] for k in loops}
    for r in range(repeats + 1):  # the first round warms up and is dropped
        order = list(loops) if r % 2 == 0 else list(reversed(loops))
        for name in order:
            model.load_state_dict(init)
            gen = torch.Generator().manual_seed(r)
            t = loops[name](model, data.x_train, data.y_train, cfg.batch_size, steps, gen)
            if r > 0:
                times[name].append(t / steps)
    plain, ours = min(times["plain"]), min(times["archspace"])
    return {"plain_ms": 1e3 * plain, "archspace_ms": 1e3 * ours,
            "overhead_pct": 100.0 * (ours / plain - 1.0),
            "images_per_s": cfg.batch_size / ours}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", help=f"a catalog space, or {PROBE!r} (one linear layer)")
    ap.add_argument("--param", action="append", default=[], help="space parameter K=V")
    ap.add_argument("--resolution", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--arch", default="sample0")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument("--core", type=int, default=None, help="pin the process to this CPU core")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall: perf_counter; cpu: this process's CPU time (busy machines)")
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.core is not None:
        os.sched_setaffinity(0, {args.core})
    configs = DEFAULTS if args.space is None else (
        Config(args.space, tuple(args.param), args.resolution, args.batch_size, args.arch),)
    print(f"device={args.device} threads={torch.get_num_threads()} torch={torch.__version__} "
          f"steps={args.steps} repeats={args.repeats} clock={args.clock}\n")
    print("| model | arch | res | batch | plain ms/step | archspace ms/step | overhead | img/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for cfg in configs:
        m = measure(cfg, args.steps, args.repeats, args.device)
        label = cfg.space + (f"({','.join(cfg.params)})" if cfg.params else "")
        print(f"| {label} | {cfg.arch} | {cfg.resolution} | {cfg.batch_size} | "
              f"{m['plain_ms']:.3f} | {m['archspace_ms']:.3f} | {m['overhead_pct']:+.1f}% | "
              f"{m['images_per_s']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
