"""Space specs: one string naming a catalog space, its parameters and a restriction.

Design-space comparisons (Radosavovic et al., "On Network Design Spaces for Visual
Recognition", ICCV 2019) compare many sub-spaces of one space; a spec writes each on one line::

    SPEC    := NAME [ "(" PARAM ("," PARAM)* ")" ] [ "[" RULE ("," RULE)* "]" ]
    PARAM   := KEY "=" VALUE          list values separate their items with "|": kernels=3|5
    RULE    := "-" CHOICE             drop CHOICE from every decision that offers it
             | GLOB "=" CHOICE ("|" CHOICE)*    keep only these choices in the matching decisions
             | GLOB "!=" CHOICE ("|" CHOICE)*   drop these choices from the matching decisions

Examples: ``nb201``, ``nb201[-none,-avg_pool_3x3]``, ``nb201[n3.*=nor_conv_3x3|skip_connect]``,
``anynet(variant=C,max_width=64)``, ``mcunet(width=0.5,resolution=144)``,
``anynet(variant=B)[s*.d=1|2]``. Globs match decision names as :meth:`Space.restrict` does.
Malformed specs raise :class:`SpecError` naming the problem and what is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from archspace.errors import ArchspaceError
from archspace.space import Space

__all__ = ["SPEC_HELP", "SpaceSpec", "SpecError", "parse_spec"]

SPEC_HELP = ("NAME[(K=V,...)][[RULE,...]] with RULE one of -CHOICE (drop it everywhere), "
             "GLOB=C1|C2 (keep only these), GLOB!=C1|C2 (drop these); e.g. "
             "nb201[-none,-avg_pool_3x3] or anynet(variant=C)")

_SPEC = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?:\((?P<params>[^()]*)\))?\s*"
                   r"(?:\[(?P<rules>[^\[\]]*)\])?$")
_RULE = re.compile(r"^(?P<glob>[^=!|]+)(?P<op>!=|=)(?P<values>[^=!|]+(?:\|[^=!|]+)*)$")


class SpecError(ArchspaceError):
    """A malformed space spec, or one naming an unknown space, parameter or choice."""


@dataclass(frozen=True)
class SpaceSpec:
    """A parsed spec: catalog name, parameter strings, and choices kept or dropped per glob."""

    text: str
    name: str
    params: tuple[tuple[str, str], ...] = ()
    keep: tuple[tuple[str, tuple[str, ...]], ...] = ()
    drop: tuple[tuple[str, tuple[str, ...]], ...] = ()
    drop_everywhere: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        """The spec as written (whitespace removed): the name used in tables and plots."""
        return self.text

    def build(self, **overrides: Any) -> Space:
        """The restricted space (``overrides`` are extra constructor parameters)."""
        from archspace.spaces import get_space, parse_params

        pairs = [f"{k}={v}" for k, v in self.params]
        try:
            params = parse_params(self.name, pairs)
            space = get_space(self.name, **{**params, **overrides})
        except ImportError as e:
            raise SpecError(f"spec {self.text!r}: space {self.name!r} cannot be imported "
                            f"({e})") from None
        except ArchspaceError as e:
            raise SpecError(f"spec {self.text!r}: {e}") from None
        return _restrict(self, space)


def _restrict(spec: SpaceSpec, space: Space) -> Space:
    try:
        if spec.keep or spec.drop:
            space = space.restrict(allowed=dict(spec.keep) or None, exclude=dict(spec.drop) or None)
        for choice in spec.drop_everywhere:
            hits = [d.name for d in space.decisions if choice in {str(c) for c in d.choices}]
            if not hits:
                offered = sorted({str(c) for d in space.decisions for c in d.choices})
                raise SpecError(f"spec {spec.text!r}: no decision of {space.label} offers "
                                f"{choice!r}; choices: {', '.join(offered[:20])}")
            space = space.restrict(exclude={n: [choice] for n in hits})
    except SpecError:
        raise
    except ArchspaceError as e:
        raise SpecError(f"spec {spec.text!r}: {e}") from None
    return space


def _split(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",")]
    if any(not t for t in items):
        raise ValueError("empty item")
    return items


def _params(text: str, spec: str) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for item in _split(text):
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise SpecError(f"spec {spec!r}: malformed parameter {item!r}; expected K=V "
                            "(list values as a|b|c)")
        if any(k == key.strip() for k, _ in out):
            raise SpecError(f"spec {spec!r}: parameter {key.strip()!r} given twice")
        out.append((key.strip(), ",".join(v.strip() for v in value.split("|"))))
    return tuple(out)


def _rules(text: str, spec: str) -> tuple[list[tuple[str, tuple[str, ...]]],
                                          list[tuple[str, tuple[str, ...]]], list[str]]:
    keep: list[tuple[str, tuple[str, ...]]] = []
    drop: list[tuple[str, tuple[str, ...]]] = []
    everywhere: list[str] = []
    for item in _split(text):
        if item.startswith("-"):
            choice = item[1:].strip()
            if not choice or any(c in choice for c in "=|! "):
                raise SpecError(f"spec {spec!r}: malformed rule {item!r}; expected -CHOICE")
            everywhere.append(choice)
            continue
        m = _RULE.match(item)
        if not m:
            raise SpecError(f"spec {spec!r}: malformed rule {item!r}; allowed: -CHOICE, "
                            "GLOB=C1|C2 or GLOB!=C1|C2")
        values = tuple(m["values"].split("|"))
        (keep if m["op"] == "=" else drop).append((m["glob"], values))
    return keep, drop, everywhere


def parse_spec(text: str) -> SpaceSpec:
    """Parse one spec (see the module docstring); raises :class:`SpecError` when malformed.

    The space and its choices are only checked by :meth:`SpaceSpec.build`.
    """
    compact = re.sub(r"\s+", "", text)
    m = _SPEC.match(compact)
    if not compact or not m:
        raise SpecError(f"malformed space spec {text!r}; expected {SPEC_HELP}")
    try:
        params = _params(m["params"], compact) if m["params"] is not None else ()
        keep, drop, everywhere = (_rules(m["rules"], compact) if m["rules"] is not None
                                  else ([], [], []))
    except ValueError:
        raise SpecError(f"malformed space spec {text!r}: empty item between commas; expected "
                        f"{SPEC_HELP}") from None
    globs = [g for g, _ in keep + drop]
    if len(set(globs)) != len(globs):
        raise SpecError(f"spec {compact!r}: a decision glob appears twice; give all its "
                        "choices in one rule (GLOB=C1|C2)")
    return SpaceSpec(compact, m["name"], params, tuple(keep), tuple(drop), tuple(everywhere))
