"""The zero-cost proxies: each score function against a hand computation, and every proxy as an
estimator on a catalog space (deterministic under a seed, options that matter)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from archspace import get_space
from archspace.estimators import EstimatorError, get_estimator
from archspace.estimators.proxy_scores import (
    JACOV_K,
    fisher_score,
    grad_norm_score,
    jacov_score,
    snip_score,
)
from archspace.estimators.zero_cost import PROXIES, naswot_score, synflow_score


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


def _linear_batch() -> tuple[nn.Linear, nn.Module, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A linear classifier, a batch and ``dL/dz`` of its mean cross-entropy by hand."""
    torch.manual_seed(0)
    lin = nn.Linear(16, 3)
    model = nn.Sequential(nn.Flatten(), lin)
    x, y = torch.randn(8, 1, 4, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    with torch.no_grad():
        z = lin(x.flatten(1))
        dz = (torch.softmax(z, 1) - nn.functional.one_hot(y, 3)) / len(y)
    return lin, model, x, y, dz


def test_snip_and_grad_norm_of_a_linear_classifier_by_hand() -> None:
    lin, model, x, y, dz = _linear_batch()
    grad_w = dz.T @ x.flatten(1)  # dL/dW of the mean cross-entropy
    with torch.no_grad():
        expected = float((lin.weight * grad_w).abs().sum())
    assert snip_score(model, x, y) == pytest.approx(expected)
    assert grad_norm_score(model, x, y) == pytest.approx(float(grad_w.norm()))
    assert lin.weight.grad is None  # the model itself is untouched


def test_fisher_of_a_linear_classifier_by_hand() -> None:
    lin, model, x, y, dz = _linear_batch()
    with torch.no_grad():
        z = lin(x.flatten(1))
    expected = float((z * dz).pow(2).mean(0).mul(0.5).sum())
    assert fisher_score(model, x, y) == pytest.approx(expected)
    assert lin.weight.grad is None


class _HalfSquare(nn.Module):
    """``0.5 * |x|^2`` per image: its input gradient is the image itself."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x.pow(2).flatten(1).sum(1, keepdim=True) + self.dummy


def test_jacov_of_uncorrelated_and_of_identical_jacobians() -> None:
    # rows of +-1 with zero mean and orthogonal: the correlation matrix is the identity
    x = torch.tensor([[1., 1, -1, -1], [1, -1, 1, -1], [1, -1, -1, 1]]).reshape(3, 1, 2, 2)
    expected = -3 * (math.log(1 + JACOV_K) + 1 / (1 + JACOV_K))
    assert jacov_score(_HalfSquare(), x) == pytest.approx(expected)
    # a linear network has the same input gradient for every image: eigenvalues 3, 0, 0
    lin = nn.Linear(4, 2)
    net = nn.Sequential(nn.Flatten(), lin)
    same = -(math.log(3 + JACOV_K) + 1 / (3 + JACOV_K)) - 2 * (math.log(JACOV_K) + 1 / JACOV_K)
    assert jacov_score(net, x) == pytest.approx(same)
    with torch.no_grad():
        lin.weight.zero_()  # a zero gradient has no correlation at all
    assert jacov_score(net, x) == -math.inf


@pytest.mark.parametrize("name", PROXIES)
def test_zero_cost_estimators_on_a_catalog_space(name: str) -> None:
    space = get_space("mobilenetv2", width=0.35)
    est = get_estimator(name, batch_size=16) if name not in ("params", "macs") \
        else get_estimator(name)
    est.check_space(space)
    a, b = space.sample(0), space.sample(1)
    ma = est.evaluate(space, a, seed=0)
    assert ma == est.evaluate(space, a, seed=0)
    assert math.isfinite(ma[name]) and est.metric == name
    assert ma[name] != est.evaluate(space, b, seed=0)[name]
    assert ma["params"] == get_space("mobilenetv2", width=0.35, num_classes=10).profile(a, 32).params
    with pytest.raises(EstimatorError, match="no option 'epochs'"):
        get_estimator(name, epochs=1)


@pytest.mark.parametrize("name", ["snip", "grad_norm", "fisher", "jacov", "naswot"])
def test_data_proxies_depend_on_the_batch_and_its_seed(name: str) -> None:
    space = get_space("nb201")
    arch = space.sample(3)
    value = get_estimator(name, batch_size=8).evaluate(space, arch, seed=0)[name]
    assert get_estimator(name, batch_size=8, seed=0).evaluate(space, arch, seed=5)[name] == value
    assert get_estimator(name, batch_size=8).evaluate(space, arch, seed=1)[name] != value
    assert get_estimator(name, batch_size=16).evaluate(space, arch, seed=0)[name] != value


def test_cost_baselines_are_the_cost_model() -> None:
    space = get_space("nb201")
    arch = space.sample(0)
    fitted = get_space("nb201", num_classes=10)
    assert get_estimator("macs").evaluate(space, arch)["macs"] == fitted.profile(arch, 8).macs
    assert get_estimator("params", resolution=32).evaluate(space, arch)["params"] == \
        fitted.profile(arch, 32).params
    with pytest.raises(EstimatorError, match="no option 'batch_size'"):
        get_estimator("params", batch_size=4)
