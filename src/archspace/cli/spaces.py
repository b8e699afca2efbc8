"""``archspace spaces``: the catalog, with each space's exact size computed on demand."""

from __future__ import annotations

import json
from typing import Any

import click

from archspace.cli._common import console, sci
from archspace.spaces import get_space, list_spaces

__all__ = ["space_row", "spaces"]


def space_row(name: str) -> dict[str, Any]:
    """Name, kind, paper, decision count and exact size of catalog space ``name`` (with its
    default parameters); a space that fails to load gets an ``error`` entry instead."""
    try:
        space = get_space(name)
        n = space.size()
    except Exception as e:  # one broken space must not hide the others
        return {"name": name, "error": " ".join(f"{type(e).__name__}: {e}".split())}
    return {"name": name, "kind": space.kind, "paper": space.paper,
            "decisions": len(space.decisions), "size": n, "size_sci": sci(n)}


@click.command("spaces")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def spaces(as_json: bool) -> None:
    """List the catalog: name, kind, paper and exact size of every space."""
    rows = [space_row(name) for name in list_spaces()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="archspace catalog (default parameters)")
    table.add_column("name", style="bold")
    table.add_column("kind")
    table.add_column("decisions", justify="right")
    table.add_column("size", justify="right", overflow="fold")
    table.add_column("≈", justify="right")
    table.add_column("paper", ratio=1)
    for r in rows:
        if "error" in r:
            table.add_row(r["name"], "", "", "[red]error[/red]", "", f"[red]{escape(r['error'])}[/red]")
        else:
            big = r["size"] >= 10**6
            table.add_row(r["name"], r["kind"], str(r["decisions"]), str(r["size"]),
                          r["size_sci"] if big else "", r["paper"])
    console().print(table)
