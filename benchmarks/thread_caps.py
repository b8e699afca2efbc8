"""Thread caps: the CPU time of one study with its numeric libraries capped or left alone.

The study is the one of issue 10: ``guided`` search on ``nb201`` scored by the ``nasbench201``
table, 300 trials, seed 0. Its evaluations are table lookups; the CPU goes to the strategy's
Gaussian process (numpy and scipy linear algebra on a BLAS). Each configuration runs in a fresh
process, with the thread variables (``OMP_NUM_THREADS`` and the like) removed from its
environment, so the libraries start as they would for a user who never set them:

* ``uncapped``: ``archspace.search`` with ``InlineExecutor(threads=None)``, which leaves the
  libraries' own thread counts alone (what every study did before the caps);
* ``threads=N``: the same with ``InlineExecutor(threads=N)``;
* ``cli``: the command line itself, ``archspace search ... --budget 300 --seed 0`` (default:
  one thread).

The CPU time is that of the child process (user + system, ``RUSAGE_CHILDREN``), including its
start-up (imports, loading the table), which every configuration pays alike; wall time is
shown for reference (it depends on the machine's other load). Every run must record the same
trials (numbers, archs, statuses, scores, metrics, in the same order) as the first.

    python benchmarks/thread_caps.py                          # uncapped, threads=1, cli; twice
    python benchmarks/thread_caps.py --configs uncapped,threads=1,threads=2 --repeats 3
    python benchmarks/thread_caps.py --budget 100 --json caps.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from archspace.study import StudyStorage
from archspace.study.threads import THREAD_VARS

STUDY = {"space": "nb201", "estimator": "nasbench201", "strategy": "guided", "seed": 0}

#: What a configuration's child process runs (the study file and the budget are its arguments).
API_CHILD = """
import sys
import archspace
from archspace.study.executor import InlineExecutor
threads = None if sys.argv[3] == "none" else int(sys.argv[3])
archspace.search(space="nb201", estimator="nasbench201", strategy="guided", seed=0,
                 budget=int(sys.argv[2]), study=sys.argv[1], executor=InlineExecutor(threads))
"""
CLI_CHILD = "from archspace.cli import main; main()"


def command(config: str, path: Path, budget: int) -> list[str]:
    if config == "cli":
        return [sys.executable, "-c", CLI_CHILD, "search", "--space", STUDY["space"],
                "--estimator", STUDY["estimator"], "--strategy", STUDY["strategy"],
                "--budget", str(budget), "--seed", str(STUDY["seed"]), "--study", str(path),
                "--no-progress"]
    threads = "none" if config == "uncapped" else config.removeprefix("threads=")
    return [sys.executable, "-c", API_CHILD, str(path), str(budget), threads]


def trials(path: Path) -> list[tuple[Any, ...]]:
    with StudyStorage.open(path) as s:
        return [(t.number, t.arch, t.status, t.score, t.metrics) for t in s.trials()]


def run(config: str, budget: int, folder: Path, env: dict[str, str]) -> dict[str, Any]:
    path = folder / f"{config.replace('=', '')}-{time.monotonic_ns()}.db"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(command(config, path, budget), env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"config": config, "cpu_s": cpu, "wall_s": wall, "trials": trials(path)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="uncapped,threads=1,cli",
                    help="comma-separated: uncapped, threads=N, cli (the first is the reference)")
    ap.add_argument("--budget", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=2, help="runs of each configuration")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for config in configs:
                rows.append({**run(config, args.budget, Path(tmp), env), "repeat": repeat + 1})
    reference = rows[0]["trials"]
    print(f"# {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"guided on nb201/nasbench201, {args.budget} trials, seed 0")
    print("| configuration | run | CPU s | wall s | same trials as the first |")
    print("|---|---|---|---|---|")
    for r in rows:
        same = "yes" if r["trials"] == reference else "NO"
        print(f"| {r['config']} | {r['repeat']} | {r['cpu_s']:.2f} | {r['wall_s']:.2f} | {same} |")
    if args.json:
        out = [{k: v for k, v in r.items() if k != "trials"} | {"same": r["trials"] == reference}
               for r in rows]
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
