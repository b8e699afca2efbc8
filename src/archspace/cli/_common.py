"""Options and helpers the subcommands share: loading a space, choosing archs, printing."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import click

from archspace.errors import ArchError, SpaceError
from archspace.inputs import check_json_depth, read_text_file
from archspace.limits import MAX_PROFILED, MAX_SEED, int_range
from archspace.space import Arch, Space
from archspace.spaces import Trust, get_space, parse_params

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

__all__ = ["SEED", "Bounded", "BoundedFloat", "arch_options", "console", "fits", "load_space",
           "param_option", "print_table", "read_archs", "sci", "seed_option", "select_archs",
           "space_argument", "trust_options", "trust_value"]

F = TypeVar("F", bound=Callable[..., Any])

space_argument = click.argument("space_name", metavar="SPACE")
param_option = click.option("-p", "--param", "params", multiple=True, metavar="K=V",
                            help="Space parameter, repeatable (e.g. --param B=5).")


class Bounded(click.IntRange):
    """An integer in ``low..high`` (the caps of :mod:`archspace.limits`): anything else, a
    float, ``10**30`` or an integer of thousands of digits included, fails with one line naming
    the option and the range."""

    def __init__(self, low: int, high: int) -> None:
        super().__init__(min=low, max=high)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        allowed = int_range(int(self.min or 0), int(self.max or 0))
        if isinstance(value, bool):
            self.fail(f"{value!r} is not {allowed}", param, ctx)
        if isinstance(value, int):
            number = value
        else:
            text = str(value).strip()
            try:
                number = int(text)
            except ValueError:
                shown = text if len(text) <= 40 else text[:37] + "..."
                self.fail(f"{shown!r} is not {allowed}", param, ctx)
        if not self.min <= number <= self.max:  # type: ignore[operator]
            shown = str(number) if abs(number) < 10**30 else "a number of over 30 digits"
            self.fail(f"{shown} is not {allowed}", param, ctx)
        return number


SEED = Bounded(0, MAX_SEED)


class BoundedFloat(click.FloatRange):
    """A finite number in ``[low, high]`` (``(low, high]`` with ``low_open``); ``nan``,
    ``inf`` and overflowing values fail with one line naming the option and the range."""

    def __init__(self, low: float, high: float, low_open: bool = False) -> None:
        super().__init__(min=low, max=high, min_open=low_open)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        low, high = float(self.min or 0), float(self.max or 0)
        allowed = f"a number in {'(' if self.min_open else '['}{low:g}, {high:g}]"
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            text = str(value)
            self.fail(f"{text if len(text) <= 40 else text[:37] + '...'!r} is not {allowed}",
                      param, ctx)
        if not (math.isfinite(number) and (low < number if self.min_open else low <= number)
                and number <= high):
            self.fail(f"{number:g} is not {allowed}", param, ctx)
        return number


def seed_option(help: str, default: int | None = None) -> Callable[[F], F]:
    """``--seed``, an integer in ``0..MAX_SEED`` (numpy's and optuna's range)."""
    return click.option("--seed", type=SEED, default=default, show_default=default is not None,
                        help=help)


def trust_options(f: F) -> F:
    """--space and --trust-code: consent to import the user space (``module:Class``) that a
    study file names; a catalog space needs neither."""
    f = click.option("--trust-code", is_flag=True,
                     help="Import the user space (module:Class) the study file names: its "
                          "module's code runs. Only for files you trust.")(f)
    return click.option("--space", "space_name", metavar="MODULE:CLASS",
                        help="The study's space, named again: allows importing it when it is a "
                             "user space; must equal the stored one.")(f)


def trust_value(space_name: str | None, trust_code: bool) -> Trust:
    """What the library's ``trust`` argument gets from --space / --trust-code (--space wins:
    it also has to match the stored space)."""
    if space_name is not None and not space_name.strip():
        raise click.BadParameter("is empty; give the study's space (e.g. mymodule:MySpace) or "
                                 "leave --space out", param_hint="'--space'")
    return space_name if space_name else trust_code


def arch_options(sample_flag: bool) -> Callable[[F], F]:
    """--arch / --named / --sample (a flag, or a count N) and --seed."""
    sample = (click.option("--sample", is_flag=True, help="Draw one random arch.") if sample_flag
              else click.option("--sample", type=Bounded(1, MAX_PROFILED), metavar="N",
                                help="Profile N random archs."))

    def decorate(f: F) -> F:
        f = seed_option("Seed for --sample (default: random).")(f)
        f = sample(f)
        f = click.option("--named", metavar="NAME", help="A reference arch of the space's paper.")(f)
        return click.option("--arch", "arch_text", metavar="ARCH",
                            help="Arch string (name=value,...), a JSON object, or @FILE "
                                 "holding either (one per line).")(f)
    return decorate


def console() -> Console:
    """A rich console on stdout (looked up when printing, so redirection works)."""
    from rich.console import Console

    return Console(highlight=False)


def fits(out: Console, table: Table) -> bool:
    """Whether ``table`` fits ``out``'s width with every cell's longest word whole (rich wraps
    cells at spaces; a word, a number too, only splits when its column is narrower)."""
    return _min_width(out, table) <= out.width


def _min_width(out: Console, table: Table) -> int:
    from rich.measure import Measurement

    return Measurement.get(out, out.options.update_width(1 << 20), table).minimum


def print_table(out: Console, table: Table, fold: tuple[str, ...] = ()) -> None:
    """Print ``table`` in the terminal's width (``COLUMNS``) with no word of a cell split: the
    columns get their longest word and share the rest by how much more they could use (rich
    alone would shrink the widest column first, splitting its numbers). The columns headed
    ``fold`` (names, not numbers) may fold to 8 characters when that is what it takes. A
    table that cannot fit is printed at the width it needs: a line longer than the terminal
    beats a number split or cut."""
    opts = out.options.update_width(1 << 20)
    for c in table.columns:
        if c.header in fold:
            c.overflow = "fold"
    ranges = [table._measure_column(out, opts, c) for c in table.columns]
    lows = [min(r.minimum, 8 + _padding(out, table, c)) if c.header in fold else r.minimum
            for r, c in zip(ranges, table.columns, strict=True)]
    highs = [r.maximum for r in ranges]
    frame = _min_width(out, table) - sum(r.minimum for r in ranges)
    room = out.width - frame
    if sum(highs) <= room:
        out.print(table)
        return
    if sum(lows) > room:
        out.print(table, width=sum(lows) + frame, crop=False)
        return
    spare, wants = room - sum(lows), [h - lo for lo, h in zip(lows, highs, strict=True)]
    widths = [lo + spare * w // sum(wants) for lo, w in zip(lows, wants, strict=True)]
    for k in sorted(range(len(widths)), key=lambda k: highs[k] - widths[k], reverse=True):
        if sum(widths) < room and widths[k] < highs[k]:
            widths[k] += 1
    for c, w in zip(table.columns, widths, strict=True):
        c.width = w - _padding(out, table, c)
    out.print(table)


def _padding(out: Console, table: Table, column: Any) -> int:
    """Cells' horizontal padding in ``column`` (what rich adds to a fixed column width)."""
    width, column.width = column.width, 0
    try:
        return int(table._measure_column(out, out.options.update_width(1 << 20), column).minimum)
    finally:
        column.width = width


