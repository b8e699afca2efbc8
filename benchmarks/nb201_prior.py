"""Zero-cost priors for ``guided`` on NAS-Bench-201: queries saved, proxy compute spent.

The NATS-Bench protocol of ``nb201_strategies.py`` (search on ``cifar10_valid_12ep``, report
``cifar10_test_200ep`` of the best-by-validation cell among the first b queries), for ``guided``
with and without ``prior=...`` (Abdelfattah et al., ICLR 2021, zero-cost warm-up). The proxy
scores the benchmark's network exactly as a study with ``--estimator nasbench201`` does
(:class:`archspace.estimators.prior.ProxyPrior`: the bundled digits resized to 32x32, seed 0;
SynFlow uses only the input shape). Each seed's proxy compute is reported in CPU seconds
(``time.process_time``, one thread) beside its query count.

Scores are cached on disk across runs, by benchmark id, with the CPU seconds each took
(``--cache``, default under the user cache directory): the benchmark only, so that 40 seeds do
not recompute the same cells. A seed's reported proxy seconds are the recorded seconds of every
cell it scored, what the seed costs without the cache. ``fill`` scores every cell ahead (it
appends and resumes)::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/nb201_prior.py fill --prior synflow
    python benchmarks/nb201_prior.py run --seeds 40 \\
        --strategies guided,guided:prior=synflow:prior_weight=0,guided:prior=synflow

A spec takes the strategy's own defaults for what it leaves out: ``guided:prior=synflow`` is the
blend of the proxy's and the surrogate's ranks when choosing neighbours (``prior_weight=0.5``, the
default with a prior), ``guided:prior=synflow:prior_weight=0`` the warm-up only.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from archspace.estimators.prior import ProxyPrior, parse_prior  # noqa: E402
from archspace.space import Arch, Space  # noqa: E402

SEARCH, REPORT = "cifar10_valid_12ep", "cifar10_test_200ep"
BUDGETS = (10, 25, 50, 100)


def default_cache() -> Path:
    from archspace.datasets.cache import cache_dir

    return cache_dir() / "benchmarks"


class CachedPrior(ProxyPrior):
    """A :class:`ProxyPrior` whose per-cell scores persist in a JSON-lines file by benchmark
    id (``{"id": i, "values": {...}, "cpu": seconds}``)."""

    def __init__(self, names: Sequence[str], space: Space, path: Path, **options: Any) -> None:
        super().__init__(names, space, **options)
        self.path = path
        self.cache: dict[int, tuple[dict[str, float], float]] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a kill
                self.cache[int(r["id"])] = (r["values"], float(r["cpu"]))

    def compute(self, arch: Arch) -> tuple[dict[str, float], float]:
        i = self.space.index_of(arch)
        hit = self.cache.get(i)
        if hit is None or any(n not in hit[0] for n in self.names):
            values, cpu = super().compute(arch)
            hit = self.cache[i] = (values, cpu)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as f:
                f.write(json.dumps({"id": i, "values": values, "cpu": cpu}) + "\n")
        return {n: hit[0][n] for n in self.names}, hit[1]


def cache_path(cache: Path, prior: str) -> Path:
    return cache / f"nb201_prior_{prior}.jsonl"


def make_prior(prior: str, space: Space, cache: Path) -> CachedPrior:
    names = parse_prior(prior)
    base = ProxyPrior.for_estimator(names, space, None)
    return CachedPrior(names, space, cache_path(cache, prior), **base.options)


def fill(args: argparse.Namespace) -> None:
    """Score every cell of the benchmark (resumable)."""
    import torch

    from archspace.spaces import get_space

    torch.set_num_threads(1)
    space = get_space("nb201")
    prior = make_prior(args.prior, space, args.cache)
    todo = [i for i in range(15_625) if i not in prior.cache]
    print(f"{len(todo)} cells to score", file=sys.stderr)
    for k, i in enumerate(todo):
        prior.values(space.from_index(i))
        if (k + 1) % 500 == 0:
            print(f"  {k + 1}/{len(todo)} {prior.cpu_seconds:.0f} CPU-s", file=sys.stderr)


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"guided:prior=synflow:prior_pool=200"`` -> ``("guided", {...})``."""
    name, *pairs = spec.split(":")
    return name, dict(p.split("=", 1) for p in pairs if "=" in p)


def run_one(spec: str, seed: int, budget: int, cache: Path) -> dict[str, Any]:
    """One search: reported accuracy at each budget, proxy evaluations and CPU seconds."""
    from archspace.spaces import get_space
    from archspace.strategies import get_strategy
    from archspace.tabular import load_nb201

    space = get_space("nb201")
    table = load_nb201()
    search, report = table.metric(SEARCH), table.metric(REPORT)
    name, options = parse_spec(spec)
    strategy: Any = get_strategy(name, space, seed=seed, **options)
    prior = None
    if getattr(strategy, "prior_names", ()):
        prior = make_prior("+".join(strategy.prior_names), space, cache)
        strategy.use_prior(prior)
    best_val, best_id, acc = -1.0, -1, []
    for n in range(1, budget + 1):
        arch = strategy.ask()
        i = space.index_of(arch)
        value = float(search[i])
        strategy.tell(arch, value, (value,))
        if value > best_val:
            best_val, best_id = value, i
        if n in BUDGETS:
            acc.append(float(report[best_id]))
    return {"spec": spec, "seed": seed, "acc": acc,
            "prior_evaluations": prior.evaluations if prior else 0,
            "prior_cpu_seconds": prior.cpu_seconds if prior else 0.0}


def markdown(rows: dict[str, list[dict[str, Any]]], budget: int) -> str:
    budgets = [b for b in BUDGETS if b <= budget]
    lines = ["| strategy | seeds | " + " | ".join(f"{b} queries" for b in budgets)
             + " | proxy evaluations / seed | proxy CPU s / seed |",
             "|" + " --- |" * (len(budgets) + 4)]
    for spec, runs in rows.items():
        acc = np.array([r["acc"] for r in runs])
        cells = " | ".join(f"{m:.2f} ± {s:.2f}" for m, s in zip(acc.mean(0), acc.std(0),
                                                                 strict=True))
        ev = np.mean([r["prior_evaluations"] for r in runs])
        cpu = np.mean([r["prior_cpu_seconds"] for r in runs])
        lines.append(f"| {spec} | {len(runs)} | {cells} | {ev:.0f} | {cpu:.1f} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    specs = [s.strip() for s in args.strategies.split(",") if s.strip()]
    rows: dict[str, list[dict[str, Any]]] = {}
    t0 = time.time()
    for spec in specs:
        rows[spec] = [run_one(spec, args.seed_offset + s, args.budget, args.cache)
                      for s in range(args.seeds)]
        print(f"  {spec}: {time.time() - t0:.0f}s", file=sys.stderr)
    print(markdown(rows, args.budget))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("phase", choices=("fill", "run"))
    p.add_argument("--prior", default="synflow", help="fill: the prior to score every cell by")
    p.add_argument("--strategies", default="guided,guided:prior=synflow",
                   help="comma-separated NAME[:KEY=VALUE...] specs")
    p.add_argument("--seeds", type=int, default=40)
    p.add_argument("--seed-offset", type=int, default=0)
    p.add_argument("--budget", type=int, default=50)
    p.add_argument("--cache", type=Path, default=default_cache(), help="score cache folder")
    p.add_argument("--json", help="also write the per-seed results here")
    args = p.parse_args(argv)
    {"fill": fill, "run": run}[args.phase](args)


if __name__ == "__main__":
    main()
