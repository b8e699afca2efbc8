"""``archspace resume``: continue a study file, after an interruption or with a larger budget.

The space, estimator and strategy are rebuilt from the file; the recorded trials are replayed
into the strategy (see :mod:`archspace.study.runner`), so a deterministic study continues
exactly where it stopped.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import click

from archspace.cli._executor import (
    executor_options,
    executor_settings,
    open_with_executor,
    stored_settings,
)
from archspace.cli.search import finish, progress_bar
from archspace.study import Study

__all__ = ["resume"]


@click.command("resume")
@click.argument("study_path", metavar="FILE.db", type=click.Path(dir_okay=False))
@click.option("--budget", type=click.IntRange(min=1),
              help="New total number of trials (at least those recorded).")
@executor_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of text.")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Progress bar on stderr.")
def resume(study_path: str, budget: int | None, as_json: bool, progress: bool,
           **executor: Any) -> None:
    """Continue the study in FILE.db until its budget (or --budget) is recorded.

    It runs on the executor the study last used unless executor options are given."""
    settings = executor_settings(executor, stored_settings(study_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        study = open_with_executor(
            lambda ex: Study.resume(Path(study_path), executor=ex, budget=budget), settings)
    study.storage.set_meta("executor", settings)
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    done = study.storage.n_recorded()
    if done < study.budget:
        click.echo(f"resuming {study_path}: {done}/{study.budget} trials recorded", err=True)
    with progress_bar(study, progress and done < study.budget) as callback:
        result = study.run(callback)
    finish(study, result, as_json)
