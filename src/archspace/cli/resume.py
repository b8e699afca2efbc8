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

from archspace.cli._common import Bounded, trust_options, trust_value
from archspace.cli._executor import (
    check_stored,
    executor_options,
    executor_settings,
    open_with_executor,
    stored_settings,
    trial_threads_of,
)
from archspace.cli.search import finish, progress_bar, run_to_end
from archspace.errors import ArchspaceError
from archspace.limits import MAX_BUDGET
from archspace.spaces import check_trusted
from archspace.study import Study, StudyStorage
from archspace.study.api import OBJECTS_KEY
from archspace.study.threads import capped_threads

__all__ = ["resume"]


@click.command("resume")
@click.argument("study_path", metavar="FILE.db", type=click.Path(dir_okay=False))
@click.option("--budget", type=Bounded(1, MAX_BUDGET),
              help="New total number of trials (at least those recorded).")
@executor_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of text.")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Progress bar on stderr.")
@click.option("--allow-stored-executor", is_flag=True,
              help="Use a Ray address, or a worker or thread count above this machine's cores, "
                   "that the study file stores (else refused: the file is data).")
@trust_options
def resume(study_path: str, budget: int | None, as_json: bool, progress: bool,
           space_name: str | None, trust_code: bool, allow_stored_executor: bool,
           ray_timeout: float, **executor: Any) -> None:
    """Continue the study in FILE.db until its budget (or --budget) is recorded.

    It runs on the executor the study last used unless executor options are given; a Ray
    address, or a worker or thread count above this machine's cores, stored in the file is used
    only with --allow-stored-executor (or the option given again). A study of a user space
    (module:Class) needs --space or --trust-code: its module is code."""
    trust = trust_value(space_name, trust_code)
    with StudyStorage.open(study_path) as storage:  # refused before an executor starts
        check_trusted(storage.load_config().space, trust, f"study {study_path}")
        _refuse_objects(study_path, storage.meta(OBJECTS_KEY))
    StudyStorage.check_writer(study_path)  # another writer, a read-only file: refused now
    stored = stored_settings(study_path)
    check_stored(study_path, executor, stored, allow_stored_executor)
    settings = executor_settings(executor, stored)
    settings["threads"] = trial_threads_of(settings)
    with capped_threads(settings["threads"]):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            study = open_with_executor(
                lambda ex: Study.resume(Path(study_path), executor=ex, budget=budget,
                                        trust=trust),
                settings, ray_timeout)
        try:
            study.storage.set_meta("executor", settings)
        except BaseException:
            study.close()
            raise
        for w in caught:
            click.echo(f"warning: {w.message}", err=True)
        done = study.storage.n_recorded()
        if done < study.budget:
            click.echo(f"resuming {study_path}: {done}/{study.budget} trials recorded", err=True)
        with progress_bar(study, progress and done < study.budget) as callback:
            result = run_to_end(study, callback)
        finish(study, result, as_json)


def _refuse_objects(study_path: str, objects: Any) -> None:
    """A study made in Python with objects its file cannot rebuild resumes only from Python."""
    if isinstance(objects, dict) and objects:
        made = "; ".join(f"{what}: {why}" for what, why in objects.items())
        names = ", ".join(f"{what}=..." for what in objects)
        raise ArchspaceError(f"study {study_path} was made in Python with objects its file cannot "
                             f"rebuild ({made}); resume it from Python: "
                             f"archspace.resume({study_path!r}, {names})")