def sci(n: int) -> str:
    """``n`` in scientific notation with three significant digits (exact for any size)."""
    return format(Decimal(n), ".2e")


def load_space(name: str, pairs: tuple[str, ...] | list[str]) -> Space:
    """Catalog space ``name`` built with ``--param`` pairs."""
    try:
        return get_space(name, **parse_params(name, list(pairs)))
    except ImportError as e:
        raise SpaceError(f"space {name!r} is in the catalog but cannot be imported "
                         f"({type(e).__name__}: {e})") from None


def select_archs(space: Space, arch_text: str | None, named: str | None, sample: int | None,
                 seed: int | None) -> list[Arch]:
    """The archs chosen by exactly one of --arch, --named, --sample."""
    given = [opt for opt, v in (("--arch", arch_text), ("--named", named), ("--sample", sample))
             if v]
    if len(given) != 1:
        what = "got " + " and ".join(given) if given else "got none"
        raise click.UsageError(f"give exactly one of --arch, --named, --sample ({what})")
    if seed is not None and not sample:
        raise click.UsageError("--seed only applies with --sample")
    if arch_text:
        return read_archs(space, arch_text)
    if named:
        return [space.named(named)]
    rng = random.Random(seed)
    return [space.sample(rng) for _ in range(int(sample or 0))]


def read_archs(space: Space, text: str) -> list[Arch]:
    """Archs from an arch string, a JSON object or list, or ``@file`` holding any of those (or
    several, one per line)."""
    source = "--arch"
    if text.startswith("@"):
        source = text[1:]
        text = read_text_file(source, "arch file", ArchError)
    text = text.strip()
    if not text:
        raise ArchError(f"{source} is empty; expected an arch string "
                        f"({space.arch_format_hint()}) or a JSON object")
    archs = _parse_archs(space, text, source)
    if not archs:
        raise ArchError(f"{source} holds no arch; expected an arch string "
                        f"({space.arch_format_hint()}) or a JSON object")
    return archs


def _parse_archs(space: Space, text: str, source: str) -> list[Arch]:
    if text[0] not in "{[":
        return [space.parse_arch(line) for line in text.splitlines() if line.strip()]
    check_json_depth(text, f"{source} JSON", ArchError)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:  # JSON lines, or malformed (then the line names the error)
        return [_from_json(space, line) for line in text.splitlines() if line.strip()]
    except ValueError as e:  # a number past Python's digit limit
        raise ArchError(f"{source} cannot be read as JSON: {' '.join(str(e).split())[:120]}") \
            from None
    return [_from_json(space, o) for o in (obj if isinstance(obj, list) else [obj])]


def _from_json(space: Space, obj: str | Mapping[str, Any]) -> Arch:
    if isinstance(obj, str):
        return space.arch_from_json(obj)
    if isinstance(obj, Mapping) and "decisions" in obj and "params" in obj:
        wanted = json.loads(json.dumps(obj["params"]))
        have = json.loads(json.dumps(space.params))
        if wanted != have:
            hint = " ".join(f"--param {k}={_param_text(v)}" for k, v in wanted.items())
            raise ArchError(f"arch JSON was made with space parameters {wanted or '(defaults)'} "
                            f"but the space has {have or '(defaults)'}; "
                            f"{'pass ' + hint if hint else 'drop the --param options'}")
    return space.arch_from_json(obj)


def _param_text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
