"""``archspace size``: the exact number of architectures, or one of the space's published size
formulas."""

from __future__ import annotations

import sys

import click

from archspace.cli._common import load_space, param_option, space_argument
from archspace.errors import SpaceError

__all__ = ["size"]


@click.command("size")
@space_argument
@param_option
@click.option("--formula", metavar="NAME", help="Print the space's named size formula instead.")
@click.option("--distinct", is_flag=True,
              help="Count functionally distinct architectures (equivalent encodings once).")
def size(space_name: str, params: tuple[str, ...], formula: str | None, distinct: bool) -> None:
    """Print the exact size of SPACE (an integer, however large)."""
    space = load_space(space_name, params)
    if distinct:
        if formula is not None:
            raise SpaceError("--distinct and --formula exclude each other; give one")
        click.echo(exact(space.distinct_size()))
        return
    if formula is None:
        click.echo(exact(space.size()))
        return
    formulas = space.size_formulas()
    if formula not in formulas:
        raise SpaceError(f"space {space.label} has no size formula {formula!r}; formulas: "
                         f"{', '.join(formulas) or 'none'}")
    click.echo(exact(formulas[formula]))


def exact(n: object) -> str:
    """``n`` in full: an int past Python's 4,300-digit str() limit too."""
    if not isinstance(n, int):
        return str(n)
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return str(n)
    finally:
        sys.set_int_max_str_digits(limit)
