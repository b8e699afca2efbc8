"""The strategy registry: lookup, option conversion and checking, listing, lazy imports."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest

from archspace import ArchspaceError, Decision, Space
from archspace.strategies import (
    DEFAULT_STRATEGY,
    STRATEGIES,
    StrategyError,
    get_strategy,
    list_strategies,
    strategy_class,
)


class Tiny(Space):
    name = "tiny"

    def __init__(self) -> None:
        self._set_decisions(Decision.of(f"d{i}", ("a", "b", "c")) for i in range(3))


def test_unknown_strategy_lists_the_available_ones() -> None:
    with pytest.raises(StrategyError, match="unknown strategy 'nope'; available: guided, random"):
        get_strategy("nope", Tiny())
    assert issubclass(StrategyError, ArchspaceError)


def test_unknown_option_lists_the_allowed_ones() -> None:
    with pytest.raises(StrategyError, match="has no option 'size'; allowed: population, sample"):
        get_strategy("evolution", Tiny(), size=3)
    with pytest.raises(StrategyError,
                       match="has no option 'x'; allowed: prior, prior_pool, prior_dataset"):
        get_strategy("random", Tiny(), x=1)


@pytest.mark.parametrize(("name", "options", "match"), [
    ("evolution", {"population": "many"}, r"population='many' .* must be an integer in 2\.\.10000000"),
    ("evolution", {"population": 1}, "must be an integer in 2..10000000"),
    ("local", {"improvement": "steepest"}, "must be one of first, best"),
    ("guided", {"clip": 1.5}, r"must be a number in \[0, 1\]"),
    ("tpe", {"multivariate": "maybe"}, "must be true or false"),
    ("evolution", {"sample": 2.5}, "must be an integer"),
])
def test_malformed_options_name_what_is_allowed(name: str, options: dict[str, object],
                                                match: str) -> None:
    with pytest.raises(StrategyError, match=match):
        get_strategy(name, Tiny(), **options)


def test_command_line_strings_are_converted() -> None:
    s = get_strategy("evolution", Tiny(), seed=3, population="7", sample="2")
    assert (s.population_size, s.sample_size, s.seed) == (7, 2, 3)  # type: ignore[attr-defined]
    t = get_strategy("tpe", Tiny(), multivariate="false")
    assert t.multivariate is False  # type: ignore[attr-defined]
    with pytest.raises(StrategyError, match=r"seed .* must be an integer"):
        get_strategy("random", Tiny(), seed="1")  # type: ignore[arg-type]


def test_listing_is_json_and_matches_the_constructors() -> None:
    rows = list_strategies()
    json.dumps(rows)
    assert [r["name"] for r in rows] == list(STRATEGIES)
    assert [r["name"] for r in rows if r["default"]] == [DEFAULT_STRATEGY]
    for r in rows:
        assert r["summary"] and r["paper"]
        params = inspect.signature(strategy_class(r["name"]).__init__).parameters
        declared = {o["name"]: o["default"] for o in r["options"]}
        assert {k: p.default for k, p in params.items() if k not in ("self", "space", "seed")} \
            == declared, r["name"]
    assert {r["name"] for r in rows if r["multi_objective"]} == {"nsga2"}
    # a differentiable search derives its cell from trained weights; the study screens it
    assert {r["name"] for r in rows if not r["avoids_infeasible"]} == {"darts", "gdas"}


def test_importing_the_registry_imports_no_strategy_module() -> None:
    code = ("import sys, archspace.strategies as s; s.list_strategies; "
            "print(sorted(m for m in ('torch', 'optuna', 'archspace.strategies.guided') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
