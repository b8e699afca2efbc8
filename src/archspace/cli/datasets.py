"""``archspace datasets``: the datasets the ``train`` and zero-cost estimators read
(``-e dataset=NAME``), where each is looked for, whether this machine has it and in what form,
its images, classes and resolution when known, and what the decoded-data cache holds; then the
datasets of the dense-task (``segment``, ``detect``) and ``superres`` estimators, with where
each is looked for (:mod:`archspace.datasets.task_catalog`)."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import click

from archspace.cli._common import console

__all__ = ["datasets"]

_NAME = 18  # width of the name column


@click.command("datasets")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--root", metavar="DIR", help="Look where -e root=DIR would (default "
              "$ARCHSPACE_DATA, else ~/.cache/archspace/data).")
@click.option("--load", is_flag=True, help="Decode each dataset found whose arrays are not "
              "cached yet (and cache them), to show its images, classes and resolution.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def datasets(names: tuple[str, ...], root: str | None, load: bool, as_json: bool) -> None:
    """List the datasets (or only NAME..., e.g. imagefolder:PATH, voc:PATH, photos): where
    each is looked for, whether it is here, and the cache of decoded images."""
    from archspace.datasets.catalog import ROOT_ENV, cache_summary, describe_all
    from archspace.datasets.sources import default_root
    from archspace.datasets.task_catalog import describe_task, is_task_dataset, task_datasets

    task_names = [n for n in names if is_task_dataset(n)]
    plain = [n for n in names if not is_task_dataset(n)]
    infos = describe_all(root, plain or None, load) if plain or not names else []
    tasks = [describe_task(n) for n in task_names] if names else task_datasets()
    cache = cache_summary()
    where = str(root) if root else str(default_root())
    if as_json:
        click.echo(json.dumps({"root": where, "root_env": ROOT_ENV,
                               "datasets": [i.as_json() for i in infos], "cache": cache,
                               "dense_datasets": [t.as_json() for t in tasks
                                                  if t.estimators != "superres"],
                               "superres_datasets": [t.as_json() for t in tasks
                                                     if t.estimators == "superres"]},
                              indent=2))
        return
    width = max(console().width, 40)
    lines = ["datasets of the train and zero-cost estimators (-e dataset=NAME)", ""] \
        if infos else []
    for info in infos:
        lines += _rows(info.name, _details(info, where), width)
    if infos:
        lines += ["", *_wrap(f"ROOT is {where} (-e root=DIR; default ${ROOT_ENV}, else "
                             "~/.cache/archspace/data)", width, 0)]
    lines += _wrap(f"cache {cache['dir']} (${cache['env']}, else $XDG_CACHE_HOME/archspace or "
                   f"~/.cache/archspace): {len(cache['entries'])} decoded dataset(s), "
                   f"{_bytes(cache['bytes'])}", width, 0)
    for e in cache["entries"]:
        test = f" + {e['test']:,} held-out" if e["test"] is not None else ""
        lines += _wrap(f"- {e['loader']}: {e['train']:,}{test} images, {e['classes']} classes, "
                       f"{e['resolution']}x{e['resolution']}x{e['channels']}, "
                       f"{_bytes(e['bytes'])}, from {e['source'] or '(unknown)'}", width, 2)
    lines += _task_lines(tasks, width)
    click.echo("\n".join(lines).lstrip("\n"))


def _task_lines(tasks: list[Any], width: int) -> list[str]:
    """The dense-task and super-resolution datasets, a section per estimator group."""
    lines: list[str] = []
    for estimators, doc in (("segment, detect", "docs/dense-tasks.md"),
                            ("superres", "docs/super-resolution.md")):
        group = [t for t in tasks if t.estimators == estimators]
        if group:
            lines += ["", *_wrap(f"datasets of the {estimators.replace(', ', ' and ')} "
                                 f"estimator{'s' if ',' in estimators else ''} (-e "
                                 f"dataset=NAME; {doc})", width, 0), ""]
        for t in group:
            lines += _rows(t.name, _task_details(t), width)
    return lines


def _task_details(info: object) -> list[str]:
    from archspace.datasets.task_catalog import TaskDatasetInfo

    assert isinstance(info, TaskDatasetInfo)
    out = [info.summary]
    if info.form == "bundled":
        out += [f"bundled: {info.looked_for[0]}", *(f"  {p}" for p in info.looked_for[1:])]
    elif info.found:
        out.append(f"found: folder {info.path}")
    else:
        out += [("looks for " if info.name.endswith(":PATH") else "not found; looked for ")
                + ", ".join(info.looked_for)]
    if info.problem is not None:
        out.append(f"problem: {info.problem}")
    return out


def _details(info: object, root: str) -> list[str]:
    from archspace.datasets.catalog import DatasetInfo

    assert isinstance(info, DatasetInfo)
    out = [info.summary]
    if info.form == "bundled":
        out.append(f"bundled: {_shape(info)}")
    elif info.found:
        cached = " (decoded, cached)" if info.cached else ""
        out.append(f"found: {info.form} {_under(info.path or '', root)}{cached}")
        if info.train is not None:
            out.append(_shape(info))
        elif info.problem is None:
            out.append("not decoded yet: the first training run (or --load) decodes and "
                       "caches it")
    elif info.name != "imagefolder:PATH":
        looked = [_under(p, root) for p in info.looked_for]
        out.append("not found; looked for " + ", ".join(looked))
    else:
        out.append("name one to inspect it: archspace datasets imagefolder:PATH")
    if info.problem is not None:
        out.append(f"problem: {info.problem}")
    return out


def _shape(info: object) -> str:
    from archspace.datasets.catalog import DatasetInfo

    assert isinstance(info, DatasetInfo) and info.train is not None
    held = (f" + {info.test:,} held-out images" if info.test is not None else
            " images (no held-out split: validation is a val_fraction share)")
    return (f"{info.train:,} training{held}, {info.classes} classes, "
            f"{info.resolution}x{info.resolution}, {info.channels} "
            f"channel{'s' if info.channels != 1 else ''}")


def _under(path: str, root: str) -> str:
    """``path`` as ``ROOT/...`` when it is under ``root`` (printed once, below the list)."""
    if path == root:
        return "ROOT"
    return "ROOT/" + path[len(root):].lstrip("/") if path.startswith(root.rstrip("/") + "/") \
        else path


def _rows(name: str, details: list[str], width: int) -> list[str]:
    body = [line for d in details for line in _wrap(d, width - _NAME, 2)]
    head = name if len(name) < _NAME else None
    out = [] if head is not None else _wrap(name, width, 0)
    for i, line in enumerate(body):
        label = head if i == 0 and head is not None else ""
        out.append(f"{label or '':<{_NAME}}{line}")
    return out


def _wrap(text: str, width: int, indent: int) -> list[str]:
    """``text`` in lines of at most ``width`` characters, continuation lines indented (a long
    path is broken, not let run past the width)."""
    return textwrap.wrap(text, width, subsequent_indent=" " * indent, break_on_hyphens=False) \
        or [""]


def _bytes(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    raise AssertionError("unreachable")
