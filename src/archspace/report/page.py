"""The report's ``index.html``: one self-contained page (inline style, no script) that links
the figures beside it by relative path. Every value from the study file is escaped: names, arch
strings, option values, metric values (numbers or not) and error messages.

The top-trials table stays readable for any space: arch strings wrap at their separators (never
inside a name) and long ones are shortened, the whole string on hover; metric and cost columns
with the same value in every row are shown once, in the study table, instead.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from archspace.report.data import ReportData
from archspace.study.constraints import COST_METRICS
from archspace.study.storage import TrialRecord

__all__ = ["Figure", "fmt_value", "render"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222;
       padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f5f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 0.9em; overflow-wrap: anywhere; }
code.arch { overflow-wrap: break-word; }
td.arch { min-width: 24em; }
td.num { white-space: nowrap; }
div.wide { overflow-x: auto; }
.note { background: #fff6e0; border-left: 4px solid #f0a020; padding: 0.4em 0.8em; }
.skip { color: #777; font-style: italic; }
img { max-width: 100%; border: 1px solid #eee; }
"""

_BYTES = {COST_METRICS["peak_sram"].key, COST_METRICS["flash"].key}
_COUNTS = {COST_METRICS["macs"].key, COST_METRICS["params"].key}


@dataclass(frozen=True)
class Figure:
    """A figure of the report: its file name, heading, and the reason it was skipped (if)."""

    file: str
    title: str
    skipped: str | None = None


def fmt_value(key: str, value: Any) -> str:
    """A metric or cost for reading: byte counts in kB/MB, large counts with M/G, else 5
    significant digits."""
    if value is None:
        return "-"
    if not isinstance(value, int | float) or isinstance(value, bool):
        return str(value)
    v = float(value)
    if key in _BYTES:
        return f"{v / 1e6:.3g} MB" if v >= 1e6 else f"{v / 1e3:.3g} kB"
    if key == COST_METRICS["latency"].key:
        return f"{v:.3g} ms"
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= size and key in _COUNTS:
            return f"{v / size:.4g}{unit}"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.5g}"


def _cell(key: str, value: Any) -> str:
    """:func:`fmt_value`, escaped for the page (a metric from a file may be any string)."""
    return escape(fmt_value(key, value))


#: Where an arch string may wrap: after these separators, or after a ``-`` between names
#: (not the sign of ``layers=-1``).
_BREAK = re.compile(r"(?<=[,|/+; ])|(?<=[0-9A-Za-z)]-)")
#: Arch strings longer than this are shortened in the top-trials table (whole on hover).
ARCH_CHARS = 120


def _wrapped(text: str) -> str:
    """``text`` escaped, with a line-break opportunity after each separator."""
    return "<wbr>".join(escape(part) for part in _BREAK.split(text) if part)


