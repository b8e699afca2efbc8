"""The multi-fidelity options of ``search``: --scheduler, --min-resource, --max-resource, --eta."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from archspace.study.schedulers import SCHEDULERS, scheduler_from_options

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
