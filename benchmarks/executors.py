"""Executors: trials per second of ``inline``, ``process`` and ``ray`` on two kinds of study.

(a) ``tabular``: random search on ``nb201`` scored by the ``nasbench201`` table; an evaluation
is a lookup plus the arch's analytic profile (a few milliseconds), so the time per trial is
mostly the executor's own overhead and the study loop's (screening and SQLite writes, which
every executor pays). (b) ``train``: the ``train`` estimator on ``digits`` with a small
``nb201`` network, about a second per trial on one core, which shows what two workers gain.

Every configuration runs a fresh study (``Study.create`` + ``run``) and notes when each result
is recorded. *Start-up* is the time from building the executor to the first recorded result,
which holds the executor's start-up (spawning workers, starting or joining Ray) and the first
trial; the *steady* rate counts the results after the first ``workers`` ones (which finish
together), so it leaves start-up out.
*Close* is releasing the executor and the file. Each tabular configuration runs ``--repeats``
times and the fastest run is shown, since other load on a shared machine only adds time.
Workers reserve ``cpus_per_trial=1`` and train on one torch thread; ``inline`` is run on one
torch thread (the fair baseline for the speed-up) and, for reference, on two. Every run is
checked to have recorded the same trials (numbers, archs, statuses, scores and metrics, less
``train_seconds`` and ``threads``) as the first configuration, ``inline`` on one thread.

    python benchmarks/executors.py                                 # both parts, every executor
    python benchmarks/executors.py --part tabular --trials 1000
    python benchmarks/executors.py --address HEAD:6379             # ray joins a running cluster
    python benchmarks/executors.py --configs inline/1,ray/2 --json results.json

Ray starts in this process for each ``ray`` run (and stops after it) unless ``--address`` names
a running head, which every ``ray`` run then joins (its start-up is then only the joining).
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import argparse
import json
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archspace.study import Study, StudyConfig, StudyStorage, TrialRecord
from archspace.study.executor import make_executor

#: KIND/WORKERS, in the order they run (the first is the reference).
CONFIGS = ("inline/1", "process/1", "process/2", "ray/1", "ray/2")
#: Metrics that say how a trial ran (its time, its torch threads), not what it gave.
HOW = ("train_seconds", "threads")


@dataclass(frozen=True)
class Row:
    """One configuration's run of one part."""

    part: str
    executor: str
    workers: int
    threads: int
    trials: int
    startup_s: float
    steady_trials_per_s: float
    steady_ms_per_trial: float
    eval_ms: float
    total_s: float
    close_s: float
    load: float
    identical: str = ""


def tabular_config(trials: int, seed: int) -> StudyConfig:
    return StudyConfig(space="nb201", space_params={}, estimator="nasbench201",
                       estimator_options={}, strategy="random", strategy_options={}, seed=seed,
                       budget=trials)


def train_config(trials: int, seed: int, epochs: float, resolution: int) -> StudyConfig:
    return StudyConfig(space="nb201", space_params={"C": 8, "N": 1}, estimator="train",
                       estimator_options={"dataset": "digits", "epochs": epochs,
                                          "resolution": resolution, "device": "cpu"},
                       strategy="random", strategy_options={}, seed=seed, budget=trials)


def parse_configs(text: str) -> list[tuple[str, int, int]]:
    """``inline/1,process/2,inline/1t2`` -> (kind, workers, inline torch threads)."""
    out = []
    for item in text.split(","):
        kind, _, rest = item.strip().partition("/")
        workers, _, threads = (rest or "1").partition("t")
        out.append((kind, int(workers), int(threads or 1)))
    return out


def run_one(path: Path, cfg: StudyConfig, kind: str, workers: int, threads: int,
            address: str | None, part: str) -> Row:
    """Run ``cfg`` into ``path`` on one executor and time it."""
    marks: list[float] = []
    durations: list[float] = []

    def note(_study: Study, rec: TrialRecord) -> None:
        marks.append(time.perf_counter())
        if rec.duration is not None:
            durations.append(rec.duration)

    t0 = time.perf_counter()
    executor = make_executor(kind, workers=workers, address=address,
                             cpus_per_trial=threads if kind == "inline" else 1)
    study = Study.create(path, cfg, executor=executor)
    try:
        study.run(note)
    finally:
        t1 = time.perf_counter()
        study.close()
    close = time.perf_counter() - t1
    # With k workers the first k results finish together; time the results after them.
    k = min(executor.capacity, len(marks) - 1)
    steady = (marks[-1] - marks[k - 1]) / (len(marks) - k) if k >= 1 else float("nan")
    return Row(part, kind, workers, threads, len(marks), marks[0] - t0, 1.0 / steady,
               1e3 * steady, 1e3 * statistics.median(durations), t1 - t0, close,
               os.getloadavg()[0])


def records(path: Path) -> list[tuple[Any, ...]]:
    """What a study recorded, less the timings."""
    with StudyStorage.open(path) as s:
        return [(t.number, t.arch, t.status, t.score, t.error,
                 tuple(sorted((k, v) for k, v in (t.metrics or {}).items() if k not in HOW)))
                for t in s.trials()]


