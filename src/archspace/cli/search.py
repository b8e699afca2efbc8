"""``archspace search``: run a study (strategy x estimator over a space) into a SQLite file.

The study file records every trial the moment it finishes; ``archspace resume FILE`` continues
a study that was interrupted (or extends its budget). Progress goes to stderr, the summary to
stdout (``--json``: the keys of :mod:`archspace.study.summary`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from archspace.cli._common import Bounded, param_option, seed_option
from archspace.cli._executor import (
    executor_options,
    executor_settings,
    open_with_executor,
    trial_threads_of,
)
from archspace.cli._scheduler import scheduler_from_options, scheduler_options
from archspace.cost.tinyengine import MEMORY_MODELS
from archspace.errors import ArchspaceError
from archspace.limits import MAX_BUDGET
from archspace.spaces import parse_params
from archspace.study import Study, StudyConfig, StudyResult, TrialRecord
from archspace.study.constraints import with_device, with_memory_model
from archspace.study.summary import summarize
from archspace.study.threads import capped_threads

__all__ = ["finish", "option_pairs", "progress_bar", "run_to_end", "search", "search_line"]


def option_pairs(pairs: Sequence[str], what: str) -> dict[str, str]:
    """``["k=v", ...]`` -> ``{"k": "v"}``; the registry converts and checks the values."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ArchspaceError(f"malformed {what} option {pair!r}; expected NAME=VALUE")
        if key in out:
            raise ArchspaceError(f"{what} option {key!r} given twice")
        out[key] = value.strip()
    return out


