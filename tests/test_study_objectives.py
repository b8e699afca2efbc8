"""Objectives: MnasNet's reward, multi-objective values, Pareto fronts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archspace.study.objectives import (
    ObjectiveError,
    Objectives,
    dominates,
    non_dominated_sort,
    pareto_front,
    parse_reward,
)

COST = {"params": 2e6, "macs": 600e6, "peak_sram_bytes": 1e5, "flash_bytes": 2e6}


def test_single_objective_is_the_estimator_metric() -> None:
    obj = Objectives.build("acc")
    assert obj.evaluate({"acc": 91.5, "x": 1.0}, COST) == (91.5, (91.5,))
    assert not obj.multi
    with pytest.raises(KeyError, match="needs metric 'acc'"):
        obj.evaluate({"x": 1.0}, COST)


def test_mnasnet_reward() -> None:
    r = parse_reward("macs:300M:-0.07")
    assert (r.metric, r.target, r.alpha, r.beta) == ("macs", 300e6, -0.07, -0.07)
    assert r(75.0, COST) == pytest.approx(75.0 * 2.0**-0.07)
    assert r(75.0, {**COST, "macs": 300e6}) == pytest.approx(75.0)
    hard = parse_reward("macs:300M:0:-1")  # MnasNet's alpha=0, beta=-1
    assert hard(75.0, {**COST, "macs": 150e6}) == pytest.approx(75.0)
    assert hard(75.0, COST) == pytest.approx(37.5)
    obj = Objectives.build("acc", reward="peak_sram:200kB:-0.5")
    score, values = obj.evaluate({"acc": 80.0}, COST)
    assert score == pytest.approx(80.0 * 0.5**-0.5) and values == (score,)


@pytest.mark.parametrize(("text", "needle"), [
    ("macs:300M", "malformed reward"),
    ("latency:5:-0.07", "latency needs a device"),
    ("macs:300MB:-0.07", "bad target"),
    ("macs:0:-0.07", "positive"),
    ("macs:300M:abc", "exponents must be numbers"),
    ("macs:300M:nan", "finite"),
])
def test_bad_rewards(text: str, needle: str) -> None:
    with pytest.raises(ObjectiveError, match=needle):
        parse_reward(text)


def test_multi_objective_negates_costs() -> None:
    obj = Objectives.build("acc", ["accuracy", "macs", "other:min", "params:max"])
    assert obj.multi
    assert [o.key for o in obj.items] == ["acc", "macs", "other", "params"]
    score, values = obj.evaluate({"acc": 90.0, "other": 3.0}, COST)
    assert score == 90.0 and values == (90.0, -600e6, -3.0, 2e6)


@pytest.mark.parametrize(("names", "reward", "needle"), [
    (["acc", "acc"], None, "given twice"),
    (["acc:up"], None, "malformed objective"),
    (["acc", "macs"], "macs:1M:-0.1", "single objective"),
    (["macs"], "macs:1M:-0.1", "not cost"),
])
def test_bad_objectives(names: list[str], reward: str | None, needle: str) -> None:
    with pytest.raises(ObjectiveError, match=needle):
        Objectives.build("acc", names, reward)


def test_pareto_front_small_cases() -> None:
    pts = [(1.0, 5.0), (2.0, 4.0), (1.5, 3.0), (2.0, 4.0), (0.0, 6.0), (3.0, 1.0), (3.0, 0.5)]
    assert pareto_front(pts) == [0, 1, 3, 4, 5]
    assert non_dominated_sort(pts) == [[0, 1, 3, 4, 5], [2, 6]]
    assert pareto_front([]) == []
    assert pareto_front([(1.0,), (3.0,), (2.0,)]) == [1]
    assert dominates((1, 1), (1, 0)) and not dominates((1, 1), (1, 1))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(*[st.integers(0, 6)] * 3), max_size=25))
def test_non_dominated_sort_matches_brute_force(points: list[tuple[int, int, int]]) -> None:
    pts = [tuple(float(x) for x in p) for p in points]
    fronts = non_dominated_sort(pts)
    assert sorted(i for f in fronts for i in f) == list(range(len(pts)))
    remaining = set(range(len(pts)))
    for front in fronts:
        brute = sorted(i for i in remaining if not any(dominates(pts[j], pts[i]) for j in remaining))
        assert front == brute
        remaining -= set(front)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4).flatmap(
    lambda k: st.lists(st.tuples(*[st.integers(0, 4)] * k), max_size=40)))
def test_pareto_front_is_the_first_non_dominated_front(points: list[tuple[int, ...]]) -> None:
    pts = [tuple(float(x) for x in p) for p in points]
    assert pareto_front(pts) == (non_dominated_sort(pts)[0] if pts else [])


def test_pareto_front_scales_to_a_long_study() -> None:
    import random

    rng = random.Random(0)
    pts = [(rng.random(), -rng.random()) for _ in range(20_000)]
    front = pareto_front(pts)  # the pairwise sort would make 2e8 comparisons here
    best = max(range(len(pts)), key=lambda i: pts[i][0])
    assert best in front and all(not dominates(pts[j], pts[front[0]]) for j in range(len(pts)))
    with pytest.raises(ValueError, match="same number of objectives"):
        pareto_front([(1.0, 2.0), (1.0,)])
