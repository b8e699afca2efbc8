"""TinyNAS end to end: space selection, a supernet, evolution under memory limits, export.

MCUNet (Lin et al., "MCUNet: Tiny Deep Learning on IoT Devices", NeurIPS 2020) searches in two
stages. Stage 1 picks the search space: among the members of the MCUNet family (width
multiplier x input resolution), the one whose models satisfying the SRAM and flash limits have
the highest mean MACs (:func:`archspace.analysis.flops.flops_distribution`). Stage 2 trains one
weight-sharing supernet over that space (:mod:`archspace.supernet`) and runs evolution on it,
scoring every candidate with inherited weights (the ``oneshot`` estimator) and discarding those
over the limits before they are scored; the winner is fine-tuned and exported.

:func:`run_tinynas` runs the stages in a folder, one after the other, and records each one's
outcome in ``DIR/tinynas.json``; a stage already recorded is not run again, the supernet and
the search continue from their own files when interrupted, and each stage can be run on its
own (``stages=("search",)``) once the ones before it are recorded:

========== ==============================================================================
stage      writes
========== ==============================================================================
select     ``select/flops.json``, ``select/flops_cdf.png`` (the FLOPs distributions)
supernet   ``supernet.pt`` (``archspace supernet train``)
search     ``search.db`` (a study: ``archspace resume``/``report``/``export`` read it)
export     ``export/`` (the winner, fine-tuned; ``archspace export``)
report     ``report/`` (the search's report) and ``tinynas.html`` (every stage)
========== ==============================================================================
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archspace._atomic import write_text_atomic
from archspace.errors import ArchspaceError

__all__ = ["STAGES", "TinyNASConfig", "TinyNASError", "run_tinynas"]

#: The stages in the order they run.
STAGES = ("select", "supernet", "search", "export", "report")
STATE = "tinynas.json"
#: The default family grid: small members a CPU trains in minutes (MCUNet's own grid is
#: widths 0.2-1.0 x resolutions 48-224, ``archspace analyze flops --space mcunet``).
WIDTHS = (0.35, 0.5)
RESOLUTIONS = (32, 48)


class TinyNASError(ArchspaceError):
    """Bad settings, a folder holding another run, or a stage run before the ones it needs."""


@dataclass(frozen=True)
class TinyNASConfig:
    """Everything a TinyNAS run depends on; a folder's run continues only with the same.

    ``sram``/``flash``: the limits (``320kB``, ``1MB``), counted with ``memory_model``.
    ``widths``/``resolutions``: the family grid stage 1 picks from (``samples`` models each,
    a member needs ``min_count`` satisfying ones). ``train``: the supernet's training options
    (the ``train`` estimator's: ``dataset``, ``epochs``, ... and ``sandwich``, ``distill``).
    ``budget``: candidates evolution scores; ``population``/``sample``: its sizes.
    ``bn_batches``: batches each candidate's batch norm is recalibrated on.
    ``finetune_epochs``: epochs the winner is trained on from its inherited weights.
    ``formats``: export formats (``pt``, ``onnx``, ``onnx-int8``)."""

    sram: str
    flash: str
    train: Mapping[str, Any]
    memory_model: str = "tinyengine"
    widths: tuple[float, ...] = WIDTHS
    resolutions: tuple[int, ...] = RESOLUTIONS
    samples: int = 1000
    min_count: int = 20
    budget: int = 50
    population: int = 16
    sample: int = 4
    bn_batches: int = 4
    finetune_epochs: float = 0.0
    formats: tuple[str, ...] = ("pt",)
    seed: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def constraints(self) -> tuple[str, ...]:
        from archspace.study.constraints import with_memory_model

        return with_memory_model([f"peak_sram<={self.sram}", f"flash<={self.flash}"],
                                 self.memory_model)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["train"] = dict(self.train)
        d["extra"] = dict(self.extra)
        return json.loads(json.dumps(d, default=str))  # type: ignore[no-any-return]


def check_config(config: TinyNASConfig) -> None:
    """Refuse bad settings before any work: limits, grid, sizes, training options, formats."""
    from archspace.export import parse_formats
    from archspace.study.constraints import ConstraintError
    from archspace.supernet.train import SupernetTrainer

    try:
        config.constraints()
    except ConstraintError as e:
        raise TinyNASError(f"--sram/--flash: {e}") from None
    if not config.widths or not config.resolutions:
        raise TinyNASError("the family grid is empty; give at least one width and resolution")
    _grid(config)  # a width or resolution the space cannot take raises here
    for name in ("samples", "min_count", "budget", "population", "sample", "bn_batches"):
        v = getattr(config, name)
        if not isinstance(v, int) or v < 1:
            raise TinyNASError(f"{name}={v!r}; allowed: an integer >= 1")
    if config.sample > config.population:
        raise TinyNASError(f"sample={config.sample} is above population={config.population}; "
                           "allowed: sample <= population")
    if config.finetune_epochs < 0:
        raise TinyNASError(f"finetune_epochs={config.finetune_epochs:g}; allowed: >= 0")
    if config.train.get("epochs") is None:
        raise TinyNASError("the supernet needs a training length: -e epochs=N")
    trainer = SupernetTrainer(**dict(config.train))  # unknown or bad options raise here
    if trainer.config.get("distill") and not trainer.config.get("sandwich"):
        raise TinyNASError("option distill=true needs sandwich=true")
    parse_formats(config.formats)


class _Run:
    """The folder of one run and its state file."""

    def __init__(self, out_dir: Path, config: TinyNASConfig,
                 log: Callable[[str], None] | None) -> None:
        self.dir = out_dir
        self.config = config
        self.log = log or (lambda line: None)
        self.path = out_dir / STATE
        self.state: dict[str, Any] = {"config": config.to_dict(), "stages": {}}
        if self.path.exists():
            try:
                stored = json.loads(self.path.read_text())
                stages = stored["stages"]
                if not isinstance(stages, dict):
                    raise TypeError("stages")
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise TinyNASError(f"{self.path} is not a TinyNAS state file ({e}); allowed: "
                                   "a folder of an earlier tinynas run, or a new one") from None
            if stored.get("config") != self.state["config"]:
                diff = sorted(k for k, v in self.state["config"].items()
                              if (stored.get("config") or {}).get(k) != v)
                raise TinyNASError(f"{out_dir} holds a TinyNAS run with other settings "
                                   f"({', '.join(diff)}); allowed: the same settings to "
                                   "continue it, or a new -o DIR")
            self.state["stages"] = stages

    def done(self, stage: str) -> dict[str, Any] | None:
        got = self.state["stages"].get(stage)
        return got if isinstance(got, dict) else None

    def record(self, stage: str, outcome: Mapping[str, Any]) -> None:
        self.state["stages"][stage] = json.loads(json.dumps(dict(outcome), default=str))
        write_text_atomic(self.path, json.dumps(self.state, indent=2) + "\n")

    def need(self, stage: str, before: str) -> dict[str, Any]:
        got = self.done(before)
        if got is None:
            raise TinyNASError(f"stage {stage} needs stage {before} first (not recorded in "
                               f"{self.path}); allowed: run it (--stage {before}) or all stages")
        return got


def _space(selected: Mapping[str, Any]) -> Any:
    from archspace.spaces import get_space

    return get_space("mcunet", **dict(selected["params"]))


def _grid(c: TinyNASConfig) -> dict[str, Any]:
    from archspace.analysis.flops import space_grid

    return space_grid("mcunet", {"width": list(c.widths), "resolution": list(c.resolutions)})


def _select(run: _Run) -> dict[str, Any]:
    from archspace.analysis.flops import flops_distribution
    from archspace.plots.analysis import plot_flops_cdf
    from archspace.supernet.train import SupernetTrainer

    c = run.config
    grid = _grid(c)
    trainer = SupernetTrainer(**dict(c.train))
    # the networks that will be trained: each member fitted to the dataset's classes
    fitted = {label: trainer.adapted(space)[0] for label, space in grid.items()}
    study = flops_distribution(fitted, list(c.constraints()), c.samples, c.seed, c.min_count,
                               c.memory_model)
    out = run.dir / "select"
    out.mkdir(parents=True, exist_ok=True)
    plot_flops_cdf(study, out / "flops_cdf.png")
    (out / "flops.json").write_text(json.dumps(study.to_dict(macs=True)) + "\n")
    if study.pick is None:
        raise TinyNASError(f"stage select: {study.reason}")
    run.log(f"select: {study.reason}")
    return {"pick": study.pick, "params": dict(grid[study.pick].params), "reason": study.reason,
            "spaces": [{k: v for k, v in s.summary().items() if k != "macs"}
                       for s in study.spaces]}


def _supernet(run: _Run, progress: Callable[[int, int, float], None] | None) -> dict[str, Any]:
    from archspace.supernet.train import train_supernet

    space = _space(run.need("supernet", "select"))
    summary = train_supernet(space, run.dir / "supernet.pt", run.config.train, run.config.seed,
                             progress=progress, log=run.log)
    return {"file": "supernet.pt", **{k: summary.get(k) for k in (
        "label", "resolution", "num_classes", "dataset", "epoch", "history", "metrics")}}


def _oneshot_options(run: _Run) -> dict[str, Any]:
    opts: dict[str, Any] = {"supernet": str(run.dir / "supernet.pt"),
                            "bn_batches": run.config.bn_batches}
    for k in ("device", "root", "download"):
        if k in run.config.train:
            opts[k] = run.config.train[k]
    return opts


def _search(run: _Run, progress: bool) -> dict[str, Any]:
    from archspace.study import api

    selected = run.need("search", "select")
    run.need("search", "supernet")
    c = run.config
    db = run.dir / "search.db"
    if db.exists():
        run.log(f"search: continuing {db}")
        handle = api.resume(db, progress=progress)
    else:
        handle = api.search(space="mcunet", space_params=selected["params"],
                            estimator="oneshot", estimator_options=_oneshot_options(run),
                            strategy="evolution",
                            strategy_options={"population": c.population, "sample": c.sample},
                            budget=c.budget, seed=c.seed, study=db,
                            constraints=list(c.constraints()), progress=progress)
    best = handle.best
    if best is None:
        raise TinyNASError(f"stage search: no candidate of {db} satisfies {', '.join(c.constraints())} "
                           "and scored; allowed: looser limits or a larger budget")
    counts = handle.counts
    run.log(f"search: best trial #{best.number}, {best.score:.2f}% with inherited weights")
    return {"study": "search.db", "trials": handle.n_trials, "counts": counts,
            "best": {"number": best.number, "arch": best.arch, "score": best.score,
                     "metrics": dict(best.metrics or {}), "cost": dict(best.cost or {})}}


def _export(run: _Run) -> dict[str, Any]:
    from archspace.export import export_study

    run.need("export", "search")
    result = export_study(run.dir / "search.db", run.dir / "export", run.config.formats,
                          finetune_epochs=run.config.finetune_epochs, log=run.log)
    network = result.info.get("network") or {}
    return {"folder": "export", "trial": result.trial, "files": list(result.files),
            "weights": result.weights, "metrics": dict(network.get("metrics") or {}),
            "info": dict(result.info), "checks": list(result.checks)}


def _report(run: _Run) -> dict[str, Any]:
    from archspace.report.build import write_report

    run.need("report", "search")
    index = write_report(run.dir / "search.db", run.dir / "report")
    page = run.dir / "tinynas.html"
    write_text_atomic(page, stage_page(run.config, run.state["stages"]))
    return {"report": str(index.relative_to(run.dir)), "page": page.name}


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def stage_page(config: TinyNASConfig, stages: Mapping[str, Any]) -> str:
    """An HTML page of every recorded stage (every value escaped)."""
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>TinyNAS run</title>"
             "</head><body>", "<h1>TinyNAS run</h1>",
             f"<p>limits: {_cell(', '.join(config.constraints()))}; memory model "
             f"{_cell(config.memory_model)}; seed {config.seed}</p>"]
    sel = stages.get("select")
    if sel:
        parts += ["<h2>1. Space selection (FLOPs distribution)</h2>",
                  f"<p>{_cell(sel['reason'])}</p>", "<img src='select/flops_cdf.png' "
                  "alt='MACs CDF of satisfying models per family member' width='560'>",
                  "<table border='1'><tr><th>member</th><th>satisfying</th><th>mean MACs</th>"
                  "</tr>"]
        for s in sel["spaces"]:
            parts.append(f"<tr><td>{_cell(s.get('label'))}</td><td>{_cell(s.get('n_ok'))}/"
                         f"{_cell(s.get('n'))}</td><td>{_cell(s.get('mean_macs'))}</td></tr>")
        parts.append("</table>")
    sn = stages.get("supernet")
    if sn:
        hist = ", ".join(f"{h:.3f}" for h in sn.get("history") or [])
        parts += ["<h2>2. Supernet</h2>", f"<p>{_cell(sn.get('label'))} at "
                  f"{_cell(sn.get('resolution'))}px, {_cell(sn.get('epoch'))} epochs on "
                  f"{_cell(sn.get('dataset'))}; loss per epoch {_cell(hist)}</p>"]
        metrics = sn.get("metrics") or {}
        if metrics:
            parts.append("<ul>" + "".join(f"<li>{_cell(k)}: {_cell(v)}</li>"
                                          for k, v in metrics.items()) + "</ul>")
    se = stages.get("search")
    if se:
        b = se["best"]
        parts += ["<h2>3. Evolution on the supernet</h2>",
                  f"<p>{_cell(se['trials'])} trials ({_cell(se['counts'])}); best #"
                  f"{_cell(b['number'])}: {_cell(b['score'])}% with inherited weights</p>",
                  f"<p><code>{_cell(b['arch'])}</code></p>",
                  "<p>cost: " + ", ".join(f"{_cell(k)} {_cell(v)}"
                                          for k, v in b["cost"].items()) + "</p>",
                  "<p><a href='report/index.html'>the search's report</a></p>"]
    ex = stages.get("export")
    if ex:
        parts += ["<h2>4. Fine-tuned and exported</h2>",
                  f"<p>trial #{_cell(ex['trial'])} to <code>export/</code>: "
                  f"{_cell(', '.join(ex['files']))}; weights {_cell(ex['weights'])}</p>"]
        shown = {**{k: v for k, v in ex["info"].items() if not isinstance(v, (dict, list))},
                 **(ex.get("metrics") or {})}
        if shown:
            parts.append("<ul>" + "".join(f"<li>{_cell(k)}: {_cell(v)}</li>"
                                          for k, v in shown.items()) + "</ul>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def run_tinynas(config: TinyNASConfig, out_dir: str | os.PathLike[str],
                stages: Sequence[str] = STAGES, *, progress: bool = False,
                supernet_progress: Callable[[int, int, float], None] | None = None,
                log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run ``stages`` (default all, in order) of a TinyNAS search with ``config`` in
    ``out_dir``; returns the state: the config and every recorded stage's outcome. A stage
    recorded already is skipped; an interrupted supernet or search continues from its file."""
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise TinyNASError(f"unknown stage {bad[0]!r}; allowed: {', '.join(STAGES)}")
    check_config(config)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise TinyNASError(f"{out} is a file; give a folder for the run")
    out.mkdir(parents=True, exist_ok=True)
    run = _Run(out, config, log)
    for stage in STAGES:
        if stage not in stages:
            continue
        if run.done(stage) is not None and stage != "report":
            run.log(f"{stage}: recorded already")
            continue
        if stage == "select":
            outcome = _select(run)
        elif stage == "supernet":
            outcome = _supernet(run, supernet_progress)
        elif stage == "search":
            outcome = _search(run, progress)
        elif stage == "export":
            outcome = _export(run)
        else:
            run.record("report", {"page": "tinynas.html"})  # the page lists itself
            outcome = _report(run)
        run.record(stage, outcome)
    if "report" in stages:  # the page shows the final state
        write_text_atomic(out / "tinynas.html", stage_page(config, run.state["stages"]))
    return run.state
