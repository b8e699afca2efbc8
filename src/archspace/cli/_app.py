"""The ``archspace`` click group: every user error becomes one line on stderr and exit status 2.

Library errors (:class:`~archspace.errors.ArchspaceError`) and click's own usage errors are
printed as ``archspace: error: <message>``; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click

from archspace import __version__
from archspace.errors import ArchspaceError

__all__ = ["ArchspaceGroup", "error_line", "make_cli"]

PROG = "archspace"


def error_line(message: str) -> str:
    """``archspace: error: <message>`` on one line."""
    return f"{PROG}: error: " + " ".join(message.split())


def _usage_message(e: click.ClickException) -> str:
    msg = e.format_message()
    ctx = getattr(e, "ctx", None)
    if isinstance(e, click.UsageError) and ctx is not None:
        msg += f" (see '{ctx.command_path} --help')"
    return msg


class ArchspaceGroup(click.Group):
    """A click group whose ``main`` reports user errors as one line and exits with status 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Commands in the order they were registered (the order of ``COMMANDS``)."""
        return list(self.commands)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,  # type: ignore[override]
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> int:
        try:
            rv = super().main(args, prog_name or PROG, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
        except click.exceptions.NoArgsIsHelpError as e:
            e.show()
            code = e.exit_code
        except click.ClickException as e:
            click.echo(error_line(_usage_message(e)), err=True)
            code = e.exit_code
        except ArchspaceError as e:
            click.echo(error_line(str(e)), err=True)
            code = 2
        except click.Abort:
            click.echo("Aborted!", err=True)
            code = 1
        if standalone_mode:
            sys.exit(code)
        return code


def make_cli(commands: Iterable[click.Command]) -> ArchspaceGroup:
    """The top-level group with ``commands`` registered, in order."""

    @click.group(PROG, cls=ArchspaceGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name=PROG)
    def cli() -> None:
        """Neural architecture search built around the search space.

        Every command takes a catalog SPACE (see 'archspace spaces') and its parameters as
        repeated --param K=V.
        """

    group: ArchspaceGroup = cli  # type: ignore[assignment]
    for command in commands:
        group.add_command(command)
    return group
