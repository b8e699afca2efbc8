"""Zero-cost priors for ``guided``: the proxy decides which archs are evaluated first, its compute
is recorded apart from the trials, and a bad prior name fails before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from archspace.cli import cli
from archspace.estimators.base import EstimatorError
from archspace.estimators.prior import DEFAULT_PRIOR_DATASET, ProxyPrior, parse_prior
from archspace.estimators.zero_cost import PROXIES
from archspace.space import Arch
from archspace.spaces import get_space
from archspace.strategies import StrategyError, get_strategy
from archspace.study import StudyStorage
from archspace.study.runner import Study
from archspace.study.storage import StudyConfig


@pytest.fixture(scope="module")
def nb201():  # type: ignore[no-untyped-def]
    return get_space("nb201")


def _asks(strategy, n: int) -> list[Arch]:  # type: ignore[no-untyped-def]
    """``n`` asks, each told a constant score (the order is then the strategy's alone)."""
    out = []
    for _ in range(n):
        arch = strategy.ask()
        out.append(arch)
        strategy.tell(arch, 50.0, (50.0,))
    return out


def test_parse_prior_names_and_combinations() -> None:
    assert parse_prior("synflow") == ("synflow",)
    assert parse_prior(" synflow + naswot ") == ("synflow", "naswot")
    assert parse_prior("none") == parse_prior("") == parse_prior(None) == ()


@given(st.text(min_size=1, max_size=12).filter(lambda t: t.strip().lower() not in ("", "none")))
@settings(max_examples=40, deadline=None)
def test_parse_prior_refuses_unknown_names(text: str) -> None:
    names = [n.strip() for n in text.split("+")]
    if all(n in PROXIES for n in names) and len(set(names)) == len(names):
        assert parse_prior(text) == tuple(names)
        return
    with pytest.raises(EstimatorError, match=r"allowed|twice"):
        parse_prior(text)


def test_repeated_proxy_is_refused() -> None:
    with pytest.raises(EstimatorError, match="twice"):
        parse_prior("synflow+synflow")


def test_bad_prior_option_is_a_strategy_error_listing_the_proxies(nb201) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StrategyError, match="synflow, naswot"):
        get_strategy("guided", nb201, prior="synflw")


def test_prior_scores_once_per_arch_and_counts_its_compute(nb201) -> None:  # type: ignore[no-untyped-def]
    prior = ProxyPrior.for_estimator(("params",), nb201, None)
    archs = [nb201.from_index(i) for i in (0, 100, 5000)]
    scores = prior.scores(archs)
    assert scores == [nb201.profile(a).params for a in archs]
    prior.scores(archs)
    assert prior.evaluations == 3 and prior.cpu_seconds >= 0
    assert prior.stats()["prior"] == "params" and prior.stats()["evaluations"] == 3


def test_prior_defaults_to_digits_at_the_space_resolution(nb201) -> None:  # type: ignore[no-untyped-def]
    prior = ProxyPrior.for_estimator(("synflow",), nb201, None)
    assert prior.options["dataset"] == DEFAULT_PRIOR_DATASET and prior.options["resolution"] == 32


def test_prior_uses_the_estimators_dataset(nb201) -> None:  # type: ignore[no-untyped-def]
    from archspace.estimators import get_estimator

    est = get_estimator("train", dataset="digits", resolution=16, epochs=1)
    prior = ProxyPrior.for_estimator(("naswot",), nb201, est)
    assert prior.options["dataset"] == "digits" and prior.options["resolution"] == 16
    assert ProxyPrior.for_estimator(("naswot",), nb201, est, "mnist").options["dataset"] == "mnist"


