"""Figures of design-space analyses: FLOPs CDFs (MCUNet, Lin et al. NeurIPS 2020, figure 3) and
error EDFs with error-vs-complexity scatter plots (Radosavovic et al. ICCV 2019, "NDS").

Each function takes the study object the analysis returned and writes one image file;
matplotlib is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from archspace.analysis.edf import EDFStudy
    from archspace.analysis.flops import FlopsStudy, SpaceFlops

__all__ = ["plot_edf", "plot_flops_cdf"]

_PICK = "#d62728"
_OTHER = "#c8c8c8"
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
            "#bcbd22", "#7f7f7f", "#393b79")


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _cdf(ax: Axes, s: SpaceFlops, **style: Any) -> None:
    x = np.concatenate([[s.macs[0]], s.macs]) / 1e6
    y = np.concatenate([[0.0], np.arange(1, s.n_ok + 1) / s.n_ok])
    ax.step(x, y, where="post", **style)


def plot_flops_cdf(study: FlopsStudy, path: str | Path, highlight: int = 6) -> Path:
    """CDFs of the MACs of each space's satisfying models: the pick in red, the next
    ``highlight - 1`` spaces by mean MACs in colour, every other eligible space in grey."""
    path = Path(path)
    fig = _figure(8.0, 5.2)
    ax = fig.add_subplot()
    ranked = study.ranking()
    shown = {s.label for s in ranked[:highlight]}
    for s in ranked:
        if s.label not in shown:
            _cdf(ax, s, color=_OTHER, lw=0.8, zorder=1)
    colours = iter(_COLOURS)
    for s in ranked[:highlight]:
        pick = s.label == study.pick
        mean = s.stat("mean") or 0.0
        label = f"{s.label}: mean {mean / 1e6:.1f}M, {100 * s.fraction:.0f}% fit"
        colour = _PICK if pick else next(colours)
        _cdf(ax, s, color=colour, lw=2.6 if pick else 1.4, zorder=3 if pick else 2,
             label=label + (" (pick)" if pick else ""))
        ax.axvline(mean / 1e6, color=colour, ls=":", lw=1.0, alpha=0.8, zorder=0)
    ax.set_xlabel("MACs of models satisfying the constraints (millions; dotted: means)")
    ax.set_ylabel("cumulative probability")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    under = ", ".join(study.constraints) or "no constraints"
    rest = len(ranked) - len(shown)
    title = f"FLOPs distribution of satisfying models ({under}; {study.samples} samples/space)"
    ax.set_title(title, fontsize=10)
    if ranked:
        handles, labels = ax.get_legend_handles_labels()
        if rest:
            handles.append(ax.plot([], [], color=_OTHER, lw=0.8)[0])
            labels.append(f"{rest} other spaces")
        ax.legend(handles, labels, fontsize=8, loc="best", framealpha=0.9)
    else:
        ax.text(0.5, 0.5, "no space has enough satisfying models", ha="center",
                transform=ax.transAxes)
    fig.savefig(path, dpi=130, facecolor="white")
    return path


def _edf_panel(ax: Axes, study: EDFStudy, normalised: bool) -> None:
    for s, colour in zip(study.spaces, _cycle(len(study.spaces)), strict=True):
        curve = s.norm_edf if normalised else s.edf
        if curve is None:
            continue
        label = f"{s.label} (n={s.n}, min {s.errors.min():.1f}%)" if s.n else s.label
        ax.plot(study.grid, curve, color=colour, lw=1.6, label=label)
        if normalised == (study.normalize != "none"):
            ax.fill_between(study.grid, s.band[0], s.band[1], color=colour, alpha=0.18, lw=0)
    ax.set_xlim(*_error_range(study))
    ax.set_xlabel("error (%), cut at the 95th percentile of all models")
    ax.set_ylabel("cumulative prob." if not normalised else "cumulative prob. (normalised)")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    if normalised and study.warnings:
        least = min(int((s.weights > 0).sum()) for s in study.spaces if s.weights is not None)
        ax.text(0.97, 0.35, f"spaces barely overlap in complexity:\nas few as {least} model(s) "
                "per space kept;\nsee the per-pair KS instead", transform=ax.transAxes,
                ha="right", fontsize=8, color="#b00000",
                bbox={"facecolor": "white", "edgecolor": "#b00000", "alpha": 0.9})
    ax.set_title(f"{'complexity-normalised ' if normalised else ''}error EDF"
                 + (f" ({study.normalize}, {study.bins} bin{'s' * (study.bins > 1)})"
                    if normalised else ""), fontsize=10)


def _scatter_panel(ax: Axes, study: EDFStudy, key: str, most: int = 1500) -> None:
    """Error against complexity, at most ``most`` (seeded) random models per space."""
    rng = np.random.default_rng(0)
    for s, colour in zip(study.spaces, _cycle(len(study.spaces)), strict=True):
        pick = rng.permutation(s.n)[:most]
        x = getattr(s.scored, key)[pick] / 1e6
        few = len(pick) <= 200
        ax.scatter(x, s.errors[pick], s=18 if few else 8, color=colour, alpha=0.8 if few else 0.35,
                   lw=0, label=s.label)
    _log_axis(ax)
    ax.set_xlabel(f"{'MACs' if key == 'macs' else 'parameters'} (millions, log scale)")
    ax.set_ylabel("error (%)")
    ax.grid(alpha=0.3, which="both")
    ax.set_ylim(*_error_range(study))
    ax.set_title(f"error vs complexity (at most {most} models per space)", fontsize=10)


def plot_edf(study: EDFStudy, path: str | Path) -> Path:
    """Error EDFs with bootstrap bands, the complexity-normalised EDFs (unless the study did
    not normalise) and error against complexity, side by side."""
    path = Path(path)
    panels = 3 if study.normalize != "none" else 2
    ncol = min(len(study.spaces), 3)
    rows = -(-len(study.spaces) // ncol)
    fig = _figure(5.2 * panels, 4.4 + 0.22 * rows)
    axes = fig.subplots(1, panels)
    _edf_panel(axes[0], study, normalised=False)
    if panels == 3:
        _edf_panel(axes[1], study, normalised=True)
    _scatter_panel(axes[-1], study, study.normalize if study.normalize != "none" else "macs")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize=8, frameon=False)
    fig.suptitle(f"estimator {study.estimator}: error = 100 - {study.metric}; shaded: 95% "
                 "bootstrap band", fontsize=11)
    fig.savefig(path, dpi=120, facecolor="white")
    return path


def _log_axis(ax: Axes) -> None:
    """Log x axis labelled at 1, 2 and 5 times powers of ten, in plain numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _error_range(study: EDFStudy) -> tuple[float, float]:
    errors = np.concatenate([s.errors for s in study.spaces])
    lo, hi = float(errors.min()), float(np.quantile(errors, 0.95))
    pad = 0.03 * max(hi - lo, 1e-6)
    return lo - pad, hi + pad


def _cycle(n: int) -> list[str]:
    return [_COLOURS[i % len(_COLOURS)] for i in range(n)]

