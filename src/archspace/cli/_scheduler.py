"""The multi-fidelity options of ``search``: --scheduler, --min-resource, --max-resource, --eta."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from archspace.errors import ArchspaceError
from archspace.study.schedulers import SCHEDULERS, Scheduler, make_scheduler

__all__ = ["scheduler_from_options", "scheduler_options"]

F = TypeVar("F", bound=Callable[..., Any])


def scheduler_options(f: F) -> F:
    """Add the four options (given to the command as ``scheduler``, ``min_resource``,
    ``max_resource``, ``eta``)."""
    options = [
        click.option("--scheduler", type=click.Choice(tuple(SCHEDULERS)), default=None,
                     help="Multi-fidelity scheduler: successive halving (sh), Hyperband or ASHA; "
                          "each rung is a trial at a resource of the estimator (train: epochs)."),
        click.option("--min-resource", type=int, default=None, metavar="N",
                     help="Resource of the bottom rung (with --scheduler). [default: 1]"),
        click.option("--max-resource", type=int, default=None, metavar="N",
                     help="Resource of the top rung (required with --scheduler)."),
        click.option("--eta", type=int, default=None, metavar="N",
                     help="Keep the top 1/eta of a rung, times eta the resource (with "
                          "--scheduler). [default: 3]"),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def scheduler_from_options(scheduler: str | None, min_resource: int | None,
                           max_resource: int | None, eta: int | None) -> Scheduler | None:
    """The scheduler the options describe (None without --scheduler); bad values raise
    :class:`ArchspaceError` saying what is allowed."""
    if scheduler is None:
        given = [name for name, v in (("--min-resource", min_resource),
                                      ("--max-resource", max_resource), ("--eta", eta))
                 if v is not None]
        if given:
            raise ArchspaceError(f"{given[0]} applies only with --scheduler; allowed: "
                                 f"--scheduler {'|'.join(SCHEDULERS)}")
        return None
    if max_resource is None:
        raise ArchspaceError(f"--scheduler {scheduler} needs --max-resource N, the resource of "
                             "the top rung (e.g. --max-resource 27)")
    return make_scheduler(scheduler, 1 if min_resource is None else min_resource, max_resource,
                          3 if eta is None else eta)
