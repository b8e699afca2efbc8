"""The zero-cost proxies as functions of an untrained torch module and one batch.

Each function follows the reference implementation of Abdelfattah et al., "Zero-Cost Proxies
for Lightweight NAS", ICLR 2021 (SamsungLabs/zero-cost-nas, ``foresight/pruners/measures``):
the scores sum over the network's conv and linear layers, batch norm runs in training mode
(batch statistics) except for synflow, which removes it, and the loss of the gradient-based ones
is the cross-entropy of one batch. The caller seeds torch and builds the module; every function
leaves the module's weights unchanged.

* :func:`naswot_score`: Mellor et al., "Neural Architecture Search without Training", ICML 2021.
* :func:`synflow_score`: Tanaka et al., "Pruning neural networks without any data by
  iteratively conserving synaptic flow", NeurIPS 2020.
* :func:`snip_score`: Lee et al., "SNIP: Single-shot Network Pruning based on Connection
  Sensitivity", ICLR 2019.
* :func:`grad_norm_score`: the gradient-norm baseline of Abdelfattah et al. 2021.
* :func:`fisher_score`: Turner et al., "BlockSwap: Fisher-guided Block Substitution for Network
  Compression on a Budget", ICLR 2020 (after Theis et al., "Faster gaze prediction with dense
  networks and Fisher pruning", 2018).
* :func:`jacov_score`: the Jacobian covariance of Mellor et al.'s first version (arXiv
  2006.04647, 2020), as Abdelfattah et al. compute it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from archspace.estimators.base import EstimatorError

if TYPE_CHECKING:
    from torch import Tensor, nn

__all__ = ["fisher_score", "grad_norm_score", "jacov_score", "naswot_score", "snip_score",
           "synflow_score"]

#: Activation functions (torch function names) naswot codes and synflow linearises.
RECTIFIERS = ("relu", "relu6", "hardtanh", "leaky_relu", "elu", "gelu", "hardswish",
              "hardsigmoid", "silu", "mish", "softplus", "sigmoid", "tanh")
#: The jacov regulariser of the reference implementation.
JACOV_K = 1e-5


def _weighted(model: nn.Module) -> Iterator[nn.Conv2d | nn.Linear]:
    """The conv and linear layers of ``model`` (the layers every proxy sums over)."""
    from torch import nn

    for mod in model.modules():
        if isinstance(mod, nn.Conv2d | nn.Linear):
            yield mod


def _weight_grads(model: nn.Module) -> Iterator[tuple[Tensor, Tensor]]:
    """(weight, its gradient) of every conv and linear layer that has one."""
    for mod in _weighted(model):
        if mod.weight.grad is not None:
            yield mod.weight.detach(), mod.weight.grad.detach()


def _finite_log(value: float) -> float:
    return -math.inf if math.isnan(value) or value <= 0 else math.log(value)


def _loss_gradients(model: nn.Module, x: Tensor, y: Tensor) -> nn.Module:
    """A copy of ``model`` in training mode whose weights hold the gradients of the batch's
    cross-entropy."""
    import torch.nn.functional as F

    net = copy.deepcopy(model).train()
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    return net


def naswot_score(model: nn.Module, batch: Tensor) -> float:
    """log|det K| with ``K[i, j]`` the number of rectified units on which images i and j of
    ``batch`` agree (both active or both inactive); -inf when K is singular. Activations other
    than ReLU count a unit as active where its input is positive."""
    import torch
    from torch.overrides import TorchFunctionMode

    b = int(batch.shape[0])
    kernel = torch.zeros((b, b), dtype=torch.float64, device=batch.device)

    class Codes(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (),
                               kwargs: Any = None) -> Any:
            if getattr(func, "__name__", "") in RECTIFIERS and args:
                code = (args[0] > 0).flatten(1).to(torch.float64)
                kernel.add_(code @ code.T).add_((1 - code) @ (1 - code).T)
            return func(*args, **(kwargs or {}))

    with torch.no_grad(), Codes():
        model(batch)
    if not bool(kernel.any()):
        raise EstimatorError("naswot: the network has no rectified activations to score; "
                             "allowed: networks with ReLU-like layers")
    sign, logdet = torch.linalg.slogdet(kernel)
    return float(logdet) if float(sign) != 0 else -math.inf


def synflow_score(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Natural log of SynFlow: ``sum |w * dR/dw|`` over conv and linear weights of a float64 copy
    of ``model`` with absolute weights, no batch norm and identity activations, ``R`` the summed
    output for an all-ones input of ``input_shape`` (C, H, W). It needs no data. -inf for a zero
    score. Identity activations are exact for ReLU networks (with positive weights and input
    every pre-activation is positive) and SynFlow's linearisation for bounded ones such as
    ReLU6, which would otherwise saturate and leave only the classifier scored."""
    import torch
    from torch.overrides import TorchFunctionMode

    device = next(model.parameters()).device
    net = _without_batchnorm(copy.deepcopy(model)).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()

    class Linearised(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (),
                               kwargs: Any = None) -> Any:
            if getattr(func, "__name__", "") in RECTIFIERS and args:
                return args[0]
            return func(*args, **(kwargs or {}))

    with Linearised():
        out = net(torch.ones((1, *input_shape), dtype=torch.float64, device=device))
    out.sum().backward()
    total = torch.zeros((), dtype=torch.float64, device=device)
    with torch.no_grad():
        for w, g in _weight_grads(net):
            total += (w * g).abs().sum()
    return _finite_log(float(total))


