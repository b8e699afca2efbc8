"""Search strategies on NAS-Bench-201: the NATS-Bench protocol, many seeds, several budgets.

Each strategy searches the 15,625-cell space on ``cifar10_valid_12ep`` (the only column it ever
sees, and only for the cells it asks for); after b queries we report ``cifar10_test_200ep`` of
the best-by-validation cell among the first b (the oracle is 94.37). Every ask counts as a query,
repeats included. Mean and standard deviation over seeds, one row per strategy.

    python benchmarks/nb201_strategies.py                      # every strategy, 100 seeds
    python benchmarks/nb201_strategies.py --strategies guided,local --seeds 20
    python benchmarks/nb201_strategies.py --overhead           # per-trial cost vs Optuna
    python benchmarks/nb201_strategies.py --strategies local:distinct=true,guided:distinct=false

``--seeds-for reinforce=30`` runs fewer seeds for a slow strategy (the table says so).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy: one BLAS thread per worker

import argparse
import json
import multiprocessing as mp
import sqlite3
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

SEARCH, REPORT = "cifar10_valid_12ep", "cifar10_test_200ep"
BUDGETS = (25, 50, 100, 150, 300)
_TABLE: dict[str, Any] = {}


def _table() -> dict[str, Any]:
    """Space, ids of every cell (by choice-index code) and the two metric columns, per process."""
    if not _TABLE:
        from archspace.spaces import get_space
        from archspace.tabular import load_nb201

        space, table = get_space("nb201"), load_nb201()
        _TABLE.update(space=space, table=table, search=table.metric(SEARCH),
                      report=table.metric(REPORT))
    return _TABLE


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"local:distinct=true:init=5"`` -> ``("local", {"distinct": "true", "init": "5"})``."""
    name, *pairs = spec.split(":")
    return name, dict(p.split("=", 1) for p in pairs if "=" in p)


def run_one(job: tuple[str, int, int]) -> tuple[str, int, list[float], float]:
    """One search: (strategy spec, seed, budget) -> the reported accuracy at each budget of
    BUDGETS up to ``budget``, and the seconds the strategy itself spent (ask + tell)."""
    from archspace.strategies import get_strategy

    spec, seed, budget = job
    t = _table()
    space, search, report = t["space"], t["search"], t["report"]
    name, options = parse_spec(spec)
    strategy = get_strategy(name, space, seed=seed, **options)
    best_val, best_id, out, spent = -1.0, -1, [], 0.0
    for n in range(1, budget + 1):
        t0 = time.perf_counter()
        arch = strategy.ask()
        spent += time.perf_counter() - t0
        i = space.index_of(arch)
        value = float(search[i])
        t0 = time.perf_counter()
        strategy.tell(arch, value, (value,))
        spent += time.perf_counter() - t0
        if value > best_val:
            best_val, best_id = value, i
        if n in BUDGETS:
            out.append(float(report[best_id]))
    return spec, seed, out, spent


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def benchmark(names: Sequence[str], seeds: dict[str, int], budget: int, processes: int,
              seed_offset: int) -> dict[str, dict[str, Any]]:
    """Run every (strategy, seed) job on a process pool; per strategy: accuracies and timing."""
    jobs = [(n, seed_offset + s, budget) for n in names for s in range(seeds[n])]
    results: dict[str, dict[str, Any]] = {n: {"acc": [], "seconds": 0.0} for n in names}
    start = time.time()
    with mp.get_context("fork").Pool(processes, initializer=_init_worker) as pool:
        for k, (name, _, acc, spent) in enumerate(pool.imap_unordered(run_one, jobs, chunksize=1)):
            results[name]["acc"].append(acc)
            results[name]["seconds"] += spent
            if (k + 1) % 50 == 0:
                print(f"  {k + 1}/{len(jobs)} runs, {time.time() - start:.0f}s", file=sys.stderr)
    for name, r in results.items():
        r["seeds"] = seeds[name]
        r["ms_per_trial"] = 1000 * r["seconds"] / (seeds[name] * budget)
    return results


def markdown(results: dict[str, dict[str, Any]], budget: int) -> str:
    """The results as a markdown table: mean ± std of the reported accuracy per budget."""
    budgets = [b for b in BUDGETS if b <= budget]
    head = "| strategy | seeds | " + " | ".join(f"{b} queries" for b in budgets) + " | ms/trial |"
    lines = [head, "|" + " --- |" * (len(budgets) + 3)]
    for name, r in results.items():
        acc = np.array(r["acc"])
        cells = " | ".join(f"{m:.2f} ± {s:.2f}" for m, s in zip(acc.mean(0), acc.std(0), strict=True))
        lines.append(f"| {name} | {r['seeds']} | {cells} | {r['ms_per_trial']:.2f} |")
    return "\n".join(lines)


