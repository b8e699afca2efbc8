"""The rung/bracket arithmetic and the promotion rules of the schedulers, without a study."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archspace.errors import ArchspaceError
from archspace.study.schedulers import (
    ASHA,
    Hyperband,
    Ledger,
    Slot,
    SuccessiveHalving,
    hyperband_brackets,
    make_scheduler,
    rung_resources,
)

#: Li et al. 2018 (JMLR), Table 1: Hyperband with R = 81, eta = 3; per bracket s the
#: (n_i, r_i) of its rungs.
LI_TABLE_R81 = {
    4: [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
    3: [(34, 3), (11, 9), (3, 27), (1, 81)],
    2: [(15, 9), (5, 27), (1, 81)],
    1: [(8, 27), (2, 81)],
    0: [(5, 81)],
}


def test_hyperband_brackets_match_li_et_al_table_for_r81_eta3() -> None:
    brackets = hyperband_brackets(1, 81, 3)
    assert [b.s for b in brackets] == [4, 3, 2, 1, 0]
    for b in brackets:
        assert list(zip(b.sizes, b.resources, strict=True)) == LI_TABLE_R81[b.s]


def test_brackets_scale_with_min_resource() -> None:
    brackets = hyperband_brackets(2, 162, 3)
    assert brackets[0].resources == (2, 6, 18, 54, 162)
    assert [list(b.sizes) for b in brackets] == [[n for n, _ in LI_TABLE_R81[s]]
                                                 for s in (4, 3, 2, 1, 0)]


def test_rung_resources_end_at_the_max_resource() -> None:
    assert rung_resources(1, 27, 3) == (1, 3, 9, 27)
    assert rung_resources(1, 10, 3) == (1, 3, 10)  # 10/9, 10/3, 10 rounded down
    assert rung_resources(1, 20, 3) == (2, 6, 20)  # anchored at the top, as Li et al.
    assert rung_resources(1, 2, 3) == (2,)  # R < eta: one rung, at the max
    assert rung_resources(5, 5, 2) == (5,)
    assert rung_resources(1, 8, 2) == (1, 2, 4, 8)


@pytest.mark.parametrize(("args", "message"), [
    ((3, 1, 3), "--min-resource 3 is above --max-resource 1"),
    ((1, 9, 1), "--eta must be a whole number >= 2, got 1"),
    ((0, 9, 3), "--min-resource must be a whole number >= 1, got 0"),
    ((1, 0, 3), "--max-resource must be a whole number >= 1, got 0"),
    ((1.5, 9, 3), "--min-resource must be a whole number >= 1, got 1.5"),
    ((1, 9, 2.5), "--eta must be a whole number >= 2, got 2.5"),
    ((True, 9, 3), "--min-resource must be a whole number >= 1, got True"),
])
def test_bad_resources_are_refused_with_what_is_allowed(args: tuple[object, ...],
                                                        message: str) -> None:
    with pytest.raises(ArchspaceError, match=message.replace(".", r"\.")):
        make_scheduler("hyperband", *args)


def test_unknown_scheduler_lists_the_allowed() -> None:
    with pytest.raises(ArchspaceError, match="allowed: sh, hyperband, asha"):
        make_scheduler("bohb", 1, 9, 3)


@given(st.integers(-3, 200), st.integers(-3, 200), st.integers(-1, 6))
def test_any_integers_give_a_scheduler_or_a_one_line_error(lo: int, hi: int, eta: int) -> None:
    try:
        s = make_scheduler("sh", lo, hi, eta)
    except ArchspaceError as e:
        assert "\n" not in str(e)
        assert lo < 1 or hi < 1 or eta < 2 or lo > hi
        return
    assert lo <= s.resources[0] < lo * eta and s.resources[-1] == hi
    assert all(b > a for a, b in zip(s.resources, s.resources[1:], strict=False))


class Sim:
    """Drives a scheduler by hand: start what it asks, finish trials with chosen scores."""

    def __init__(self, scheduler: SuccessiveHalving | Hyperband | ASHA) -> None:
        self.scheduler, self.ledger, self.n = scheduler, Ledger(), 0

    def start(self) -> tuple[int, Slot]:
        slot = self.scheduler.next(self.ledger)
        assert slot is not None
        self.ledger.add(self.n, slot)
        self.n += 1
        return self.n - 1, slot

    def finish(self, number: int, score: float | None) -> None:
        self.ledger.finish(number, score)


def test_successive_halving_promotes_the_top_third_once_the_rung_is_complete() -> None:
    sim = Sim(SuccessiveHalving(1, 9, 3))
    scores = [5, 9, 1, 7, 3, 8, 2, 6, 4]
    started = [sim.start() for _ in range(9)]
    assert all(s == Slot(0, 0, 1) for _, s in started)
    for number, score in zip(range(8), scores, strict=False):
        sim.finish(number, score)
    # rung 0 still has trial 8 running: bracket 0 waits, a new bracket starts (parallel)
    assert sim.scheduler.next(sim.ledger) == Slot(1, 0, 1)
    sim.finish(8, scores[8])
    promoted = [sim.start()[1] for _ in range(3)]
    assert promoted == [Slot(0, 1, 3, 1), Slot(0, 1, 3, 5), Slot(0, 1, 3, 3)]  # 9, 8, 7
    assert sim.scheduler.promotable(sim.ledger) == set()  # rung 1 is decided
    for number, score in ((9, 1.0), (10, 3.0), (11, 2.0)):
        sim.finish(number, score)
    assert sim.start()[1] == Slot(0, 2, 9, 10)
    sim.finish(12, 0.0)
    assert sim.start()[1] == Slot(1, 0, 1)  # bracket 0 is done


def test_failed_trials_are_never_promoted_and_shrink_the_next_rung() -> None:
    sim = Sim(SuccessiveHalving(1, 9, 3))
    for _ in range(9):
        sim.start()
    for number in range(9):
        sim.finish(number, None if number < 4 else float(number))  # 4 failed, 5 complete
    assert sim.start()[1] == Slot(0, 1, 3, 8)  # top max(1, 5 // 3) = 1 of the 5
    assert sim.start()[1] == Slot(1, 0, 1)


def test_hyperband_cycles_its_brackets() -> None:
    sim = Sim(Hyperband(1, 9, 3))
    firsts = []
    for _ in range(9 + 3 + 1 + 5 + 1 + 3 + 9):
        number, slot = sim.start()
        if slot.rung == 0 and (not firsts or firsts[-1][0] != slot.bracket):
            firsts.append((slot.bracket, slot.resource))
        sim.finish(number, float(number % 5))
    assert firsts == [(0, 1), (1, 3), (2, 9), (3, 1)]


def test_asha_promotes_asynchronously_from_the_highest_rung_first() -> None:
    sim = Sim(ASHA(1, 9, 3))
    a, b = sim.start()[0], sim.start()[0]
    sim.finish(b, 5.0)
    sim.finish(a, 1.0)
    assert sim.start()[1] == Slot(0, 0, 1)  # 2 complete at rung 0: floor(2/3) = 0 promotions
    sim.finish(2, 3.0)
    # rung 0 = {a: 1, b: 5, 2: 3}: the top floor(3/3) = 1 is b, promoted with nothing waiting
    p = sim.start()
    assert p[1] == Slot(0, 1, 3, b)
    # while b runs at rung 1, nothing else is promotable: new archs keep the workers busy
    news = [sim.start() for _ in range(3)]
    assert [s for _, s in news] == [Slot(0, 0, 1)] * 3
    for number, score in zip((n for n, _ in news), (0.5, 9.0, 0.2), strict=True):
        sim.finish(number, score)
    # rung 0 has 6 complete: the top 2 are trial 5 (9.0) and b (promoted): 5 goes up
    assert sim.start()[1] == Slot(0, 1, 3, 5)
    assert sim.scheduler.promotable(sim.ledger) == {a, 2, 4, 6}
    sim.finish(p[0], 7.0)
    sim.finish(7, 6.0)
    assert sim.start()[1] == Slot(0, 0, 1)  # rung 1: 2 complete, floor(2/3) = 0 go up
    sim.finish(8, 4.0)
    assert sim.start()[1] == Slot(0, 0, 1)  # rung 0: 7 complete, its top 2 already went
    sim.finish(9, 0.1)
    sim.start()
    sim.finish(10, 0.3)  # rung 0: 9 complete, top 3: trial 5, b and trial 8 (4.0)
    assert sim.start()[1] == Slot(0, 1, 3, 8)
    sim.finish(11, 8.0)  # rung 1: {b: 7, 5: 6, 8: 8} complete: 8 goes to the top rung
    assert sim.start()[1] == Slot(0, 2, 9, 11)
    assert sim.ledger.promoted(b) and not sim.ledger.promoted(a)


def test_asha_with_the_strategy_exhausted_promotes_what_it_can_then_stops() -> None:
    sim = Sim(ASHA(1, 3, 3))
    for _ in range(3):
        sim.start()
    for number in range(3):
        sim.finish(number, float(number))
    assert sim.scheduler.next(sim.ledger, new_archs=False) == Slot(0, 1, 3, 2)
    sim.ledger.add(3, Slot(0, 1, 3, 2))
    assert sim.scheduler.next(sim.ledger, new_archs=False) is None


def test_the_ledger_forgets_an_interrupted_trial() -> None:
    ledger = Ledger()
    ledger.add(0, Slot(0, 0, 1))
    ledger.finish(0, 1.0)
    ledger.add(1, Slot(0, 1, 3, 0))
    assert ledger.promoted(0)
    ledger.drop(1)
    assert not ledger.promoted(0) and ledger.rung(0, 1) == []


@settings(deadline=None, max_examples=25)
@given(st.integers(1, 4), st.integers(1, 60), st.integers(2, 4),
       st.lists(st.floats(0, 100, allow_nan=False), min_size=400, max_size=400))
def test_sequential_hyperband_fills_each_bracket_as_li_et_al(lo: int, hi_over: int, eta: int,
                                                           scores: list[float]) -> None:
    hb = Hyperband(lo, lo + hi_over, eta)
    sim = Sim(hb)
    for score in scores:  # one worker: each trial recorded before the next starts
        number, _ = sim.start()
        sim.finish(number, score)
    for j in range(sim.ledger.brackets() - 1):  # every bracket but the last is complete
        shape = hb.shape(j)
        for k, size in enumerate(shape.sizes):
            rung = sim.ledger.rung(j, k)
            assert len(rung) == size
            if k:
                below = sorted(sim.ledger.rung(j, k - 1), key=lambda e: (-(e.score or 0), e.number))
                assert {e.parent for e in rung} == {e.number for e in below[:size]}