def snip_score(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """SNIP's connection sensitivity summed over the network: ``sum |w * dL/dw|`` over conv and
    linear weights, ``L`` the cross-entropy of the batch ``(x, y)``."""
    net = _loss_gradients(model, x, y)
    return sum((float((w * g).abs().sum()) for w, g in _weight_grads(net)), 0.0)


def grad_norm_score(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """The sum over conv and linear layers of the L2 norm of the weight gradient of the batch's
    cross-entropy."""
    net = _loss_gradients(model, x, y)
    return sum((float(g.norm()) for _, g in _weight_grads(net)), 0.0)


def fisher_score(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Fisher information of the channels: for the output ``a`` of each conv and linear layer
    and the gradient ``g`` of the batch's cross-entropy with respect to it, each channel scores
    ``0.5 * mean_n (sum_hw a * g)^2``; the score sums over channels and layers (a layer applied
    twice counts twice)."""
    import torch.nn.functional as F

    net = copy.deepcopy(model).train()
    total = [0.0]

    def on_output(_: nn.Module, __: Any, out: Tensor) -> None:
        act = out.detach()

        def on_grad(grad: Tensor) -> None:
            g = act * grad
            g_nk = g.sum(dim=tuple(range(2, g.dim()))) if g.dim() > 2 else g
            total[0] += float(g_nk.pow(2).mean(0).mul(0.5).sum())

        out.register_hook(on_grad)

    handles = [m.register_forward_hook(on_output) for m in _weighted(net)]
    try:
        F.cross_entropy(net(x), y).backward()
    finally:
        for h in handles:
            h.remove()
    return total[0]


def jacov_score(model: nn.Module, x: Tensor) -> float:
    """``-sum(log(v + k) + 1 / (v + k))`` over the eigenvalues ``v`` of the correlation matrix of
    the per-image input gradients of the summed output, ``k = 1e-5``; -inf when a gradient is
    constant (its correlation undefined)."""
    import numpy as np

    net = copy.deepcopy(model).train()
    inp = x.detach().clone().requires_grad_(True)
    out = net(inp)
    out.backward(out.new_ones(out.shape))
    assert inp.grad is not None
    jac = inp.grad.detach().reshape(inp.shape[0], -1).double().cpu().numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.corrcoef(jac)
    if not np.isfinite(corr).all():
        return -math.inf
    v = np.linalg.eigvalsh(corr)
    return float(-np.sum(np.log(v + JACOV_K) + 1.0 / (v + JACOV_K)))


def _without_batchnorm(model: nn.Module) -> nn.Module:
    from torch import nn

    for name, child in list(model.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(model, name, nn.Identity())
        else:
            _without_batchnorm(child)
    return model
