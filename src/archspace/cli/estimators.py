"""``archspace estimators``: the performance estimators a search can use, with their options,
and the zero-cost proxies (each an estimator, and combinable with ``zerocost -e proxies=...``)."""

from __future__ import annotations

import json
from typing import Any

import click

from archspace.cli._common import console, print_table

__all__ = ["estimators"]


@click.command("estimators")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of a table.")
@click.option("--proxies", "only_proxies", is_flag=True,
              help="List only the zero-cost proxies (with --json: as a JSON list).")
def estimators(as_json: bool, only_proxies: bool) -> None:
    """List the estimators: name, search metric, summary and options; then the zero-cost
    proxies."""
    from archspace.estimators import list_estimators
    from archspace.estimators.zero_cost import list_proxies

    rows = list_proxies() if only_proxies else list_estimators()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not only_proxies:
        _estimator_table(rows)
    _proxy_table(list_proxies())


def _estimator_table(rows: list[dict[str, Any]]) -> None:
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


def _proxy_table(rows: list[dict[str, str]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="zero-cost proxies (each an estimator; several: zerocost -e proxies=A,B)")
    table.add_column("name", style="bold")
    table.add_column("needs", ratio=1)
    table.add_column("paper", ratio=3)
    for r in rows:
        table.add_row(escape(r["name"]), escape(r["needs"]), escape(r["paper"]))
    print_table(console(), table)
