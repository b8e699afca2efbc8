"""The rung and bracket arithmetic of successive halving and Hyperband.

Successive halving (Jamieson & Talwalkar, AISTATS 2016) evaluates n configurations at a small
resource, keeps the best 1/eta of them and multiplies their resource by eta, until one
configuration reaches the maximum. Hyperband (Li et al., "Hyperband: A Novel Bandit-Based
Approach to Hyperparameter Optimization", JMLR 2018, Algorithm 1) runs successive halving in
brackets s = s_max, ..., 0 that trade the number of configurations against the resource each
starts with. With R = max_resource / min_resource and s_max = floor(log_eta R), bracket s has
s + 1 rungs; rung i holds n_i = floor(n eta^-i) configurations at r_i = R eta^(i-s) units of
``min_resource``, where n = ceil((s_max + 1) eta^s / (s + 1)).

The rung resources are Li et al.'s, anchored at the top: ``max_resource / eta**(s_max - k)`` for
rung k = 0, ..., s_max, rounded down to whole units. When R is a power of eta they are
``min_resource * eta**k``; otherwise the bottom rung lies between ``min_resource`` and
``eta * min_resource`` (``--min-resource 1 --max-resource 10 --eta 3``: rungs 1, 3, 10).
"""

from __future__ import annotations

from dataclasses import dataclass

from archspace.errors import ArchspaceError

__all__ = ["Bracket", "check_resources", "hyperband_brackets", "rung_resources", "s_max"]


def check_resources(min_resource: object, max_resource: object, eta: object) -> None:
    """Raise :class:`ArchspaceError` unless the three are whole numbers with
    ``1 <= min_resource <= max_resource`` and ``eta >= 2``."""
    for name, value, low in (("--min-resource", min_resource, 1),
                             ("--max-resource", max_resource, 1), ("--eta", eta, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ArchspaceError(f"{name} must be a whole number >= {low}, got {value!r}")
    if min_resource > max_resource:  # type: ignore[operator]
        raise ArchspaceError(f"--min-resource {min_resource} is above --max-resource "
                             f"{max_resource}; allowed: min_resource <= max_resource")


def s_max(min_resource: int, max_resource: int, eta: int) -> int:
    """floor(log_eta(max / min)), computed in integers (no rounding error at exact powers)."""
    s, r = 0, min_resource
    while r * eta <= max_resource:
        r *= eta
        s += 1
    return s


def rung_resources(min_resource: int, max_resource: int, eta: int) -> tuple[int, ...]:
    """The resources of the s_max + 1 rungs of a full successive-halving bracket."""
    s = s_max(min_resource, max_resource, eta)
    return tuple(max_resource // eta**(s - k) for k in range(s + 1))


@dataclass(frozen=True)
class Bracket:
    """One successive-halving bracket: ``sizes[i]`` configurations at ``resources[i]``."""

    s: int
    sizes: tuple[int, ...]
    resources: tuple[int, ...]


def hyperband_brackets(min_resource: int, max_resource: int, eta: int) -> tuple[Bracket, ...]:
    """Hyperband's brackets s = s_max, ..., 0, most exploratory first (Li et al. 2018, Alg. 1)."""
    top = s_max(min_resource, max_resource, eta)
    resources = rung_resources(min_resource, max_resource, eta)
    out = []
    for s in range(top, -1, -1):
        n = -(-(top + 1) * eta**s // (s + 1))  # ceil, in integers
        sizes = tuple(max(1, n // eta**i) for i in range(s + 1))
        out.append(Bracket(s, sizes, resources[top - s:]))
    return tuple(out)