@contextmanager
def progress_bar(study: Study, enabled: bool) -> Iterator[Any]:
    """A rich progress bar on stderr (trials done/total, best so far, ETA); yields the study
    callback that advances it (None when disabled)."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    done = study.storage.n_recorded()
    best = study.storage.best_trial()
    with Progress(TextColumn("search"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("best {task.fields[best]}"), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("search", total=study.budget, completed=done,
                            best=_fmt(best.score if best else None))
        state = {"best": best.score if best and best.score is not None else None}

        def advance(_: Study, trial: TrialRecord) -> None:
            if trial.score is not None and (state["best"] is None or trial.score > state["best"]):
                state["best"] = trial.score
            bar.update(task, advance=1, best=_fmt(state["best"]))

        yield advance


def run_to_end(study: Study, callback: Any) -> StudyResult:
    """``study.run(callback)``; when it fails (a full disk, say), the executor and the file
    are released before the error is reported (every recorded trial stays in the file)."""
    try:
        return study.run(callback)
    except BaseException:
        with suppress(Exception):
            study.executor.shutdown(cancel=True)
        with suppress(Exception):
            study.storage.close()
        raise


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def finish(study: Study, result: StudyResult, as_json: bool) -> None:
    """Print the summary and exit 130 if the study was interrupted."""
    summary = summarize(study, result)
    study.close()
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    if result.interrupted:
        click.echo(f"interrupted after {result.n_trials} trials; continue with "
                   f"`archspace resume {summary['study']}`", err=True)
        sys.exit(130)


def _print_summary(s: dict[str, Any]) -> None:
    counts = ", ".join(f"{v} {k}" for k, v in s["counts"].items() if v)
    click.echo(f"study {s['study']}: {s['trials']}/{s['budget']} trials ({counts or 'none'}); "
               f"{s['strategy']} on {s['space']} scored by {s['estimator']}")
    prior = s.get("prior")
    if prior:
        click.echo(f"prior: {prior['prior']}, {prior['evaluations']} proxy evaluations in "
                   f"{prior['cpu_seconds']:.2f} CPU-s (not trials)")
    for rec in s.get("searches") or ():
        click.echo(search_line(rec))
    best = s["best"]
    if best is None:
        click.echo("no trial completed")
        return
    click.echo(f"best: trial {best['number']}, score {best['score']:.6g}")
    click.echo(f"  arch     {best['arch']}")
    for label, key in (("metrics", "metrics"), ("cost", "cost"), ("final", "final_metrics")):
        if best[key]:
            click.echo(f"  {label:<8} " + ", ".join(f"{k}={_num(v)}" for k, v in best[key].items()))
    if s["oracle"]:
        click.echo("  oracle   " + ", ".join(f"{k}={_num(v)}" for k, v in s["oracle"].items()))
    if s["pareto"]:
        click.echo(f"pareto front ({', '.join(s['objectives'])}): {len(s['pareto'])} trials")
        for t in s["pareto"]:
            values = ", ".join(_num(abs(v)) for v in t["objectives"])
            click.echo(f"  #{t['number']:<5} {values}  {t['arch']}")


def _bind_latency(text: str, device: str) -> str:
    """``latency`` or ``latency:...`` (an objective, a reward) bound to ``device``."""
    head, sep, rest = text.strip().partition(":")
    return f"latency@{device}{sep}{rest}" if head == "latency" else text


def search_line(rec: dict[str, Any]) -> str:
    """One differentiable search (:mod:`archspace.study.search_record`) as a line: method,
    restart, derived cell, collapse verdict, and the NAS-Bench-201 test accuracy on nb201."""
    from archspace.differentiable import Collapse

    c = rec.get("collapse") or {}
    try:
        verdict = Collapse(int(c["skip_edges"]), int(c["edges"]), c.get("skip_mass"),
                           bool(c["collapsed"])).describe()
    except (KeyError, TypeError, ValueError):
        verdict = "collapse unknown"
    line = (f"{rec.get('method')} search {rec.get('restart')} ({rec.get('steps')} steps, "
            f"{_num(rec.get('cpu_seconds'))} CPU-s on {rec.get('dataset')}): {rec.get('arch')}; "
            f"{verdict}")
    bench = rec.get("benchmark")
    if isinstance(bench, dict) and "cifar10_test_200ep" in bench:
        line += (f"; nb201 cifar10 test accuracy of derived cell "
                 f"{_num(bench['cifar10_test_200ep'])} (id {bench.get('nb201_id')})")
    return line


def _num(v: Any) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.6g}" if isinstance(v, float) else str(v)


@click.command("search")
@click.option("--space", "space_name", required=True, metavar="SPACE", help="Catalog space.")
@param_option
@click.option("--estimator", required=True, metavar="NAME",
              help="Performance estimator (see 'archspace estimators').")
@click.option("-e", "--estimator-option", "estimator_options", multiple=True, metavar="K=V",
              help="Estimator option, repeatable.")
@click.option("--strategy", required=True, metavar="NAME",
              help="Search strategy (see 'archspace strategies').")
@click.option("-s", "--strategy-option", "strategy_options", multiple=True, metavar="K=V",
              help="Strategy option, repeatable.")
@click.option("--budget", required=True, type=Bounded(1, MAX_BUDGET), help="Trials to record.")
@seed_option("Seed of strategy and estimator.", default=0)
@click.option("--study", "study_path", required=True, type=click.Path(dir_okay=False),
              metavar="FILE.db", help="SQLite file to record the study in (must not hold one).")
@click.option("-c", "--constraint", "constraints", multiple=True, metavar="C",
              help="Hard cost constraint, e.g. 'peak_sram<=320kB', 'macs<=60M' (kB=1000 bytes, "
                   "KiB=1024); strategies propose only archs that meet them; any violating arch is "
                   "recorded as infeasible, never evaluated.")
@click.option("--memory-model", type=click.Choice(MEMORY_MODELS), default="mcunet",
              show_default=True,
              help="Memory model of the peak_sram and flash constraints (tinyengine: TinyEngine's "
                   "allocator and buffers; written into them as peak_sram@tinyengine<=...).")
@click.option("--device", metavar="NAME",
              help="Device whose latency table predicts latency_ms for latency constraints, "
                   "objectives and rewards (e.g. -c latency<=12ms; see 'archspace latency').")
@click.option("-o", "--objective", "objectives", multiple=True, metavar="NAME",
              help="Objective, repeatable: an estimator metric ('accuracy': the search metric) "
                   "is maximised, a cost (macs, params, peak_sram, flash) minimised; NAME:min / "
                   "NAME:max force the direction. Two or more: multi-objective (Pareto front).")
@click.option("--reward", metavar="METRIC:TARGET:W",
              help="MnasNet reward ACC*(COST/TARGET)^W, e.g. 'macs:300M:-0.07' (or "
                   "METRIC:TARGET:ALPHA:BETA: W=ALPHA under the target, BETA over it).")
@scheduler_options
@executor_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of text.")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Progress bar on stderr.")
def search(space_name: str, params: tuple[str, ...], estimator: str,
           estimator_options: tuple[str, ...], strategy: str, strategy_options: tuple[str, ...],
           budget: int, seed: int, study_path: str, constraints: tuple[str, ...],
           memory_model: str, device: str | None, objectives: tuple[str, ...],
           reward: str | None, as_json: bool, progress: bool, ray_timeout: float,
           scheduler: str | None, min_resource: int | None, max_resource: int | None,
           eta: int | None, **executor: Any) -> None:
    """Search SPACE with a strategy and an estimator for BUDGET trials, recording to FILE.db.

    With --scheduler every rung (an arch at a resource) is one trial of the budget."""
    if device is not None:
        from archspace.cost.latency_store import load_table

        load_table(device)  # unknown, damaged or another machine's: stop before anything
        objectives = tuple(_bind_latency(o, device) for o in objectives)
        reward = _bind_latency(reward, device) if reward else reward
    constraints = with_device(with_memory_model(constraints, memory_model), device)
    schedule = scheduler_from_options(scheduler, min_resource, max_resource, eta)
    config = StudyConfig(
        space=space_name, space_params=parse_params(space_name, list(params)),
        estimator=estimator, estimator_options=option_pairs(estimator_options, "estimator"),
        strategy=strategy, strategy_options=option_pairs(strategy_options, "strategy"),
        seed=seed, budget=budget, constraints=constraints, objectives=objectives, reward=reward)
    settings = executor_settings(executor)
    settings["threads"] = trial_threads_of(settings)  # kept, so resume runs on the same
    with capped_threads(settings["threads"]):  # the strategy's own numpy work too
        if schedule is None:
            study = open_with_executor(lambda ex: Study.create(
                Path(study_path), config, executor=ex, meta={"executor": settings}),
                settings, ray_timeout)
        else:
            from archspace.study.scheduled import ScheduledStudy, scheduled_options

            config = replace(config, estimator_options=scheduled_options(  # refuses no resource
                estimator, config.estimator_options, schedule))
            study = open_with_executor(lambda ex: ScheduledStudy.create(
                Path(study_path), config, schedule, executor=ex, meta={"executor": settings}),
                settings, ray_timeout)
        if study.objectives.multi and not study.strategy.multi_objective:
            click.echo(f"note: strategy {strategy!r} is single-objective; it searches on "
                       f"{study.objectives.items[0].name!r} (the Pareto front is still reported)",
                       err=True)
        with progress_bar(study, progress) as callback:
            result = run_to_end(study, callback)
        finish(study, result, as_json)
