"""The report's PNG figures, drawn from a :class:`~archspace.report.data.ReportData`.

* the search's progress: every trial's score in the order results were recorded, the best so
  far, failed and infeasible trials marked; for an estimator with final metrics, the best-so-far
  trial's final metric under it with the benchmark's oracle (the NAS-Bench-201 way of showing
  a search: test accuracy of the incumbent against trials, Dong & Yang, ICLR 2020);
* the trade-offs: a multi-objective study's first objective against each other one, its Pareto
  front highlighted; for a single objective, the search metric against each cost with the
  non-dominated archs (best metric for their cost) highlighted;
* cost histograms over every profiled trial, feasible and infeasible stacked, constraints drawn;
* the best architecture, drawn by :func:`archspace.plots.draw_diagram`.

Each function writes one file or raises :class:`NothingToPlot` saying why it makes no sense
for this study; matplotlib is imported inside the functions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from archspace.report.data import ReportData, trained_network
from archspace.study.constraints import COST_METRICS
from archspace.study.objectives import Objective, pareto_front
from archspace.study.storage import TrialRecord

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["NothingToPlot", "plot_best_arch", "plot_costs", "plot_front", "plot_progress"]

_TRIAL = "#8fb3d9"
_BEST = "#1f4e8c"
_FRONT = "#d62728"
_ORACLE = "#2ca02c"
_INFEASIBLE = "#ff7f0e"
_FAILED = "#7f0000"
_DPI = 120


class NothingToPlot(Exception):
    """The figure makes no sense for this study (the message says why)."""


@dataclass(frozen=True)
class _Axis:
    """A quantity on an axis: where to read it, its scale and label."""

    label: str
    objective: Objective
    scale: float = 1.0

    def values(self, trials: Sequence[TrialRecord]) -> np.ndarray:
        return np.array([self.objective.value(t.metrics or {}, t.cost or {}) for t in trials],
                        dtype=float) / self.scale


#: Cost metric -> (scale, axis label): counts in millions, bytes in kilobytes.
_COST_UNITS = {"macs": (1e6, "MACs (M)"), "params": (1e6, "parameters (M)"),
               "peak_sram": (1e3, "peak SRAM (kB)"), "flash": (1e3, "flash (kB)"),
               "latency": (1.0, "predicted latency (ms)")}


def _axis(o: Objective) -> _Axis:
    if o.source == "cost" and o.name in _COST_UNITS:
        scale, label = _COST_UNITS[o.name]
        return _Axis(label + ("" if o.maximise else ", minimised"), o, scale)
    name = o.name if o.name == o.key else f"{o.name} ({o.key})"
    return _Axis(name + ("" if o.maximise else ", minimised"), o)


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=_DPI, facecolor="white")
    return path


def _complete(data: ReportData) -> list[TrialRecord]:
    done = data.complete
    if not done:
        raise NothingToPlot("no trial has completed yet")
    return done


def plot_progress(data: ReportData, path: str | Path) -> Path:
    """Score per trial and best so far against recorded trials (tell order); below it, when
    the estimator reports final metrics, the best-so-far trial's final metric and the oracle."""
    _complete(data)
    recorded = data.recorded
    final = data.final_metric
    follow = data.lead.source == "metric" and final is not None and any(
        final in i.final_metrics for i in data.incumbents)
    y_axis = _axis(data.lead) if data.objectives.reward is None else None
    scale = y_axis.scale if y_axis else 1.0
    fig = _figure(8.0, 6.4 if follow else 4.2)
    axes = fig.subplots(2, 1, sharex=True) if follow else [fig.add_subplot()]
    ax = axes[0]
    told = np.arange(1, len(recorded) + 1)
    ok = [(i, data.display_score(t.score) / scale) for i, t in zip(told, recorded, strict=True)
          if t.status == "complete" and t.score is not None]
    ax.scatter([i for i, _ in ok], [s for _, s in ok], s=14, color=_TRIAL, lw=0, zorder=2,
               label="complete trial")
    steps_x = [i.told for i in data.incumbents] + [len(recorded)]
    steps_y = [data.display_score(i.trial.score or 0.0) / scale for i in data.incumbents]
    ax.step(steps_x, [*steps_y, steps_y[-1]], where="post", color=_BEST, lw=2, zorder=3,
            label="best so far")
    lo, hi = ax.get_ylim()
    for status, colour, marker in (("infeasible", _INFEASIBLE, "|"), ("failed", _FAILED, "x")):
        xs = [i for i, t in zip(told, recorded, strict=True) if t.status == status]
        if xs:  # a rug along the bottom, below the scores
            ax.set_ylim(lo - 0.08 * (hi - lo), hi)
            ax.scatter(xs, [0.03] * len(xs), transform=ax.get_xaxis_transform(), marker=marker,
                       s=40, color=colour, zorder=4, label=f"{status} ({len(xs)})")
    ax.set_ylabel(y_axis.label if y_axis else data.score_label)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best", framealpha=0.9)
    ax.set_title(f"{data.config.strategy} on {data.space.label}, scored by "
                 f"{data.config.estimator}", fontsize=10)
    if follow and final is not None:
        low = axes[1]
        inc = [i for i in data.incumbents if final in i.final_metrics]
        ys = [i.final_metrics[final] for i in inc]
        low.step([i.told for i in inc] + [len(recorded)], [*ys, ys[-1]], where="post",
                 color=_BEST, lw=2, label=f"{final} of the best so far")
        best = data.oracle[final]
        low.axhline(best, color=_ORACLE, ls="--", lw=1.4, label=f"oracle {best:.4g}")
        low.set_ylabel(final)
        low.grid(alpha=0.3)
        low.legend(fontsize=8, loc="best", framealpha=0.9)
    # the rug is drawn in axis coordinates, which don't widen the data limits
    axes[-1].set_xlim(0.5, len(recorded) + 0.5)
    axes[-1].set_xlabel("trials recorded (in the order results came in)")
    return _save(fig, Path(path))


