"""``archspace spaces``: the catalog, with each space's exact size computed on demand."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from archspace.cli._common import console, fits, print_table, sci
from archspace.spaces import get_space, list_spaces

if TYPE_CHECKING:
    from rich.table import Table

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
    out = console()
    table = _table(rows, exact_digits=None)
    if fits(out, table):
        print_table(out, table)
        return
    # A narrow terminal: sizes too long for the table are written in full under it, one a line.
    digits = 13
    print_table(out, _table(rows, exact_digits=digits))
    long = [r for r in rows if "size" in r and len(str(r["size"])) > digits]
    if long:
        out.print("exact sizes (too long for the table):")
        width = max(len(r["name"]) for r in long)
        for r in long:
            out.print(f"  {r['name']:<{width}}  {r['size']}", soft_wrap=True)


def _table(rows: list[dict[str, Any]], exact_digits: int | None) -> Table:
    """The catalog table; with ``exact_digits``, a size of more digits shows as its ``≈``
    value (and the ``≈`` column is left out)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="archspace catalog (default parameters)")
    table.add_column("name", style="bold")
    table.add_column("kind")
    table.add_column("decisions", justify="right")
    table.add_column("size", justify="right")
    if exact_digits is None:
        table.add_column("≈", justify="right")
    table.add_column("paper", ratio=1)
    for r in rows:
        if "error" in r:
            cells = [r["name"], "", "", "[red]error[/red]", "", f"[red]{escape(r['error'])}[/red]"]
        else:
            exact = str(r["size"])
            big = r["size"] >= 10**6
            cells = [r["name"], r["kind"], str(r["decisions"]), exact, r["size_sci"] if big else "",
                     escape(r["paper"])]
            if exact_digits is not None and len(exact) > exact_digits:
                cells[3] = f"≈ {r['size_sci']}"
        if exact_digits is not None:
            del cells[4]
        table.add_row(*cells)
    return table
