"""The space layer on a hand-made space: conditional depth, exact size, moves, restriction."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archspace import Arch, ArchError, Decision, Space, SpaceError


class Toy(Space):
    name = "toy"

    def __init__(self) -> None:
        ds = [Decision.of("depth", (1, 2, 3))]
        for b in range(3):
            cond = None if b == 0 else ("depth", range(b + 1, 4))
            ds.append(Decision.of(f"b{b}.op", ("conv", "pool", "skip"), cond))
            ds.append(Decision.of(f"b{b}.k", (3, 5), ("b" + str(b) + ".op", ["conv"])))
        self._set_decisions(ds)


def test_size_counts_conditional_depth_exactly() -> None:
    per_block = 2 + 1 + 1  # conv x 2 kernels, pool, skip
    assert Toy().size() == per_block + per_block**2 + per_block**3
    assert sum(1 for _ in Toy().enumerate()) == Toy().size()


def test_restrict_by_glob_and_exclude() -> None:
    t = Toy().restrict(exclude={"b*.op": ["pool"]})
    assert t.size() == 3 + 3**2 + 3**3
    with pytest.raises(SpaceError, match="matches no decision"):
        Toy().restrict({"nope*": [1]})
    with pytest.raises(SpaceError, match="unknown choices"):
        Toy().restrict({"depth": [9]})


def test_inactive_decisions_are_none_and_checked() -> None:
    t = Toy()
    a = t.make({"depth": 1, "b0.op": "pool"})
    assert a["b1.op"] is None and a["b0.k"] is None
    with pytest.raises(ArchError, match="inactive"):
        t.validate(a.replace(**{"b0.k": 3}))
    with pytest.raises(ArchError, match="missing"):
        t.validate(a.replace(**{"b0.op": "conv"}))


def test_validate_wants_the_choice_and_its_type() -> None:
    """Equal values of another type (True for 1, 3.0 for 3), a missing value and a value for an
    inactive decision are refused, as the per-decision loop words it; every enumerated arch is
    accepted."""
    t = Toy()
    assert all(t.validate(a) is a for a in t.enumerate())
    good = t.make({"depth": 1, "b0.op": "conv", "b0.k": 3})
    for i, bad in ((0, True), (0, 1.0), (2, 3.0), (0, None), (3, "conv")):
        values = list(good.values)
        values[i] = bad
        with pytest.raises(ArchError, match=r"has value|missing|inactive"):
            t.validate(Arch(good.names, tuple(values)))


def test_mutate_resamples_newly_active_decisions() -> None:
    t = Toy()
    rng = random.Random(0)
    for _ in range(200):
        a = t.sample(rng)
        m = t.mutate(a, rng)
        t.validate(m)
        assert sum(x != y for x, y in zip(t.to_indices(a), t.to_indices(m), strict=True)) >= 1


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_round_trips(seed: int) -> None:
    t = Toy()
    a = t.sample(seed)
    assert t.parse_arch(t.format_arch(a)) == a
    assert t.arch_from_json(a.to_json()) == a


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**32), st.text(min_size=1, max_size=3))
def test_mangled_strings_are_rejected_cleanly(seed: int, junk: str) -> None:
    t = Toy()
    s = t.format_arch(t.sample(seed))
    for mangled in (s + junk, junk + s, s.replace("=", junk, 1)):
        try:
            b = t.parse_arch(mangled)
        except ArchError:
            continue
        assert t.validate(b) == b  # a mangling that happens to stay valid must parse exactly
