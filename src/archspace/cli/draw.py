"""``archspace draw``: a picture of one architecture (cells as DAGs, chains as strips)."""

from __future__ import annotations

from pathlib import Path

import click

from archspace.cli._common import arch_options, load_space, param_option, select_archs, space_argument

__all__ = ["draw"]

FORMATS = (".png", ".svg", ".pdf")


@click.command("draw")
@space_argument
@param_option
@arch_options(sample_flag=True)
@click.option("-o", "--output", required=True, metavar="FILE.png",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Image to write (.png, .svg or .pdf).")
def draw(space_name: str, params: tuple[str, ...], arch_text: str | None, named: str | None,
         sample: bool, seed: int | None, output: Path) -> None:
    """Draw one arch of SPACE to FILE and print the file's path."""
    if output.suffix.lower() not in FORMATS:
        raise click.BadParameter(f"{str(output)!r} must end in one of {', '.join(FORMATS)}",
                                 param_hint="'-o'")
    if not output.parent.is_dir():
        raise click.BadParameter(f"directory {str(output.parent)!r} does not exist",
                                 param_hint="'-o'")
    space = load_space(space_name, params)
    archs = select_archs(space, arch_text, named, 1 if sample else None, seed)
    if len(archs) != 1:
        raise click.UsageError(f"draw takes one arch; --arch gave {len(archs)}")
    from archspace.plots import draw_diagram

    click.echo(draw_diagram(space.diagram(archs[0]), output))
