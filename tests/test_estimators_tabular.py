"""The nasbench201 estimator against rows of the published NAS-Bench-201 CSV."""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archspace import get_space
from archspace.estimators import EstimatorError, get_estimator

# Rows copied from nasbench201.csv: arch, cifar10/cifar100/imagenet16 valid_12ep, then
# cifar10/cifar100/imagenet16 test_200ep.
ROWS = [
    ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|"
     "skip_connect~2|", 63.364, 31.84, 18.4667, 85.8633, 52.9133, 26.6333),
    ("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|",
     83.742, 58.96, 35.2333, 93.91, 70.89, 44.2333),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|"
     "nor_conv_3x3~2|", 84.892, 61.32, 37.1, 94.3733, 73.0933, 46.3333),
    ("|nor_conv_1x1~0|+|none~0|nor_conv_1x1~1|+|none~0|nor_conv_1x1~1|nor_conv_1x1~2|",
     55.762, 25.28, 13.4333, 86.8233, 55.22, 21.4111),
]
CSV = Path(os.environ.get("ARCHSPACE_NB201_CSV", "/work/shared/benchmarks/nasbench201.csv"))


@pytest.mark.parametrize("row", ROWS, ids=["id0", "resnet", "best", "id15624"])
def test_lookup_equals_the_published_values(row: tuple) -> None:  # type: ignore[type-arg]
    space = get_space("nb201")
    arch = space.parse_arch(row[0])
    for k, col in enumerate(("cifar10_valid_12ep", "cifar100_valid_12ep", "imagenet16_valid_12ep")):
        est = get_estimator("nasbench201", metric=col)
        assert est.metric == col
        m = est.evaluate(space, arch, seed=k)
        assert m[col] == row[1 + k]
    prof = space.profile(arch)
    assert m["params"] == prof.params and m["macs"] == prof.macs
    assert est.final_metrics(space, arch) == {"cifar10_test_200ep": row[4],
                                              "cifar100_test_200ep": row[5],
                                              "imagenet16_test_200ep": row[6]}


@pytest.mark.skipif(not CSV.exists(), reason="the benchmark CSV is not on this machine")
def test_random_cells_equal_the_csv() -> None:
    with CSV.open(newline="") as f:
        rows = list(csv.DictReader(f))
    space, est = get_space("nb201"), get_estimator("nasbench201")
    for r in random.Random(0).sample(rows, 200):
        arch = space.parse_arch(r["arch"])
        assert est.evaluate(space, arch)["cifar10_valid_12ep"] == float(r["cifar10_valid_12ep"])
        assert est.final_metrics(space, arch)["imagenet16_test_200ep"] == float(
            r["imagenet16_test_200ep"])


def test_lookups_are_fast_and_restricted_spaces_work() -> None:
    space = get_space("nb201").restrict(exclude={"*": ["none"]})
    est = get_estimator("nasbench201")
    est.check_space(space)
    archs = [space.sample(i) for i in range(50)]
    for a in archs:
        est.evaluate(space, a)
    t0 = time.perf_counter()
    for _ in range(20):
        for a in archs:
            est.evaluate(space, a)
    assert (time.perf_counter() - t0) / 1000 < 1e-3


def test_only_the_benchmark_space_and_columns() -> None:
    est = get_estimator("nasbench201")
    with pytest.raises(EstimatorError, match="scores only the nb201 space, not mobilenetv2"):
        est.check_space(get_space("mobilenetv2"))
    with pytest.raises(EstimatorError, match="has C=8; allowed: C=16"):
        est.check_space(get_space("nb201", C=8))
    with pytest.raises(EstimatorError, match="scores only the nb201 space"):
        est.evaluate(get_space("mobilenetv2"), get_space("mobilenetv2").sample(0))
    with pytest.raises(EstimatorError, match="must be one of cifar10_valid_12ep, "
                                             "cifar100_valid_12ep, imagenet16_valid_12ep"):
        get_estimator("nasbench201", metric="cifar10_test_200ep")
    est.check_space(get_space("nb201", num_classes=100))


def test_tabular_estimator_imports_no_torch() -> None:
    code = ("import sys; from archspace import get_space; from archspace.estimators import "
            "get_estimator; s = get_space('nb201'); e = get_estimator('nasbench201'); "
            "e.evaluate(s, s.sample(0)); e.final_metrics(s, s.sample(0)); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
