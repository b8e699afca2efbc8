"""Error EDFs (NDS): the statistics by hand, and a study end to end on fakes and the table."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
from scipy.stats import ks_2samp

from archspace.analysis.edf import error_edf
from archspace.analysis.evaluate import error_from, pick_archs
from archspace.analysis.stats import (
    bootstrap_bands,
    complexity_weights,
    edf,
    ks_statistic,
    weighted_mean,
)
from archspace.errors import ArchspaceError
from archspace.estimators import Estimator, get_estimator
from archspace.space import Arch, Space
from archspace.spaces import get_space
from archspace.tabular import load_nb201

CONVS = "nb201[-none,-avg_pool_3x3,-skip_connect]"


def test_edf_by_hand() -> None:
    v = np.array([1.0, 2.0, 2.0, 3.0])
    grid = np.array([0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
    # NDS: F(e) = share of errors strictly below e
    assert edf(v, grid).tolist() == [0, 0, 0.25, 0.25, 0.75, 0.75, 1.0]
    w = np.array([1.0, 0.0, 1.0, 2.0])
    assert edf(v, grid, w).tolist() == [0, 0, 0.25, 0.25, 0.5, 0.5, 1.0]
    assert np.isnan(edf(v, grid, np.zeros(4))).all()
    assert weighted_mean(v, w) == pytest.approx((1 + 2 + 6) / 4)


def test_complexity_weights_by_hand() -> None:
    a = np.array([1, 10, 100, 1000.0])  # log10: 0, 1, 2, 3
    b = np.array([10, 20, 500, 5000.0])  # log10: 1, 1.3, 2.7, 3.7
    wa, wb = complexity_weights([a, b], bins=2)
    # common range [1, 3], bins [1, 2) and [2, 3]; each kept bin gets half of each sample's mass
    assert wa.tolist() == [0.0, 0.5, 0.25, 0.25]
    assert wb.tolist() == [0.25, 0.25, 0.5, 0.0]
    for w, c in ((wa, a), (wb, b)):
        assert w.sum() == pytest.approx(1.0)
        low = np.log10(c) < 2
        assert w[low].sum() == pytest.approx(0.5)


def test_complexity_weights_without_overlap_are_zero() -> None:
    wa, wb = complexity_weights([np.array([1.0, 2.0]), np.array([1e6, 2e6])])
    assert not wa.any() and not wb.any()
    (only,) = complexity_weights([np.array([5.0, 5.0, 5.0])])
    assert only.tolist() == pytest.approx([1 / 3] * 3)


def test_ks_statistic() -> None:
    rng = np.random.default_rng(0)
    a, b = np.round(rng.normal(size=40), 1), np.round(rng.normal(0.5, size=55), 1)
    assert ks_statistic(a, b) == pytest.approx(ks_2samp(a, b).statistic)
    assert ks_statistic(a, b) == ks_statistic(b, a)
    assert ks_statistic(a, a.copy()) == 0.0
    assert ks_statistic(np.array([1.0]), np.array([2.0])) == 1.0
    wa = rng.random(40)
    assert ks_statistic(a, b, wa, None) == ks_statistic(b, a, None, wa)
    # doubling every weight changes nothing
    assert ks_statistic(a, b, wa) == pytest.approx(ks_statistic(a, b, 2 * wa))


def test_bootstrap_bands_contain_the_edf() -> None:
    rng = np.random.default_rng(1)
    v = rng.gamma(2.0, 5.0, size=120)
    grid = np.linspace(v.min(), v.max() + 1, 60)
    for w in (None, rng.random(120)):
        lo, hi = bootstrap_bands(v, grid, w, n_boot=200, rng=np.random.default_rng(2))
        f = edf(v, grid, w)
        assert np.all(lo <= f + 1e-12) and np.all(f <= hi + 1e-12)
        assert np.all(hi - lo <= 0.35) and (hi - lo).max() > 0
    same = bootstrap_bands(v, grid, rng=np.random.default_rng(3))
    again = bootstrap_bands(v, grid, rng=np.random.default_rng(3))
    assert np.array_equal(same[0], again[0])


class _FakeAccuracy(Estimator):
    """Accuracy = 50 + 10 * (number of 3x3 convs), no cost keys (the cost model fills them)."""

    name: ClassVar[str] = "fake"
    metric = "accuracy"

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        return {"accuracy": 50.0 + 10 * sum(v == "nor_conv_3x3" for v in arch.values)}


def test_error_edf_on_a_fake_estimator() -> None:
    study = error_edf(["nb201[n1.in0=nor_conv_3x3|nor_conv_1x1,n2.*=skip_connect,n3.*=none]",
                       "nb201[n1.in0=nor_conv_1x1,n2.*=skip_connect,n3.*=none]"],
                      _FakeAccuracy(), samples=10, seed=0, normalize="none", n_boot=50)
    two, one = study.spaces
    assert two.enumerated and two.n == 2 and one.n == 1
    assert sorted(two.errors.tolist()) == [40.0, 50.0]
    assert one.errors.tolist() == [50.0]
    assert two.weights is None and two.norm_edf is None
    assert study.ks_between(two.label, one.label).ks == pytest.approx(0.5)
    # the cost model supplied the complexity
    space = get_space("nb201")
    arch = space.parse_arch(one.scored.archs[0])
    assert one.scored.macs[0] == space.profile(arch).macs
    rows = study.rows()
    assert len(rows) == 3 and {r["space"] for r in rows} == {two.label, one.label}


def test_error_edf_on_the_table() -> None:
    study = error_edf([CONVS, "nb201[-none]"], "nasbench201", samples=64, seed=1, n_boot=50)
    convs, nonone = study.spaces
    assert convs.enumerated and convs.n == 64 and convs.size == 64
    assert not nonone.enumerated and nonone.n == 64 and nonone.size == 4096
    table = load_nb201()
    space = get_space("nb201")
    acc = [table.metric("cifar10_valid_12ep")[space.index_of(space.parse_arch(a))]
           for a in convs.scored.archs]
    assert convs.summary()["min_error"] == pytest.approx(100 - max(acc))
    assert convs.summary()["mean_error"] == pytest.approx(100 - float(np.mean(acc)))
    for s in study.spaces:
        assert s.weights is not None and s.weights.sum() == pytest.approx(1.0)
        assert np.all(np.diff(s.edf) >= 0) and s.edf[-1] == 1.0
        assert np.all(s.band[0] <= s.band[1])
    pair = study.ks_between(CONVS, "nb201[-none]")
    assert pair.ks_raw == pytest.approx(ks_2samp(convs.errors, nonone.errors).statistic)
    assert 0.0 <= pair.pvalue_raw <= 1.0
    d: dict[str, Any] = study.to_dict(curves=True)
    assert len(d["grid"]) == len(d["spaces"][0]["edf"]) == 200


def test_pick_archs_distinct_and_seeded() -> None:
    space = get_space("nb201")
    archs, enumerated = pick_archs(space, 30, 4)
    assert not enumerated and len(set(archs)) == 30
    assert pick_archs(space, 30, 4)[0] == archs


def test_errors_need_an_accuracy() -> None:
    proxy = get_estimator("synflow")
    with pytest.raises(ArchspaceError, match="not an accuracy"):
        error_from(proxy, {"synflow": 3.0})
    with pytest.raises(ArchspaceError):
        error_edf(["nb201"], "nasbench201", normalize="flops")
    with pytest.raises(ArchspaceError, match="twice"):
        error_edf(["nb201", "nb201"], "nasbench201")
    with pytest.raises(ArchspaceError):
        error_edf(["anynet"], "nasbench201", samples=2)


def test_disjoint_complexity_is_reported() -> None:
    # convs only vs {skip, 1x1}: the only complexity both reach is the all-1x1 cell
    cheap = "nb201[-nor_conv_3x3,-none,-avg_pool_3x3]"
    study = error_edf([CONVS, cheap], "nasbench201", samples=64, n_boot=20)
    pair = study.ks_between(CONVS, cheap)
    assert pair.kept == (1, 1) and pair.ks == 0.0 and pair.ks_raw > 0.3
    assert len(study.warnings) == 2 and all("only 1 of 64" in w for w in study.warnings)
    assert study.to_dict()["warnings"] == list(study.warnings)


def test_auto_bins() -> None:
    from archspace.analysis.edf import auto_bins

    assert auto_bins([64, 200]) == 6
    assert auto_bins([5, 300]) == 1
    assert auto_bins([500, 4096]) == 10
