"""Per-space-family overhead of the latency table: fitted at calibration where it predicts a
family's left-out networks better than the overall fit, used for that family's archs only,
stored in the table file. No timed asserts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from archspace.cost.latency_calibrate import CalibrationSettings, calibrate
from archspace.cost.latency_table import (
    LatencyError,
    LatencyTable,
    Overhead,
    fit_space_overheads,
)
from archspace.spaces import get_space


def _two_families(seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sums = rng.uniform(1, 20, 24)
    counts = rng.integers(50, 300, 24)
    groups = ["chain"] * 12 + ["cell"] * 12
    measured = np.where(np.arange(24) < 12, 1.1 * sums + 0.2, 1.5 * sums + 0.002 * counts + 0.9)
    return groups, sums, counts, measured


def test_each_family_gets_its_own_fit_where_it_predicts_better() -> None:
    groups, sums, counts, measured = _two_families()
    overall, _, own = fit_space_overheads(groups, sums.tolist(), counts.tolist(),
                                             measured.tolist())
    assert set(own) == {"chain", "cell"}
    chain, _ = own["chain"]
    cell, cell_form = own["cell"]
    assert chain(10.0, 100) == pytest.approx(11.2, rel=1e-6)
    assert cell_form == "linear" and (cell.a, cell.b, cell.c) == pytest.approx((1.5, 0.002, 0.9),
                                                                               rel=1e-6)
    # the overall fit is one line through both families, worse than either family's own
    assert abs(overall(10.0, 100) - 11.2) > 0.1


def test_a_family_the_overall_fit_already_predicts_keeps_it() -> None:
    rng = np.random.default_rng(1)
    sums = rng.uniform(1, 20, 24)
    counts = rng.integers(50, 300, 24)
    measured = 1.2 * sums + 0.01 * counts + 0.5  # one law for both families
    _, _, own = fit_space_overheads(["a"] * 12 + ["b"] * 12, sums.tolist(), counts.tolist(),
                                    measured.tolist())
    assert own == {}
    # a single family is its own overall fit: nothing per family
    _, _, own = fit_space_overheads(["a"] * 24, sums.tolist(), counts.tolist(),
                                    measured.tolist())
    assert own == {}


def test_prediction_uses_the_spaces_family_overhead() -> None:
    nb = get_space("nb201", C=4, N=1)
    mb = get_space("mobilenetv2", resolution=32)
    arch_nb, arch_mb = nb.sample(0), mb.sample(0)
    plain = LatencyTable("t", {}, fallback={})
    base = LatencyTable("t", {}, Overhead(1.0, 0.0, 0.0))
    # every layer missing and no fallback: each layer costs 0, so the overhead's c shows
    base_nb, base_mb = base.predict(nb, arch_nb), base.predict(mb, arch_mb)
    table = LatencyTable("t", {}, Overhead(1.0, 0.0, 0.25),
                         space_overhead={"nb201": Overhead(1.0, 0.0, 2.0)})
    assert table.overhead_for(nb).c == 2.0 and table.overhead_for(mb).c == 0.25
    assert table.predict(nb, arch_nb) == pytest.approx(base_nb + 2.0)
    assert table.predict(mb, arch_mb) == pytest.approx(base_mb + 0.25)
    assert plain.overhead_for(nb) == Overhead()


def test_space_overheads_round_trip_and_damage_is_refused() -> None:
    table = LatencyTable("t", {"x": 1.0}, Overhead(1.2, 0.0, 0.1),
                         space_overhead={"nb201": Overhead(1.4, -0.001, 0.3)})
    obj = json.loads(json.dumps(table.to_json()))
    again = LatencyTable.from_json(obj, "f")
    assert again.space_overhead == table.space_overhead and again.overhead == table.overhead
    old = {k: v for k, v in obj.items() if k != "space_overhead"}  # a table from before
    assert LatencyTable.from_json(old, "f").space_overhead == {}
    for bad in ({"nb201": {"a": 1.0}}, {"nb201": {"a": 1, "b": 0, "c": float("nan")}}, [1]):
        with pytest.raises(LatencyError, match="space_overhead"):
            LatencyTable.from_json({**obj, "space_overhead": bad}, "f")


def test_calibration_records_its_networks_and_fits_per_family() -> None:
    spaces = [get_space("nb201", C=4, N=1), get_space("mobilenetv2", resolution=32,
                                                      width=0.35)]
    table = calibrate("fam", spaces, CalibrationSettings(archs=3, networks=3, warmup=0,
                                                         layer_repeats=1, network_repeats=1))
    nets = table.meta["networks"]
    assert [n["space"] for n in nets] == ["nb201"] * 3 + ["mobilenetv2"] * 3
    assert all(n["measured_ms"] > 0 and n["layers"] > 0 for n in nets)
    assert set(table.space_overhead) <= {"nb201", "mobilenetv2"}
    assert set(table.meta["space_overhead_forms"]) == set(table.space_overhead)
