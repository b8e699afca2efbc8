"""The rungs of a multi-fidelity study (``--scheduler``) in its report: a table and a plot.

Each arch's ladder is its bottom-rung trial and the trials promoted from it (following each
trial's ``schedule.parent``): the plot draws every ladder as its score against the resource,
so the promotions, and where each arch was stopped, show; the table sums up each rung of each
bracket (trials, complete, promoted, best score).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archspace.report.data import ReportData
from archspace.study.storage import TrialRecord

__all__ = ["RungRow", "ladders", "plot_rungs", "rung_rows"]


@dataclass(frozen=True)
class RungRow:
    """One rung of one bracket: its resource, trials, how many completed and were promoted,
    and the best complete trial."""

    bracket: int
    rung: int
    resource: float
    trials: int
    complete: int
    promoted: int
    best: TrialRecord | None


def _schedule(t: TrialRecord) -> Mapping[str, Any] | None:
    s = t.schedule
    if not s or not all(isinstance(s.get(k), int | float) for k in ("bracket", "rung", "resource")):
        return None
    return s


def _scheduled(data: ReportData) -> dict[int, TrialRecord]:
    return {t.number: t for t in data.trials if t.status != "running" and _schedule(t)}


def rung_rows(data: ReportData) -> list[RungRow]:
    """The rungs of the study's trials, by bracket then rung (empty: not a scheduled study)."""
    trials = _scheduled(data)
    parents = {p for t in trials.values() if isinstance(p := (t.schedule or {}).get("parent"), int)}
    groups: dict[tuple[int, int], list[TrialRecord]] = {}
    for t in trials.values():
        s = t.schedule or {}
        groups.setdefault((int(s["bracket"]), int(s["rung"])), []).append(t)
    rows = []
    for (bracket, rung), members in sorted(groups.items()):
        done = [t for t in members if t.status == "complete" and t.score is not None]
        best = max(done, key=lambda t: (t.score or 0.0, -t.number), default=None)
        rows.append(RungRow(bracket, rung, float((members[0].schedule or {})["resource"]),
                            len(members), len(done), sum(t.number in parents for t in members),
                            best))
    return rows


def ladders(data: ReportData) -> list[list[TrialRecord]]:
    """Each arch's complete trials from its bottom rung up, in the order the ladders began."""
    trials = _scheduled(data)
    out: dict[int, list[TrialRecord]] = {}
    for number in sorted(trials):
        root, seen = number, set()
        while isinstance(p := (trials[root].schedule or {}).get("parent"), int) and p in trials \
                and p not in seen:
            seen.add(root)
            root = p
        t = trials[number]
        if t.status == "complete" and t.score is not None:
            out.setdefault(root, []).append(t)
    return [sorted(v, key=lambda t: float((t.schedule or {})["resource"])) for _, v in
            sorted(out.items())]


def plot_rungs(data: ReportData, path: str | Path) -> Path:
    """Score against resource for every arch's ladder (a log resource axis)."""
    from archspace.report.figures import NothingToPlot, _figure, _save

    lines = ladders(data)
    if not lines:
        raise NothingToPlot("the study has no scheduler (no rungs), or no rung trial completed")
    fig = _figure(7.0, 4.2)
    ax = fig.add_subplot()
    best = data.best.number if data.best is not None else None
    for ladder in lines:
        x = [float((t.schedule or {})["resource"]) for t in ladder]
        y = [data.display_score(t.score or 0.0) for t in ladder]
        top = any(t.number == best for t in ladder)
        ax.plot(x, y, "-o", color="#1f4e8c" if top else "#8fb3d9", lw=2.0 if top else 0.8,
                ms=4 if top else 2.5, alpha=1.0 if top else 0.6, zorder=3 if top else 2)
    resources = sorted({float((t.schedule or {})["resource"]) for line in lines for t in line})
    if len(resources) > 1:
        ax.set_xscale("log")
    ax.set_xticks(resources, [f"{r:g}" for r in resources])
    ax.minorticks_off()
    ax.set_xlabel(f"resource ({data.estimator.resource or 'units'})")
    ax.set_ylabel(data.score_label)
    ax.set_title(f"{len(lines)} archs; each line one arch's rungs (the best trial's dark)")
    return _save(fig, Path(path))
