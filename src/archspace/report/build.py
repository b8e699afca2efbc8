"""Writing a study report: ``index.html``, ``summary.json`` and the figures into one folder.

Only the report's own file names (:data:`FILES`) are written in the folder; a figure that makes
no sense for the study (e.g. no complete trial yet) is left out with a note on the page, and a
stale copy of it from an earlier report is removed. The files are made in a temporary folder and
moved in only when all of them are written (:mod:`archspace._atomic`): a failure leaves no
partial report, other files in the folder are left alone, and no write follows a symbolic link
planted there.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from archspace._atomic import check_output, staged_output
from archspace.errors import ArchspaceError
from archspace.report.data import ReportData, gather
from archspace.report.dense import TASK_FIGURES
from archspace.report.figures import (
    NothingToPlot,
    plot_best_arch,
    plot_costs,
    plot_front,
    plot_progress,
)
from archspace.report.page import Figure, render
from archspace.report.rungs import plot_rungs
from archspace.spaces import Trust
from archspace.study.components import Factories

__all__ = ["FIGURES", "FILES", "SCHEDULED_FIGURES", "write_report"]

#: (file, heading, drawing function) of each figure, in page order.
FIGURES: tuple[tuple[str, str, Callable[[ReportData, Path], Path]], ...] = (
    ("progress.png", "Best so far", plot_progress),
    ("front.png", "Trade-offs", plot_front),
    ("costs.png", "Cost histograms", plot_costs),
    ("best_arch.png", "Best architecture", plot_best_arch),
)
#: The figures of a multi-fidelity study's report only (``--scheduler``).
SCHEDULED_FIGURES: tuple[tuple[str, str, Callable[[ReportData, Path], Path]], ...] = (
    ("rungs.png", "Rungs: score against resource, per arch", plot_rungs),
)
_TASK = tuple(f for figs in TASK_FIGURES.values() for f in figs)
#: Every file a report writes (``rungs.png`` only for a scheduled study, a task's figures
#: (:data:`~archspace.report.dense.TASK_FIGURES`) only for a study with its estimator).
FILES = ("index.html", "summary.json",
         *dict.fromkeys(f for f, _, _ in FIGURES + SCHEDULED_FIGURES + _TASK))
_MOVE_ORDER = (*FILES[2:], "summary.json", "index.html")  # the page last


def write_report(study_path: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                 top: int = 20, factories: Factories | None = None,
                 trust: Trust = False) -> Path:
    """Write the report of the study in ``study_path`` into ``out_dir`` (created if missing)
    with the ``top`` best trials in its table; returns the path of ``index.html``. A user
    space the study names is imported only with ``trust`` (see :func:`gather`)."""
    if top < 1:
        raise ArchspaceError(f"top must be a positive number of trials, got {top}")
    out = Path(out_dir)
    check_output(out, FILES, "report folder")
    data = gather(study_path, top=top, factories=factories, trust=trust)
    figures = []
    with staged_output(out, _MOVE_ORDER, "report folder") as stage:
        scheduled = SCHEDULED_FIGURES if data.scheduler is not None else ()
        task = TASK_FIGURES.get(getattr(data.estimator, "name", ""), ())
        for name, title, draw in FIGURES + scheduled + task:
            try:
                draw(data, stage / name)
                figures.append(Figure(name, title))
            except NothingToPlot as e:
                figures.append(Figure(name, title, skipped=str(e)))
        (stage / "summary.json").write_text(json.dumps(data.summary, indent=2) + "\n")
        (stage / "index.html").write_text(render(data, figures), encoding="utf-8")
    return out / "index.html"