def compare(ref: list[tuple[Any, ...]], got: list[tuple[Any, ...]]) -> str:
    """``yes``, or how the trials differ from the reference."""
    if got == ref:
        return "yes"
    if [r[:3] for r in got] != [r[:3] for r in ref]:
        return "no: archs or statuses differ"
    diff = [(a, b) for a, b in zip(ref, got, strict=True) if a != b]
    gap = max((abs(a[3] - b[3]) for a, b in diff if a[3] is not None and b[3] is not None),
              default=0.0)
    return f"no: metrics of {len(diff)} trials differ (score by up to {gap:.3g})"


def run_part(part: str, cfg: StudyConfig, configs: list[tuple[str, int, int]],
             address: str | None, workdir: Path, repeats: int) -> list[Row]:
    """Run every configuration ``repeats`` times, keeping the fastest run of each (other load
    on a shared machine only adds time); every run is checked against the reference."""
    rows: list[Row] = []
    ref: list[tuple[Any, ...]] | None = None
    print(f"\n{part}: {cfg.space}({', '.join(f'{k}={v}' for k, v in cfg.space_params.items())}) "
          f"+ {cfg.estimator}({', '.join(f'{k}={v}' for k, v in cfg.estimator_options.items())}) "
          f"+ {cfg.strategy}, {cfg.budget} trials\n")
    print("| executor | workers | torch threads | start-up s | steady trials/s | steady ms/trial "
          "| eval ms/trial | total s | close s | load | same trials |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for kind, workers, threads in configs:
        runs, same = [], []
        for r in range(repeats):
            path = workdir / f"{part}-{kind}-{workers}-{threads}-{r}.db"
            runs.append(run_one(path, cfg, kind, workers, threads, address, part))
            got = records(path)
            if ref is None:
                ref = got
                same.append("reference")
            else:
                same.append(compare(ref, got))
        verdict = same[0] if len(set(same)) == 1 else "; ".join(same)
        row = Row(**{**min(runs, key=lambda x: x.total_s).__dict__, "identical": verdict})
        rows.append(row)
        print(f"| {kind} | {workers} | {threads if kind == 'inline' else 1} | {row.startup_s:.2f} "
              f"| {row.steady_trials_per_s:.3g} | {row.steady_ms_per_trial:.2f} | "
              f"{row.eval_ms:.2f} | {row.total_s:.2f} | {row.close_s:.2f} | {row.load:.1f} | "
              f"{row.identical} |", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("tabular", "train", "both"), default="both")
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help="KIND/WORKERS[tTHREADS], comma-separated; the first is the reference "
                         "(default: %(default)s; the train part adds inline/1t2)")
    ap.add_argument("--trials", type=int, default=300, help="trials of the tabular study")
    ap.add_argument("--train-trials", type=int, default=14, help="trials of the train study")
    ap.add_argument("--epochs", type=float, default=3.0, help="train: epochs per trial")
    ap.add_argument("--resolution", type=int, default=16, help="train: input side")
    ap.add_argument("--repeats", type=int, default=2,
                    help="runs of each tabular configuration, the fastest kept (train: one)")
    ap.add_argument("--train-repeats", type=int, default=1,
                    help="runs of each train configuration, the fastest kept")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--address", default=None,
                    help="ray: join this cluster (auto or HOST:PORT) instead of starting Ray")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = ap.parse_args()
    configs = parse_configs(args.configs)

    import torch

    try:
        from importlib.metadata import version

        ray_version = version("ray")
    except ImportError:  # PackageNotFoundError is an ImportError
        ray_version = "not installed"
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, torch {torch.__version__}, ray {ray_version}, "
          f"load average "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="archspace-executors-") as tmp:
        if args.part in ("tabular", "both"):
            rows += run_part("tabular", tabular_config(args.trials, args.seed), configs,
                             args.address, Path(tmp), args.repeats)
        if args.part in ("train", "both"):
            train = configs + ([("inline", 1, 2)] if args.configs == ",".join(CONFIGS) else [])
            rows += run_part("train", train_config(args.train_trials, args.seed, args.epochs,
                                                   args.resolution), train, args.address, Path(tmp),
                             args.train_repeats)
    base = {r.part: r for r in reversed(rows) if r.executor == "inline" and r.threads == 1}
    print()
    for r in rows:
        if r.part in base and r is not base[r.part]:
            b = base[r.part]
            print(f"{r.part} {r.executor}/{r.workers} (threads {r.threads}): steady "
                  f"{r.steady_trials_per_s / b.steady_trials_per_s:.2f}x inline, "
                  f"{r.steady_ms_per_trial - b.steady_ms_per_trial:+.2f} ms/trial; end to end "
                  f"{b.total_s / r.total_s:.2f}x")
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.__dict__ for r in rows], f, indent=1)


if __name__ == "__main__":
    main()