def test_combined_prior_is_the_mean_rank(nb201) -> None:  # type: ignore[no-untyped-def]
    prior = ProxyPrior.for_estimator(("params", "macs"), nb201, None)
    archs = [nb201.from_index(i) for i in (0, 7, 100, 5000, 15624)]
    params = [nb201.profile(a).params for a in archs]
    macs = [nb201.profile(a).macs for a in archs]
    scores = prior.scores(archs)

    def rank(v: list[float], i: int) -> float:
        return sum(x < v[i] for x in v) + (sum(x == v[i] for x in v) - 1) / 2

    assert scores == [(rank(params, i) + rank(macs, i)) / 2 for i in range(len(archs))]


def test_prior_decides_which_archs_are_evaluated_first(nb201) -> None:  # type: ignore[no-untyped-def]
    plain = _asks(get_strategy("guided", nb201, seed=3), 10)
    warm = get_strategy("guided", nb201, seed=3, prior="params", prior_pool=40)
    first = _asks(warm, 10)
    assert first != plain
    params = [nb201.profile(a).params for a in first]
    assert params == sorted(params, reverse=True)  # best proxy score first
    prior = warm.prior  # type: ignore[attr-defined]
    pool = list(prior.memo)
    assert prior.evaluations == len(pool) == 40
    ranked = sorted((nb201.profile(a).params for a in pool), reverse=True)
    assert params == ranked[:10]  # the top of the scored pool, nothing else
    assert _asks(get_strategy("guided", nb201, seed=3, prior="params", prior_pool=40), 10) == first


def test_prior_with_synflow_runs_the_network(nb201) -> None:  # type: ignore[no-untyped-def]
    warm = get_strategy("guided", nb201, seed=1, init=3, prior="synflow", prior_pool=4)
    first = _asks(warm, 3)
    prior = warm.prior  # type: ignore[attr-defined]
    values = [prior.memo[a]["synflow"] for a in first]
    assert values == sorted(values, reverse=True) and prior.evaluations == 4
    assert len({nb201.canonical(a) for a in first}) == 3


def test_prior_state_round_trip(nb201) -> None:  # type: ignore[no-untyped-def]
    a = get_strategy("guided", nb201, seed=5, prior="params", prior_pool=30)
    _asks(a, 4)
    state = json.loads(json.dumps(a.state_dict()))
    b = get_strategy("guided", nb201, seed=5, prior="params", prior_pool=30)
    b.load_state_dict(state)
    assert _asks(a, 20) == _asks(b, 20)


def _config(budget: int, **options: str) -> StudyConfig:
    return StudyConfig("nb201", {}, "nasbench201", {}, "guided", options, 0, budget)


