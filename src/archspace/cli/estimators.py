"""``archspace estimators``: the performance estimators a search can use, with their options."""

from __future__ import annotations

import json

import click

from archspace.cli._common import console, print_table

__all__ = ["estimators"]


@click.command("estimators")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
def estimators(as_json: bool) -> None:
    """List the estimators: name, search metric, summary and options."""
    from archspace.estimators import list_estimators

    rows = list_estimators()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.markup import escape
    from rich.table import Table

    # the metric goes under the name, so that the table fits 80 columns without splitting a word
    table = Table(title="archspace estimators (options: -e NAME=VALUE; allowed values: --json)")
    table.add_column("name\nmetric")
    table.add_column("summary", ratio=3)
    table.add_column("options", ratio=2)
    for r in rows:
        opts = "\n".join(f"{o['name']}={o['default']}" for o in r["options"])
        table.add_row(f"[bold]{escape(r['name'])}[/bold]\n{escape(str(r['metric']))}",
                      escape(str(r["summary"])), escape(opts or "-"))
    print_table(console(), table)
