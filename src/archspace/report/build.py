"""Writing a study report: ``index.html``, ``summary.json`` and the figures into one folder.

Only the report's own file names (:data:`FILES`) are written in the folder; a figure that makes
no sense for the study (e.g. no complete trial yet) is left out with a note on the page, and a
stale copy of it from an earlier report is removed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from archspace.errors import ArchspaceError
from archspace.report.data import ReportData, gather
from archspace.report.figures import (
    NothingToPlot,
    plot_best_arch,
    plot_costs,
    plot_front,
    plot_progress,
)
from archspace.report.page import Figure, render
from archspace.study.components import Factories

__all__ = ["FIGURES", "FILES", "write_report"]

#: (file, heading, drawing function) of each figure, in page order.
FIGURES: tuple[tuple[str, str, Callable[[ReportData, Path], Path]], ...] = (
    ("progress.png", "Best so far", plot_progress),
    ("front.png", "Trade-offs", plot_front),
    ("costs.png", "Cost histograms", plot_costs),
    ("best_arch.png", "Best architecture", plot_best_arch),
)
#: Every file a report writes.
FILES = ("index.html", "summary.json", *(f for f, _, _ in FIGURES))


def _out_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise ArchspaceError(f"report folder {path} is a file; give a folder (created if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ArchspaceError(f"cannot create report folder {path}: {e.strerror or e}") from None
    return path


def write_report(study_path: str | os.PathLike[str], out_dir: str | os.PathLike[str],
                 top: int = 20, factories: Factories | None = None) -> Path:
    """Write the report of the study in ``study_path`` into ``out_dir`` (created if missing)
    with the ``top`` best trials in its table; returns the path of ``index.html``."""
    if top < 1:
        raise ArchspaceError(f"top must be a positive number of trials, got {top}")
    data = gather(study_path, top=top, factories=factories)
    out = _out_dir(Path(out_dir))
    figures = []
    for name, title, draw in FIGURES:
        try:
            draw(data, out / name)
            figures.append(Figure(name, title))
        except NothingToPlot as e:
            (out / name).unlink(missing_ok=True)
            figures.append(Figure(name, title, skipped=str(e)))
    (out / "summary.json").write_text(json.dumps(data.summary, indent=2) + "\n")
    index = out / "index.html"
    index.write_text(render(data, figures), encoding="utf-8")
    return index