def test_study_records_the_prior_apart_from_trials(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    # warm-up only (prior_weight=0): the pool is all the proxy scores
    study = Study.create(path, _config(12, prior="params", prior_pool="25", prior_weight="0"))
    result = study.run()
    study.close()
    assert result.n_trials == 12
    storage = StudyStorage.open(path)
    account = storage.meta("prior")
    storage.close()
    assert account["prior"] == "params" and account["evaluations"] == 25
    assert account["dataset"] == DEFAULT_PRIOR_DATASET and account["resolution"] == 32
    resumed = Study.resume(path, budget=14)  # the replay scores the pool again: counted
    resumed.run()
    resumed.close()
    storage = StudyStorage.open(path)
    assert storage.meta("prior")["evaluations"] == 50 and storage.n_recorded() == 14
    storage.close()


def test_study_without_prior_records_none(tmp_path: Path) -> None:
    study = Study.create(tmp_path / "s.db", _config(3))
    study.run()
    assert study.storage.meta("prior") is None
    study.close()


def test_cli_search_shows_the_proxy_compute(tmp_path: Path) -> None:
    args = ["search", "--space", "nb201", "--estimator", "nasbench201", "--strategy", "guided",
            "-s", "prior=params", "-s", "prior_pool=20", "-s", "prior_weight=0", "--budget", "12",
            "--no-progress"]
    res = CliRunner().invoke(cli, [*args, "--study", str(tmp_path / "a.db")],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "prior: params, 20 proxy evaluations in" in res.output and "(not trials)" in res.output
    res = CliRunner().invoke(cli, [*args, "--study", str(tmp_path / "b.db"), "--json"],
                             catch_exceptions=False)
    summary = json.loads(res.stdout)
    assert summary["trials"] == 12 and summary["prior"]["evaluations"] == 20


def test_cli_bad_prior_is_one_line_before_work(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    res = CliRunner().invoke(cli, ["search", "--space", "nb201", "--estimator", "nasbench201",
                                   "--strategy", "guided", "-s", "prior=synflw", "--budget", "5",
                                   "--study", str(path)])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("archspace: error:")
    assert "'synflw'" in lines[0] and "synflow" in lines[0] and not path.exists()


def test_cli_bad_prior_dataset_fails_before_work(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    res = CliRunner().invoke(cli, ["search", "--space", "nb201", "--estimator", "nasbench201",
                                   "--strategy", "guided", "-s", "prior=naswot",
                                   "-s", "prior_dataset=nosuchdata", "--budget", "5",
                                   "--study", str(path)])
    assert res.exit_code == 2, res.output
    assert res.stderr.strip().startswith("archspace: error:") and not path.exists()


def test_prior_weight_picks_the_neighbour_the_proxy_ranks_highest(nb201) -> None:  # type: ignore[no-untyped-def]
    s = get_strategy("guided", nb201, seed=2, init=2, prior="params", prior_pool=5,
                     prior_weight=1.0)
    a, b = s.ask(), s.ask()
    s.tell(a, 60.0, (60.0,))
    s.tell(b, 50.0, (50.0,))
    move = s.ask()
    seen = {nb201.canonical(a), nb201.canonical(b)}
    options = [n for n in nb201.neighbours(a) if nb201.canonical(n) not in seen]
    assert move in options
    assert nb201.profile(move).params == max(nb201.profile(n).params for n in options)
    plain = get_strategy("guided", nb201, seed=2, init=2, prior="params", prior_pool=5,
                         prior_weight=0.0)
    assert plain.ask() == a and plain.ask() == b  # the weight changes moves, not the warm-up


def test_prior_weight_defaults_to_a_blend_when_a_prior_is_given(nb201) -> None:  # type: ignore[no-untyped-def]
    assert get_strategy("guided", nb201).prior_weight == 0.5  # type: ignore[attr-defined]
    default = get_strategy("guided", nb201, seed=2, init=3, prior="params", prior_pool=10)
    blend = get_strategy("guided", nb201, seed=2, init=3, prior="params", prior_pool=10,
                         prior_weight=0.5)
    warm_only = get_strategy("guided", nb201, seed=2, init=3, prior="params", prior_pool=10,
                             prior_weight=0.0)
    def run(s):  # type: ignore[no-untyped-def]
        out = []
        for v in range(60, 48, -1):  # each result worse than the last: the climb moves on
            arch = s.ask()
            out.append(arch)
            s.tell(arch, float(v), (float(v),))
        return out

    assert run(default) == run(blend)
    run(warm_only)
    # the blend scores the candidate neighbours too; warm-up only scores the pool alone
    assert default.prior.evaluations > 10  # type: ignore[attr-defined]
    assert warm_only.prior.evaluations == 10  # type: ignore[attr-defined]


def test_cli_search_with_a_prior_scores_neighbours_by_default(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["search", "--space", "nb201", "--estimator", "nasbench201",
                                   "--strategy", "guided", "-s", "prior=params",
                                   "-s", "prior_pool=20", "--budget", "12", "--no-progress",
                                   "--study", str(tmp_path / "s.db"), "--json"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["prior"]["evaluations"] > 20


# -- the warm-up for other strategies (strategies/prior_pool.py) ------------------------------
def test_random_search_with_a_prior_evaluates_the_pool_best_first(nb201) -> None:  # type: ignore[no-untyped-def]
    plain = _asks(get_strategy("random", nb201, seed=2), 12)
    warm = get_strategy("random", nb201, seed=2, prior="params", prior_pool=30)
    first = _asks(warm, 12)
    assert first != plain
    prior = warm.prior  # type: ignore[attr-defined]
    assert prior.evaluations == 30
    ranked = sorted((nb201.profile(a).params for a in prior.memo), reverse=True)
    assert [nb201.profile(a).params for a in first] == ranked[:12]
    more = _asks(warm, 30)  # the pool runs out: a second pool of 30 is drawn and scored
    assert prior.evaluations == 60 and len(set(first + more)) == 42


def test_random_search_without_prior_scores_nothing(nb201) -> None:  # type: ignore[no-untyped-def]
    strategy = get_strategy("random", nb201, seed=2)
    _asks(strategy, 3)
    assert strategy.prior is None  # type: ignore[attr-defined]


def test_evolution_with_a_prior_seeds_its_population(nb201) -> None:  # type: ignore[no-untyped-def]
    evo = get_strategy("evolution", nb201, seed=4, population=8, sample=3, prior="params",
                       prior_pool=25)
    first = _asks(evo, 8)
    prior = evo.prior  # type: ignore[attr-defined]
    ranked = sorted((nb201.profile(a).params for a in prior.memo), reverse=True)
    assert [nb201.profile(a).params for a in first] == ranked[:8] and prior.evaluations == 25
    child = _asks(evo, 1)[0]  # after the population: a mutation, no new pool
    assert prior.evaluations == 25
    assert any(sum(x != y for x, y in zip(nb201.to_indices(child), nb201.to_indices(a),
                                          strict=True)) == 1 for a in first)


def test_evolution_prior_mutations_proposes_the_proxys_best_child(nb201) -> None:  # type: ignore[no-untyped-def]
    evo = get_strategy("evolution", nb201, seed=6, population=5, sample=2, prior="params",
                       prior_pool=5, prior_mutations=4)
    _asks(evo, 5)
    prior = evo.prior  # type: ignore[attr-defined]
    for _ in range(3):
        before = set(prior.memo)
        child = _asks(evo, 1)[0]
        scored = [a for a in prior.memo if a not in before]
        assert child in scored and 2 <= len(scored) <= 4
        assert nb201.profile(child).params == max(nb201.profile(a).params for a in scored)


@pytest.mark.parametrize("name", ["random", "evolution"])
def test_prior_pool_state_round_trip(nb201, name: str) -> None:  # type: ignore[no-untyped-def]
    options = {"prior": "params", "prior_pool": 15}
    a = get_strategy(name, nb201, seed=5, **options)
    _asks(a, 4)
    state = json.loads(json.dumps(a.state_dict()))
    assert len(state["warm"]) == 11
    b = get_strategy(name, nb201, seed=5, **options)
    b.load_state_dict(state)
    assert _asks(a, 25) == _asks(b, 25)


@pytest.mark.parametrize("name", ["random", "evolution"])
def test_bad_prior_for_any_strategy_names_the_strategy(nb201, name: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StrategyError, match=f"'synflw' of strategy '{name}'.*synflow, naswot"):
        get_strategy(name, nb201, prior="synflw")


@pytest.mark.parametrize("strategy", ["random", "evolution"])
def test_cli_search_records_the_prior_of_any_strategy(tmp_path: Path, strategy: str) -> None:
    res = CliRunner().invoke(cli, ["search", "--space", "nb201", "--estimator", "nasbench201",
                                   "--strategy", strategy, "-s", "prior=params",
                                   "-s", "prior_pool=20", "--budget", "6", "--no-progress",
                                   "--study", str(tmp_path / "s.db"), "--json"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["trials"] == 6 and summary["prior"]["evaluations"] == 20
    assert summary["prior"]["prior"] == "params"
