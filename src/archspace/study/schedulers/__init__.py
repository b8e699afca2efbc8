"""Multi-fidelity schedulers: successive halving, Hyperband and ASHA over a resource.

A scheduled study (:mod:`archspace.study.scheduled`) evaluates each arch at rising resources
(``train``: epochs, each rung continuing from the checkpoint of the rung below); the scheduler
decides which arch runs at which resource (:mod:`~archspace.study.schedulers.base`), the
strategy only proposes the new archs of the bottom rungs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archspace.errors import ArchspaceError
from archspace.study.schedulers.asha import ASHA
from archspace.study.schedulers.base import Entry, Ledger, Scheduler, Slot
from archspace.study.schedulers.brackets import (
    Bracket,
    check_resources,
    hyperband_brackets,
    rung_resources,
)
from archspace.study.schedulers.halving import Hyperband, SuccessiveHalving

__all__ = [
    "ASHA", "SCHEDULERS", "SCHEDULE_KEY", "Bracket", "Entry", "Hyperband", "Ledger", "Scheduler", "Slot",
    "SuccessiveHalving", "check_resources", "hyperband_brackets", "make_scheduler",
    "rung_resources", "scheduler_from_json", "scheduler_from_options",
]

#: The study-file meta key under which a scheduled study records its scheduler.
SCHEDULE_KEY = "scheduler"
#: name -> scheduler class.
SCHEDULERS: dict[str, type[Scheduler]] = {"sh": SuccessiveHalving, "hyperband": Hyperband,
                                          "asha": ASHA}


def make_scheduler(kind: object, min_resource: object, max_resource: object,
                   eta: object = 3) -> Scheduler:
    """The scheduler named ``kind`` (one of :data:`SCHEDULERS`); bad resources or eta raise
    :class:`~archspace.errors.ArchspaceError` saying what is allowed."""
    if not isinstance(kind, str) or kind not in SCHEDULERS:
        raise ArchspaceError(f"unknown scheduler {kind!r}; allowed: {', '.join(SCHEDULERS)}")
    check_resources(min_resource, max_resource, eta)
    return SCHEDULERS[kind](min_resource, max_resource, eta)  # type: ignore[arg-type]


def scheduler_from_json(data: Mapping[str, Any] | Any, source: str) -> Scheduler:
    """The scheduler a study file records (data from a file: checked, one-line errors)."""
    if not isinstance(data, Mapping):
        raise ArchspaceError(f"{source} records a scheduler that is not an object: {data!r}")
    try:
        return make_scheduler(data.get("scheduler"), data.get("min_resource"),
                              data.get("max_resource"), data.get("eta"))
    except ArchspaceError as e:
        raise ArchspaceError(f"{source} records a bad scheduler: {e}") from None


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
