"""What each strategy does beyond the shared contract, and the parts they are built from."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest
import torch

from archspace import Arch, Decision, Space
from archspace.strategies import StrategyError, get_strategy
from archspace.strategies.pieces import Ledger, UniqueSampler
from archspace.strategies.surrogate import HammingGP


class Tiny(Space):
    """27 archs: three decisions of three choices."""

    name = "tiny"

    def __init__(self, n: int = 3) -> None:
        self._set_decisions(Decision.of(f"d{i}", ("a", "b", "c")) for i in range(n))


def count_a(arch: Arch) -> float:
    return float(sum(v == "a" for v in arch.values))


def distinct(arch: Arch) -> float:
    """A score without ties."""
    return float(sum(("a", "b", "c").index(str(v)) * 3**i for i, v in enumerate(arch.values)))


def test_random_never_repeats_until_the_space_is_exhausted() -> None:
    space = Tiny()
    s = get_strategy("random", space, seed=0)
    asked = [s.ask() for _ in range(space.size())]
    assert len(set(asked)) == space.size()
    assert space.validate(s.ask()) in asked  # then repeats are all that is left


def test_unique_sampler_skips_what_was_seen() -> None:
    space = Tiny()
    seen = set(list(space.enumerate())[:-1])
    last = list(space.enumerate())[-1]
    assert UniqueSampler(space, seen.__contains__).sample(random.Random(0)) == last


def test_evolution_mutates_tournament_winners_and_ages_the_population() -> None:
    space = Tiny(4)
    s = get_strategy("evolution", space, seed=1, population=5, sample=5)
    first = [s.ask() for _ in range(5)]
    for a in first:
        s.tell(a, distinct(a))
    best = max(first, key=distinct)
    child = s.ask()
    assert sum(x != y for x, y in zip(child.values, best.values, strict=True)) == 1
    s.tell(child, None)  # a failed child joins the population and the oldest member dies
    assert [a for a, _ in s.population] == [*first[1:], child]  # type: ignore[attr-defined]


def test_best_improvement_local_search_evaluates_the_whole_neighbourhood() -> None:
    space = Tiny()
    s = get_strategy("local", space, seed=0, init=1, restart=1, improvement="best")
    start = s.ask()
    s.tell(start, 0.0)
    hood = [s.ask() for _ in range(6)]
    assert set(hood) == set(space.neighbours(start))
    for a in hood:
        s.tell(a, count_a(a))
    nxt = s.ask()
    assert nxt in space.neighbours(max(hood, key=count_a))


def test_guided_proposes_the_neighbour_its_surrogate_ranks_highest() -> None:
    space = Tiny(5)
    s = get_strategy("guided", space, seed=0, init=20, clip=0.0)
    for _ in range(20):
        a = s.ask()
        s.tell(a, count_a(a))
    head = max(s.ledger.completed(), key=lambda r: r[1])[0]  # type: ignore[attr-defined]
    cands = [a for a in space.neighbours(head) if not s.ledger.seen(a)]  # type: ignore[attr-defined]
    mean, _ = s._surrogate().predict(np.array([space.to_indices(a) for a in cands]))  # type: ignore[attr-defined]
    assert s.ask() == cands[int(np.argmax(mean))]
    assert count_a(cands[int(np.argmax(mean))]) > count_a(head)  # the surrogate learnt "a" is good


def test_guided_suspends_a_stalled_climb_and_restarts() -> None:
    space = Tiny(4)
    s = get_strategy("guided", space, seed=0, init=2, restart=3, patience=2)
    for _ in range(2 + 2):  # the init batch, then two non-improving neighbours
        a = s.ask()
        s.tell(a, 1.0 if len(s.ledger.results) < 2 else 0.0)  # type: ignore[attr-defined]
    assert len(s.climbers) == 1  # type: ignore[attr-defined]
    s.ask()
    assert len(s.climbers) == 2 and s.active == 1  # type: ignore[attr-defined]


def test_reinforce_learns_and_leaves_torch_global_rng_alone() -> None:
    space = Tiny(4)
    before = torch.get_rng_state()
    s = get_strategy("reinforce", space, seed=0, lr=0.05)
    target = list(space.to_indices(space.make(dict.fromkeys(space.names, "a"))))

    def p_target() -> float:
        return float(s.controller.log_prob(target)[0].detach().exp())  # type: ignore[attr-defined]

    p0 = p_target()
    for _ in range(120):
        a = s.ask()
        s.tell(a, count_a(a))
    assert torch.equal(torch.get_rng_state(), before)
    assert p_target() > 3 * p0


def test_reinforce_skips_inactive_decisions() -> None:
    class Cond(Space):
        name = "cond"

        def __init__(self) -> None:
            self._set_decisions([Decision.of("op", ("conv", "pool")),
                                 Decision.of("k", (3, 5, 7), ("op", ["conv"]))])

    controller = get_strategy("reinforce", Cond(), seed=0).controller  # type: ignore[attr-defined]
    with torch.no_grad():
        p_pool = float(controller.log_prob([1, -1])[0].exp())
        p_conv = [float(controller.log_prob([0, k])[0].exp()) for k in range(3)]
    total = p_pool + sum(p_conv)
    assert total == pytest.approx(1.0, abs=1e-5)  # inactive k adds no factor to p(op=pool)


def test_nsga2_follows_the_number_of_objectives() -> None:
    space = Tiny()
    s = get_strategy("nsga2", space, seed=0)
    asked = [s.ask() for _ in range(3)]
    for a in asked:
        s.tell(a, count_a(a), (count_a(a), -count_a(a)))
    assert len(s.study.directions) == 2  # type: ignore[attr-defined]
    with pytest.raises(StrategyError, match="got 3 objectives after results with 2"):
        a = s.ask()
        s.tell(a, 1.0, (1.0, 2.0, 3.0))


def test_optuna_strategies_restore_logging_and_refuse_state_when_used() -> None:
    import optuna

    optuna.logging.get_verbosity()  # optuna sets up its logger on first use: do that first
    logger = logging.getLogger("optuna")
    level = logger.level
    s = get_strategy("tpe", Tiny(), seed=0)
    a = s.ask()
    s.tell(a, 1.0)
    assert logger.level == level
    with pytest.raises(StrategyError, match="freshly created"):
        s.load_state_dict(s.state_dict())


@pytest.mark.parametrize("name", ["random", "evolution", "local", "guided", "reinforce"])
def test_bad_state_is_refused(name: str) -> None:
    with pytest.raises(StrategyError, match="lacks"):
        get_strategy(name, Tiny()).load_state_dict({"rng": []})


def test_ledger_accepts_results_it_never_asked_for() -> None:
    space = Tiny()
    ledger = Ledger(space)
    a, b = list(space.enumerate())[:2]
    ledger.asked(a)
    ledger.asked(a)
    ledger.told(b, 2.0)
    ledger.told(a, None)
    assert ledger.seen(a) and ledger.pending[a] == 1 and ledger.best() == (b, 2.0)


def test_hamming_gp_interpolates_and_is_unsure_far_away() -> None:
    space = Tiny(6)
    rng = random.Random(0)
    archs = list({space.sample(rng) for _ in range(60)})
    x = np.array([space.to_indices(a) for a in archs])
    y = np.array([count_a(a) for a in archs])
    gp = HammingGP().fit(x, y)
    mean, sd = gp.predict(x)
    assert np.corrcoef(mean, y)[0, 1] > 0.95
    best = np.zeros((1, 6), dtype=np.int64)  # all "a": better than anything seen
    m, s = gp.predict(best)
    assert m[0] > y.mean() and s[0] > sd.mean()


class Branches(Space):
    """64 archs, 20 functions: three parallel branches whose outputs are summed, so their
    order does not matter (the class representative lists them sorted)."""

    name = "branches"

    def __init__(self) -> None:
        self._set_decisions(Decision.of(f"b{i}", ("conv", "none", "pool", "skip"))
                            for i in range(3))

    def canonical(self, arch: Arch) -> Arch:
        return Arch(self.names, tuple(sorted(str(v) for v in arch.values)))


def branch_score(arch: Arch) -> float:
    return float(sum({"conv": 3, "pool": 2, "skip": 1, "none": 0}[str(v)] for v in arch.values))


def test_distinct_ledger_counts_an_arch_seen_once_its_class_was() -> None:
    space = Branches()
    assert space.has_equivalences() and space.distinct_size() == 20 and space.size() == 64
    assert not Tiny().has_equivalences() and Tiny().distinct_size() == 27
    ledger = Ledger(space, distinct=True)
    a = space.make({"b0": "conv", "b1": "skip", "b2": "none"})
    b = space.make({"b0": "none", "b1": "conv", "b2": "skip"})
    ledger.asked(a)
    assert ledger.seen(b) and ledger.key(b) == ledger.key(a)
    ledger.told(a, 1.0)
    restored = Ledger(space, distinct=True)
    restored.load_state_dict(ledger.state_dict())
    assert restored.seen(b)
    assert not Ledger(space).seen(a) and not Ledger(Tiny(), distinct=True).distinct


@pytest.mark.parametrize("name,options", [("guided", {}), ("local", {"distinct": True})])
def test_distinct_climbers_propose_one_arch_per_class(name: str, options: dict[str, object]) -> None:
    space = Branches()
    s = get_strategy(name, space, seed=3, init=4, restart=2, **options)
    keys = []
    for step in range(20):
        if step == 8:  # a resume from saved state keeps knowing the classes already proposed
            state = s.state_dict()
            s = get_strategy(name, space, seed=3, init=4, restart=2, **options)
            s.load_state_dict(state)
        a = s.ask()
        keys.append(space.canonical(a))
        s.tell(a, branch_score(a))
    assert len(set(keys)) == 20  # every class once, no equivalent repeat
    assert space.make({"b0": "conv", "b1": "conv", "b2": "conv"}) in keys


def test_plain_local_search_does_propose_equivalent_archs() -> None:
    space = Branches()
    s = get_strategy("local", space, seed=3)
    keys = [space.canonical(a) for a in (s.ask() for _ in range(20))]
    assert len(set(keys)) < 20


def test_guided_surrogate_sees_class_representatives() -> None:
    space = Branches()
    s = get_strategy("guided", space, seed=0)
    a = space.make({"b0": "skip", "b1": "conv", "b2": "none"})
    assert s._features(a) == space.to_indices(space.canonical(a))  # type: ignore[attr-defined]
    plain = get_strategy("guided", space, seed=0, distinct=False)
    assert plain._features(a) == space.to_indices(a)  # type: ignore[attr-defined]


def test_guided_on_nb201_never_queries_an_equivalent_cell() -> None:
    from archspace import get_space
    from archspace.tabular import load_nb201

    space = get_space("nb201")
    valid = load_nb201().metric("cifar10_valid_12ep")
    s = get_strategy("guided", space, seed=0)
    asked = []
    for _ in range(120):
        a = s.ask()
        asked.append(a)
        s.tell(a, float(valid[space.index_of(a)]))
    assert len({space.canonical(a) for a in asked}) == 120


def test_reinforce_learns_from_infeasible_draws_without_proposing_them() -> None:
    s = get_strategy("reinforce", Tiny(4), seed=0)
    s.constrain(lambda a: a["d0"] != "a")  # about a third of the draws break it
    updates = 0
    update = s._update  # type: ignore[attr-defined]

    def counted() -> None:
        nonlocal updates
        updates += 1
        update()

    s._update = counted  # type: ignore[attr-defined]
    for _ in range(15):
        a = s.ask()
        assert a["d0"] != "a"
        s.tell(a, count_a(a))
    assert updates > 15  # one per told result, and one per rejected draw after the first result
