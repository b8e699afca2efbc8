"""The zero-cost proxies: naswot and synflow, as functions and as estimators."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from archspace import get_space
from archspace.estimators import EstimatorError, get_estimator
from archspace.estimators.zero_cost import naswot_score, synflow_score


def test_synflow_of_a_linear_layer_is_its_absolute_weight_sum() -> None:
    lin = nn.Linear(16, 3)
    model = nn.Sequential(nn.Flatten(), lin)
    # R = sum(|W| 1 + |b|): dR/dW = 1, so the score is sum |W|.
    assert synflow_score(model, (1, 4, 4)) == pytest.approx(math.log(lin.weight.abs().sum().item()))
    assert lin.weight.grad is None  # the model itself is untouched


def test_synflow_ignores_batch_norm() -> None:
    conv, head = nn.Conv2d(1, 4, 3), nn.Linear(4, 2)
    with_bn = nn.Sequential(conv, nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                            nn.Flatten(), head)
    without = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head)
    with torch.no_grad():
        with_bn[1].weight.fill_(7.0)
    assert synflow_score(with_bn, (1, 6, 6)) == pytest.approx(synflow_score(without, (1, 6, 6)))


def test_synflow_sees_through_saturating_activations() -> None:
    first, second = nn.Linear(16, 32), nn.Linear(32, 2)
    with torch.no_grad():
        first.weight.add_(1.0)  # every abs-weight pre-activation is far above ReLU6's 6
    bounded = nn.Sequential(nn.Flatten(), first, nn.ReLU6(), second)
    linear = nn.Sequential(nn.Flatten(), first, second)
    score = synflow_score(bounded, (1, 4, 4))
    assert score == pytest.approx(synflow_score(linear, (1, 4, 4)))
    # the first layer contributes: the score exceeds the classifier's alone
    with torch.no_grad():
        features = first.weight.abs().sum(1) + first.bias.abs()  # hidden units for an all-ones input
        classifier_only = float((second.weight.abs() * features).sum())
    assert score > math.log(classifier_only)


def test_naswot_kernel_bounds_and_singularity() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 2))
    batch = torch.randn(8, 1, 4, 4)
    score = naswot_score(model, batch)
    # K has 32 on its diagonal and entries in [0, 32]: log det K <= 8 log 32 (Hadamard).
    assert math.isfinite(score) and score <= 8 * math.log(32) + 1e-9
    assert naswot_score(model, batch[:1].expand(8, -1, -1, -1)) == -math.inf
    with pytest.raises(EstimatorError, match="no rectified activations"):
        naswot_score(nn.Sequential(nn.Flatten(), nn.Linear(16, 2)), batch)


@pytest.mark.parametrize("name", ["naswot", "synflow"])
def test_zero_cost_estimators_on_a_catalog_space(name: str) -> None:
    space = get_space("mobilenetv2", width=0.35)
    est = get_estimator(name, batch_size=16)
    est.check_space(space)
    a, b = space.sample(0), space.sample(1)
    ma = est.evaluate(space, a, seed=0)
    assert ma == est.evaluate(space, a, seed=0)
    assert math.isfinite(ma[name]) and est.metric == name
    assert ma[name] != est.evaluate(space, b, seed=0)[name]
    assert ma["params"] == get_space("mobilenetv2", width=0.35, num_classes=10).profile(a, 32).params
    with pytest.raises(EstimatorError, match="no option 'epochs'"):
        get_estimator(name, epochs=1)