def arch_html(arch: str, limit: int | None = None) -> str:
    """An arch string as ``<code>`` that wraps at its separators; cut after a separator to at
    most ``limit`` characters (with ``…``, the whole string in the ``title``) when longer."""
    if limit is None or len(arch) <= limit:
        return f"<code class='arch'>{_wrapped(arch)}</code>"
    cut = max((m.start() for m in _BREAK.finditer(arch, 0, limit) if m.start() > limit // 2),
              default=limit)
    return (f"<code class='arch' title='{escape(arch)}'>{_wrapped(arch[:cut])}…</code>")


def _pairs(mapping: Mapping[str, Any] | None) -> str:
    if not mapping:
        return "<span class='skip'>none</span>"
    return ", ".join(f"{escape(str(k))}={escape(str(v))}" for k, v in mapping.items())


def _table(rows: Iterable[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _notes(data: ReportData) -> list[str]:
    cfg, s = data.config, data.summary
    notes = []
    if cfg.status == "running":
        notes.append(f"The study is running (or its process was killed): {s['trials']} of "
                     f"{escape(str(cfg.budget))} trials recorded so far, {data.running} being evaluated.")
    elif cfg.status == "interrupted":
        notes.append(f"The study was interrupted after {s['trials']} of {escape(str(cfg.budget))} trials; "
                     f"continue it with <code>archspace resume {escape(str(data.path))}</code>.")
    elif cfg.status == "created":
        notes.append("The study has not started.")
    if not data.complete:
        notes.append("No trial has completed yet: there is no best trial, and the plots that "
                     "need one are left out.")
    return notes


def _config(data: ReportData) -> str:
    cfg, s = data.config, data.summary
    counts = dict(s["counts"])
    if data.running:
        counts["running"] = data.running
    same = _columns(data)[2]
    rows = [
        ("space", f"<code>{escape(data.space.label)}</code> ({_pairs(cfg.space_params)})"),
        ("estimator", f"{escape(cfg.estimator)} ({_pairs(cfg.estimator_options)}); searches on "
                      f"<code>{escape(s['metric'])}</code>"),
        ("strategy", f"{escape(cfg.strategy)} ({_pairs(cfg.strategy_options)})"),
        ("seed", escape(str(cfg.seed))),
        ("budget", f"{s['trials']} of {escape(str(cfg.budget))} trials recorded"),
        ("constraints", escape(", ".join(cfg.constraints)) or "<span class='skip'>none</span>"),
        ("objectives", escape(", ".join(s["objectives"]))
         + ("" if not cfg.reward else f"; reward <code>{escape(cfg.reward)}</code>")),
        ("status", escape(cfg.status)),
        ("created", escape(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(cfg.created)))),
        ("trials", _pairs(counts)),
    ]
    prior = s.get("prior")
    if prior:
        rows.append(("zero-cost prior",
                     f"{escape(str(prior['prior']))}: {escape(str(prior['evaluations']))} proxy "
                     f"evaluations, {escape(str(prior['cpu_seconds']))} CPU-s (not trials)"))
    if same:
        rows.append((f"same in all {len(data.top)} top trials",
                     ", ".join(f"{escape(k)}={_cell(k, v)}" for k, v in same.items())))
    return _table(rows)


def _best(data: ReportData) -> str:
    best = data.summary["best"]
    if best is None:
        return "<p class='skip'>No trial has completed yet.</p>"
    rows = [("trial", f"#{escape(str(best['number']))}"), ("arch", arch_html(str(best["arch"]))),
            ("score", f"{_cell(data.lead.key, data.display_score(best['score']))} "
                      f"({escape(data.score_label)})"),
            ("metrics", escape(", ".join(f"{k}={fmt_value(k, v)}"
                                         for k, v in best["metrics"].items()))),
            ("cost", escape(", ".join(f"{k}={fmt_value(k, v)}" for k, v in best["cost"].items())))]
    if data.objectives.multi:
        rows.append(("Pareto front", f"{len(data.pareto)} non-dominated trials (marked ★ below "
                                     "when among the top trials)"))
    out = _table(rows)
    final = best.get("final_metrics") or {}
    if final:
        head = "<tr><th>final metric</th><th>best trial</th><th>oracle</th><th>gap</th></tr>"
        body = ""
        for k, v in final.items():
            o = data.oracle.get(k)
            numbers = isinstance(o, int | float) and isinstance(v, int | float)
            gap = _cell(k, o - v) if numbers else "-"
            body += (f"<tr><td>{escape(k)}</td><td class='num'>{_cell(k, v)}</td>"
                     f"<td class='num'>{_cell(k, o)}</td><td class='num'>{gap}</td></tr>")
        out += f"<p>Report-only metrics (never searched on):</p><table>{head}{body}</table>"
    return out


def _figures(figures: Sequence[Figure]) -> str:
    parts = []
    for f in figures:
        parts.append(f"<h3>{escape(f.title)}</h3>")
        if f.skipped is None:
            parts.append(f"<p><img src='{escape(f.file)}' alt='{escape(f.title)}'></p>")
        else:
            parts.append(f"<p class='skip'>Not drawn: {escape(f.skipped)}.</p>")
    return "\n".join(parts)


def _keys(trials: Sequence[TrialRecord], field: str) -> list[str]:
    keys: dict[str, None] = {}
    for t in trials:
        keys.update(dict.fromkeys(getattr(t, field) or {}))
    return list(keys)


def _columns(data: ReportData) -> tuple[list[str], list[str], dict[str, Any]]:
    """The top-trials table's metric and cost columns, and the columns left out of it because
    every row holds the same value (with that value; none when there are fewer than 2 rows).
    The first objective's metric is the score column; a metric equal to a cost is the cost's."""
    top = data.top
    costs = _keys(top, "cost")
    lead = data.lead
    shown = lead.key if lead.source == "metric" and data.objectives.reward is None else None
    metrics = [k for k in _keys(top, "metrics") if k != shown and not (
        k in costs and all((t.metrics or {}).get(k) == (t.cost or {}).get(k) for t in top))]
    same: dict[str, Any] = {}
    if len(top) > 1:
        for field, keys in (("metrics", metrics), ("cost", costs)):
            for k in keys:
                values = [(getattr(t, field) or {}).get(k) for t in top]
                if all(v == values[0] for v in values) and values[0] is not None:
                    same[k] = values[0]
    return [k for k in metrics if k not in same], [k for k in costs if k not in same], same


def _head(name: str) -> str:
    """A column heading that may wrap after its underscores (``peak_sram_bytes``)."""
    return "_<wbr>".join(escape(part) for part in name.split("_"))


def _top(data: ReportData) -> str:
    top = data.top
    if not top:
        return "<p class='skip'>No complete trial.</p>"
    metrics, costs, same = _columns(data)
    multi = data.objectives.multi
    front = {t.number for t in data.pareto}
    head = ["rank", "trial", "arch", escape(data.score_label)] + [_head(k) for k in metrics + costs]
    if multi:
        head.insert(2, "Pareto")
    rows = []
    for rank, t in enumerate(top, start=1):
        cells = [f"<td class='num'>{rank}</td>", f"<td class='num'>{escape(str(t.number))}</td>"]
        if multi:
            cells.append(f"<td>{'★' if t.number in front else ''}</td>")
        cells.append(f"<td class='arch'>{arch_html(t.arch, ARCH_CHARS)}</td>")
        cells.append(f"<td class='num'>{_cell(data.lead.key, data.display_score(t.score or 0.0))}</td>")
        cells += [f"<td class='num'>{_cell(k, (t.metrics or {}).get(k))}</td>" for k in metrics]
        cells += [f"<td class='num'>{_cell(k, (t.cost or {}).get(k))}</td>" for k in costs]
        rows.append(f"<tr class='trial'>{''.join(cells)}</tr>")
    header = "".join(f"<th>{h}</th>" for h in head)
    note = ("" if not same else "<p>Columns with the same value in every row are shown once, in "
            f"the study table: {escape(', '.join(same))}.</p>\n")
    return (f"{note}<div class='wide'><table><tr>{header}</tr>\n" + "\n".join(rows)
            + "</table></div>")


def _problems(data: ReportData) -> str:
    reasons: dict[tuple[str, str], int] = {}
    for t in data.recorded:
        if t.status in ("failed", "infeasible"):
            key = (t.status, t.error or "(no reason recorded)")
            reasons[key] = reasons.get(key, 0) + 1
    if not reasons:
        return ""
    ranked = sorted(reasons.items(), key=lambda kv: -kv[1])[:10]
    body = "".join(f"<tr><td>{escape(s)}</td><td class='num'>{n}</td><td>{escape(why)}</td></tr>"
                   for (s, why), n in ranked)
    return ("<h2>Failed and infeasible trials</h2><table><tr><th>status</th><th>trials</th>"
            f"<th>reason</th></tr>{body}</table>")


def _rungs(data: ReportData) -> str:
    """The rung table of a scheduled study (nothing for another study)."""
    from archspace.report.rungs import rung_rows

    rows = rung_rows(data)
    if not rows:
        return ""
    head = ("<tr><th>bracket</th><th>rung</th><th>resource</th><th>trials</th><th>complete</th>"
            f"<th>promoted</th><th>best {escape(data.score_label)}</th><th>best trial</th></tr>")
    body = ""
    for r in rows:
        score = _cell(data.lead.key, data.display_score(r.best.score or 0.0)) if r.best else "-"
        best = f"#{r.best.number} " + arch_html(r.best.arch, ARCH_CHARS) if r.best else "-"
        body += (f"<tr><td class='num'>{r.bracket}</td><td class='num'>{r.rung}</td>"
                 f"<td class='num'>{_cell('resource', r.resource)}</td>"
                 f"<td class='num'>{r.trials}</td><td class='num'>{r.complete}</td>"
                 f"<td class='num'>{r.promoted}</td><td class='num'>{score}</td>"
                 f"<td>{best}</td></tr>")
    return (f"<h2>Rungs</h2><p>Scheduler: {_pairs(data.scheduler)}. Each rung is a set of trials "
            "at one resource; the best of a rung are promoted to the next.</p>"
            f"<div class='wide'><table>{head}{body}</table></div>")


def _searches(data: ReportData) -> str:
    """A differentiable strategy's searches: derived cell, collapse verdict, NAS-Bench-201."""
    records = data.summary.get("searches") or []
    if not records:
        return ""
    head = ("<tr><th>search</th><th>derived cell</th><th>skip edges</th>"
            "<th>skip weight mass</th><th>collapse</th><th>nb201 cifar10 test (%)</th>"
            "<th>steps</th><th>CPU-s</th></tr>")
    rows = []
    for r in records:
        c = r.get("collapse") or {}
        bench = r.get("benchmark") or {}
        collapsed = bool(c.get("collapsed"))
        rows.append(
            f"<tr><td>{escape(str(r.get('method')))} #{escape(str(r.get('restart')))}</td>"
            f"<td>{arch_html(str(r.get('arch')), 120)}</td>"
            f"<td>{escape(str(c.get('skip_edges')))}/{escape(str(c.get('edges')))}</td>"
            f"<td>{escape(str(c.get('skip_mass')))}</td>"
            f"<td>{'<b>COLLAPSED</b> (skip connections dominate)' if collapsed else 'no'}</td>"
            f"<td>{escape(str(bench.get('cifar10_test_200ep', '-')))}</td>"
            f"<td>{escape(str(r.get('steps')))}</td>"
            f"<td>{escape(str(r.get('cpu_seconds')))}</td></tr>")
    n = sum(bool((r.get("collapse") or {}).get("collapsed")) for r in records)
    return (f"<h2>Differentiable search</h2><p>{len(records)} searches, {n} collapsed "
            "(at least half the normal cell's edges, or of its weight mass, on skip "
            f"connections).</p><table>{head}{''.join(rows)}</table>")


def render(data: ReportData, figures: Sequence[Figure]) -> str:
    """The whole page."""
    name = escape(data.path.name)
    notes = "".join(f"<p class='note'>{n}</p>" for n in _notes(data))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>archspace report: {name}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>archspace study report: {name}</h1>
<p>Study file <code>{escape(str(data.path))}</code>; report written
{escape(time.strftime("%Y-%m-%d %H:%M:%S"))}; the numbers are also in
<a href="summary.json">summary.json</a>.</p>
{notes}
<h2>Study</h2>
{_config(data)}
<h2>Best trial</h2>
{_best(data)}
<h2>Plots</h2>
{_figures(figures)}
<h2>Top {len(data.top)} trials by score</h2>
{_top(data)}
{_rungs(data)}
{_searches(data)}
{_problems(data)}
</body>
</html>
"""
