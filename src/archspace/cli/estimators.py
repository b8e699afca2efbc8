"""``archspace estimators``: the performance estimators a search can use, with their options."""

from __future__ import annotations

import json

import click

from archspace.cli._common import console

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

    table = Table(title="archspace estimators (options: -e NAME=VALUE; allowed values: --json)")
    table.add_column("name", style="bold")
    table.add_column("metric")
    table.add_column("summary", ratio=2, min_width=20)
    table.add_column("options", ratio=2, min_width=20)
    for r in rows:
        opts = "\n".join(f"{o['name']}={o['default']}" for o in r["options"])
        table.add_row(r["name"], str(r["metric"]), escape(str(r["summary"])), escape(opts or "-"))
    console().print(table)