def overhead(trials: int = 300, repeats: int = 5) -> str:
    """Per-trial cost of archspace's ask + tell (with and without an in-memory SQLite insert)
    against Optuna's ``study.optimize`` on the same tabular objective."""
    import optuna

    from archspace.strategies import get_strategy

    t = _table()
    space, search = t["space"], t["search"]
    rows = []

    def ours(name: str, with_sql: bool) -> float:
        best = float("inf")
        for rep in range(repeats):
            db = sqlite3.connect(":memory:")
            db.execute("CREATE TABLE trials (number INTEGER, arch TEXT, score REAL)")
            strategy = get_strategy(name, space, seed=rep)
            t0 = time.perf_counter()
            for n in range(trials):
                arch = strategy.ask()
                value = float(search[space.index_of(arch)])
                strategy.tell(arch, value, (value,))
                if with_sql:
                    with db:
                        db.execute("INSERT INTO trials VALUES (?, ?, ?)",
                                   (n, space.format_arch(arch), value))
            best = min(best, time.perf_counter() - t0)
        return 1000 * best / trials

    def optuna_optimize(sampler: str) -> float:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        names = space.names
        choices = [d.choices for d in space.decisions]

        def objective(trial: optuna.Trial) -> float:
            vals = tuple(trial.suggest_categorical(n, c) for n, c in zip(names, choices, strict=True))
            from archspace.space import Arch

            return float(search[space.index_of(Arch(names, vals))])

        best = float("inf")
        for rep in range(repeats):
            smp = (optuna.samplers.RandomSampler(seed=rep) if sampler == "random"
                   else optuna.samplers.TPESampler(seed=rep))
            study = optuna.create_study(direction="maximize", sampler=smp)
            t0 = time.perf_counter()
            study.optimize(objective, n_trials=trials)
            best = min(best, time.perf_counter() - t0)
        return 1000 * best / trials

    for name in ("random", "evolution", "local", "guided"):
        rows.append((f"archspace {name}: ask + tell", ours(name, False)))
        rows.append((f"archspace {name}: ask + tell + SQLite insert", ours(name, True)))
    rows.append(("optuna RandomSampler: study.optimize", optuna_optimize("random")))
    rows.append(("optuna TPESampler: study.optimize", optuna_optimize("tpe")))
    lines = [f"| loop ({trials} trials, best of {repeats}) | ms per trial |", "| --- | --- |"]
    lines += [f"| {what} | {ms:.3f} |" for what, ms in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    from archspace.strategies import STRATEGIES

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--strategies", default=",".join(STRATEGIES),
                   help="comma-separated strategy names, each optionally with options as "
                        "NAME:KEY=VALUE[:KEY=VALUE] (default: all, default options)")
    p.add_argument("--seeds", type=int, default=100, help="seeds per strategy (default 100)")
    p.add_argument("--seeds-for", action="append", default=[], metavar="NAME=N",
                   help="fewer seeds for one strategy, e.g. reinforce=30 (repeatable)")
    p.add_argument("--seed-offset", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--budget", type=int, default=max(BUDGETS), help="largest budget (default 300)")
    p.add_argument("--processes", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    p.add_argument("--overhead", action="store_true", help="measure per-trial overhead instead")
    args = p.parse_args(argv)
    if args.overhead:
        print(overhead())
        return
    names = [n.strip() for n in args.strategies.split(",") if n.strip()]
    from archspace.errors import ArchspaceError
    from archspace.strategies import get_strategy

    for spec in names:  # an unknown strategy or option fails here, not in a worker
        name, options = parse_spec(spec)
        try:
            get_strategy(name, _table()["space"], **options)
        except ArchspaceError as e:
            p.error(f"{spec}: {e}")
    seeds = dict.fromkeys(names, args.seeds)
    for pair in args.seeds_for:
        name, _, n = pair.partition("=")
        if name not in seeds or not n.isdigit():
            p.error(f"--seeds-for {pair!r}: expected NAME=N with NAME one of {', '.join(names)}")
        seeds[name] = int(n)
    t0 = time.time()
    results = benchmark(names, seeds, args.budget, args.processes, args.seed_offset)
    print(markdown(results, args.budget))
    print(f"\n{time.time() - t0:.0f}s wall with {args.processes} processes", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f)


if __name__ == "__main__":
    main()
