"""What checkpointing the study file's write-ahead log costs a study.

A writer copies ``FILE.db-wal`` into ``FILE.db`` every ``CHECKPOINT_EVERY`` recorded trials (and
at close), so a killed study leaves little in the log. This runs the cheapest study there is,
random search on ``nb201`` scored by the ``nasbench201`` table (a trial is a lookup, so the
time per trial is the study loop's own, SQLite's commits included), with the periodic
checkpoints on and off (the checkpoint at close stays), alternating, ``--repeats`` times each,
and prints the fastest run of each (other load on a shared machine only adds time): wall time,
CPU time of this process (``time.process_time``) and wall milliseconds per trial.

    python benchmarks/study_checkpoints.py --trials 300 --repeats 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import archspace
from archspace.study import storage


def run(trials: int, every: int, folder: Path) -> tuple[float, float]:
    """One study of ``trials`` trials checkpointed every ``every``; (wall s, CPU s)."""
    storage.CHECKPOINT_EVERY = every
    path = folder / f"s-{every}-{time.monotonic_ns()}.db"
    cpu, wall = time.process_time(), time.perf_counter()
    archspace.search(space="nb201", estimator="nasbench201", strategy="random", budget=trials,
                     seed=0, study=path)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    every = storage.CHECKPOINT_EVERY
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        run(20, every, folder)  # warm-up: imports, the table
        results: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
        for _ in range(args.repeats):
            results["on"].append(run(args.trials, every, folder))
            results["off"].append(run(args.trials, 10**9, folder))
    for label, runs in results.items():
        wall, cpu = min(runs)
        what = f"every {every} trials" if label == "on" else "at close only"
        print(f"checkpoints {what:<16} wall {wall:6.2f} s  cpu {cpu:5.2f} s  "
              f"{1e3 * wall / args.trials:5.1f} ms/trial  (walls: "
              f"{', '.join(f'{w:.2f}' for w, _ in runs)})")


if __name__ == "__main__":
    main()
