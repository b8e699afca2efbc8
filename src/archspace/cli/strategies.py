"""``archspace strategies``: the search strategies a study can use, with their options."""

from __future__ import annotations

import json

import click

from archspace.cli._common import console, print_table

__all__ = ["strategies"]


@click.command("strategies")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def strategies(as_json: bool) -> None:
    """List the search strategies: name, summary, paper and options."""
    from archspace.strategies import list_strategies

    rows = list_strategies()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="archspace strategies (options: -s NAME=VALUE; allowed values: --json)")
    table.add_column("name", style="bold")
    table.add_column("summary", ratio=2, min_width=20)
    table.add_column("paper", ratio=1, min_width=12)
    table.add_column("options", ratio=1, min_width=12)
    for r in rows:
        opts = "\n".join(f"{o['name']}={o['default']}" for o in r.get("options", ()))
        table.add_row(r["name"], escape(str(r.get("summary", ""))), escape(str(r.get("paper", ""))),
                      escape(opts or "-"))
    print_table(console(), table)
