"""Render a :class:`~archspace.space.Diagram` to an image file with matplotlib.

The layout (where boxes and edges go, in inches) comes from :mod:`archspace.plots._layout`;
this module only paints it, one set of axes per panel, stacked top to bottom. matplotlib is
imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archspace.plots._layout import EDGE_FONT, NODE_FONT, Panel, layout
from archspace.space.diagram import Diagram

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["draw_diagram"]

_TITLE_H = 0.45  # inches above each titled panel
_MAX_PIXELS = 12_000
_PALETTE = ("#dbe9f6", "#fde0c5", "#d5f0d5", "#eadcf4", "#fbd5d5", "#f6efc1", "#d3eeee", "#e6e6e6")
_NAMED = {"input": "#e6e6e6", "output": "#d5f0d5"}
_EDGE = "#3a4a5c"
_PATH = "#d9480f"


def draw_diagram(diagram: Diagram, path: str | Path) -> Path:
    """Draw ``diagram`` to ``path`` (format from its suffix: .png, .svg, .pdf) and return it."""
    from matplotlib.figure import Figure

    path = Path(path)
    panels = layout(diagram, _measure)
    if not panels:
        raise ValueError(f"diagram {diagram.title!r} has nothing to draw")
    heights = [p.height + (_TITLE_H if p.title else 0.0) for p in panels]
    fig_w = max(max(p.width for p in panels), 4.0)
    title = _wrap(diagram.title, fig_w - 0.4)
    top = _TITLE_H + 0.1 + 0.22 * title.count("\n")
    fig_h = sum(heights) + top
    fig = Figure(figsize=(fig_w, fig_h))
    fig.text(0.5, 1 - 0.15 / fig_h, title, ha="center", va="top", fontsize=12, fontweight="bold")
    colours = _group_colours(panels)
    y = fig_h - top
    for panel, h in zip(panels, heights, strict=True):
        y -= h
        left = (fig_w - panel.width) / 2
        ax = fig.add_axes((left / fig_w, y / fig_h, panel.width / fig_w, panel.height / fig_h))
        _paint(ax, panel, colours)
        if panel.title:
            ax.set_title(panel.title, fontsize=10, pad=6)
    dpi = min(150.0, _MAX_PIXELS / max(fig_w, fig_h))
    fig.savefig(path, dpi=dpi, facecolor="white")
    return path


def _measure(text: str, size: float) -> tuple[float, float]:
    """Extent of ``text`` in inches at ``size`` points, from the default font's metrics."""
    lines = text.split("\n")
    return max(_line_width(line, size) for line in lines), len(lines) * size * 1.25 / 72


@functools.lru_cache(maxsize=4096)
def _line_width(line: str, size: float) -> float:
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    if not line.strip():
        return 0.0
    width, _, _ = text_to_path.get_text_width_height_descent(line, FontProperties(size=size), False)
    return float(width) / 72


def _wrap(title: str, width: float) -> str:
    """``title`` broken into lines that fit ``width`` inches in the bold 12 pt title font."""
    full = _measure(title, 12)[0] * 1.1  # bold runs about 10% wider
    if full <= width:
        return title
    chars = max(20, int(len(title) * width / full))
    lines = [""]
    for token in re.split(r"(?<=[\s|,+])", title):  # break after spaces, '|', ',' and '+'
        if lines[-1] and len(lines[-1]) + len(token) > chars:
            lines.append("")
        lines[-1] += token
    return "\n".join(line.strip() for line in lines)


def _group_colours(panels: list[Panel]) -> dict[str, str]:
    groups = dict.fromkeys(b.group for p in panels for b in p.boxes)
    free = iter([c for c in _PALETTE[1:] if c not in _NAMED.values()] * 4)
    return {g: _NAMED.get(g) or (_PALETTE[0] if not g else next(free)) for g in groups}


def _paint(ax: Axes, panel: Panel, colours: dict[str, str]) -> None:
    x0, y0, x1, y1 = panel.bounds
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.axis("off")
    if panel.kind == "lattice":
        _paint_lattice(ax, panel, colours)
    else:
        _paint_boxes(ax, panel, colours)
    for route in panel.routes:
        _arrow(ax, route.points, _PATH if panel.kind == "lattice" else _EDGE,
               2.2 if panel.kind == "lattice" else 1.0)
        if route.label_at is not None:
            ax.text(*route.label_at, route.label, fontsize=EDGE_FONT, ha="center", va="center",
                    zorder=4, color="#1d2b3a",
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "#b8c4d0", "lw": 0.5})


def _paint_boxes(ax: Axes, panel: Panel, colours: dict[str, str]) -> None:
    from matplotlib.patches import FancyBboxPatch

    for b in panel.boxes:
        ax.add_patch(FancyBboxPatch((b.x - b.w / 2, b.y - b.h / 2), b.w, b.h,
                                    boxstyle="round,pad=0,rounding_size=0.06", fc=colours[b.group],
                                    ec="#44546a", lw=0.9, zorder=2))
        ax.text(b.x, b.y, b.label, fontsize=NODE_FONT, ha="center", va="center", zorder=3,
                linespacing=1.25)


def _paint_lattice(ax: Axes, panel: Panel, colours: dict[str, str]) -> None:
    from matplotlib.patches import Circle

    if panel.grid:
        gx, gy = zip(*panel.grid, strict=True)
        ax.scatter(gx, gy, s=14, c="#c0c7cf", zorder=1, linewidths=0)
    for b in panel.boxes:
        hot = b.id in panel.highlight
        ax.add_patch(Circle((b.x, b.y), b.w / 2, fc=_PATH if hot else colours[b.group],
                            ec="#44546a", lw=0.8, zorder=3))
        if b.label:
            ax.text(b.x + b.w, b.y + b.h, b.label, fontsize=EDGE_FONT, ha="left", va="bottom",
                    zorder=4, bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none",
                                    "alpha": 0.8})
    for (x, y), text in panel.ticks:
        bold = text in ("layer", "level")
        ax.text(x, y, text, fontsize=9 if bold else 8, ha="center", va="center",
                rotation=90 if text == "level" else 0, style="italic" if bold else "normal")


def _arrow(ax: Axes, points: tuple[tuple[float, float], ...], colour: str, width: float) -> None:
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path as MplPath

    style: Any = "-|>,head_length=0.5,head_width=0.25"
    ax.add_patch(FancyArrowPatch(path=MplPath(list(points)), arrowstyle=style, color=colour,
                                 lw=width, mutation_scale=12, shrinkA=0, shrinkB=0, zorder=1.5,
                                 joinstyle="round", capstyle="round"))