def _staircase(ax: Axes, x: np.ndarray, y: np.ndarray, x_minimised: bool) -> None:
    order = np.argsort(x, kind="stable")
    ax.step(x[order], y[order], where="post" if x_minimised else "pre", color=_FRONT, lw=1.2,
            alpha=0.7, zorder=3)


def _log_if_wide(ax: Axes, x: np.ndarray) -> None:
    if len(x) and x.min() > 0 and x.max() / x.min() > 20:
        ax.set_xscale("log")


def plot_front(data: ReportData, path: str | Path) -> Path:
    """Trade-off panels: the first objective (y) against each other objective, or, for a single
    objective, against each cost; non-dominated trials highlighted."""
    done = _complete(data)
    lead = data.objectives.items[0]
    multi = data.objectives.multi
    if multi:
        others = list(data.objectives.items[1:])
    else:
        costs = [name for name, m in COST_METRICS.items()
                 if all(t.cost and m.key in t.cost for t in done)]
        others = [Objective(name, COST_METRICS[name].key, "cost", False) for name in costs]
    if not others:
        raise NothingToPlot("the trials record no cost to trade the objective against")
    front = {t.number for t in data.pareto}
    y_axis = _axis(lead)
    y = y_axis.values(done)
    cols = min(len(others), 2)
    rows = -(-len(others) // cols)
    fig = _figure(5.0 * cols, 4.0 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, other in zip(axes, others, strict=False):
        x_axis = _axis(other)
        x = x_axis.values(done)
        if multi:
            on = np.array([t.number in front for t in done])
        else:
            points = [((v if lead.maximise else -v), (-c if not other.maximise else c))
                      for v, c in zip(y, x, strict=True)]
            on = np.zeros(len(done), dtype=bool)
            on[pareto_front(points)] = True
        ax.scatter(x[~on], y[~on], s=14, color=_TRIAL, lw=0, zorder=2, label="complete trial")
        ax.scatter(x[on], y[on], s=30, color=_FRONT, lw=0, zorder=4,
                   label=f"{'Pareto front' if multi else 'non-dominated'} ({int(on.sum())})")
        if not multi or len(data.objectives.items) == 2:
            _staircase(ax, x[on], y[on], x_minimised=not other.maximise)
        _log_if_wide(ax, x)
        ax.set_xlabel(x_axis.label)
        ax.set_ylabel(y_axis.label)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="best", framealpha=0.9)
    for ax in axes[len(others):]:
        ax.set_visible(False)
    what = "Pareto front over " + ", ".join(o.name for o in data.objectives.items) if multi else (
        f"{lead.name} against cost ({len(done)} complete trials)")
    fig.suptitle(what, fontsize=11)
    return _save(fig, Path(path))


def plot_costs(data: ReportData, path: str | Path) -> Path:
    """Histograms of each cost over every profiled trial, feasible and infeasible stacked,
    with the study's constraints as vertical lines."""
    profiled = [t for t in data.trials if t.cost]
    names = [n for n, m in COST_METRICS.items() if any(m.key in (t.cost or {}) for t in profiled)]
    if not names:
        raise NothingToPlot("no trial has been profiled yet")
    cols = min(len(names), 2)
    rows = -(-len(names) // cols)
    fig = _figure(5.0 * cols, 3.4 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, name in zip(axes, names, strict=False):
        key = COST_METRICS[name].key
        scale, label = _COST_UNITS.get(name, (1.0, name))
        groups = [np.array([(t.cost or {})[key] for t in profiled
                            if key in (t.cost or {}) and (t.status == "infeasible") == bad]) / scale
                  for bad in (False, True)]
        values = np.concatenate(groups)
        lo, hi = float(values.min()), float(values.max())
        log = lo > 0 and hi / lo > 20
        bins = (np.geomspace(lo, hi, 31) if log else
                np.linspace(lo, hi if hi > lo else lo + 1.0, 31))
        ax.hist(groups, bins=bins, stacked=True, color=[_TRIAL, _INFEASIBLE],
                label=[f"feasible ({len(groups[0])})", f"infeasible ({len(groups[1])})"])
        if log:
            ax.set_xscale("log")
        for c in data.constraints:
            if c.metric == name:
                ax.axvline(c.limit / scale, color=_FRONT, ls="--", lw=1.4, label=c.text)
        ax.set_xlabel(label)
        ax.set_ylabel("trials")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best", framealpha=0.9)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    fig.suptitle(f"cost of the {len(profiled)} profiled trials (analytic cost model)", fontsize=11)
    return _save(fig, Path(path))


def plot_best_arch(data: ReportData, path: str | Path) -> Path:
    """The best trial's architecture as :meth:`Space.diagram` draws it, in the network the
    estimator evaluated (:func:`~archspace.report.data.trained_network`: e.g. the classifier of
    the dataset's 10 classes, not the space's default 1000)."""
    from archspace.plots import draw_diagram

    if data.best is None:
        raise NothingToPlot("no trial has completed yet")
    net = trained_network(data)
    diagram = net.space.diagram(net.space.arch_from_json(data.best.arch_json))
    title = f"trial #{data.best.number}: {net.description}" + (f"; {net.note}" if net.note else "")
    return draw_diagram(dataclasses.replace(diagram, title=title), path)
