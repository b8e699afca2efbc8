"""``archspace sample``: random architectures, one per line."""

from __future__ import annotations

import json
import random

import click

from archspace.cli._common import Bounded, load_space, param_option, seed_option, space_argument
from archspace.limits import MAX_ARCHS

__all__ = ["sample"]


@click.command("sample")
@space_argument
@param_option
@click.option("-n", "count", type=Bounded(1, MAX_ARCHS), default=1, show_default=True,
              help="How many archs.")
@seed_option("Random seed (default: fresh entropy).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def sample(space_name: str, params: tuple[str, ...], count: int, seed: int | None,
           as_json: bool) -> None:
    """Print N archs of SPACE drawn uniformly, as canonical strings (or JSON lines)."""
    space = load_space(space_name, params)
    rng = random.Random(seed)
    for _ in range(count):
        arch = space.sample(rng)
        click.echo(json.dumps(space.arch_to_json(arch)) if as_json else space.format_arch(arch))
