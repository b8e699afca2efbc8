"""Zero-cost proxies: score an untrained network from one batch, in milliseconds.

* ``naswot``: Mellor et al., "Neural Architecture Search without Training", ICML 2021. For a
  batch, each image's binary code says which units of the rectified layers are active; the score
  is ``log|det K|`` with ``K[i, j]`` the number of units on which images i and j agree. Networks
  that separate inputs into distinct linear regions score higher. Activations other than ReLU
  count a unit as active where its input is positive.
* ``synflow``: Tanaka et al., "Pruning neural networks without any data by iteratively
  conserving synaptic flow", NeurIPS 2020, used for NAS by Abdelfattah et al., "Zero-Cost
  Proxies for Lightweight NAS", ICLR 2021. With every weight replaced by its absolute value,
  batch norm removed, float64, and an all-ones input, ``R = sum(output)``; the score is
  ``sum |w * dR/dw|`` over conv and linear weights. It needs no data (only the input shape). The
  metric is its natural log (the same ranking; the raw score overflows for deep networks).
  Activations are taken as the identity: exact for ReLU networks (with positive weights and
  input every pre-activation is positive), and SynFlow's linearisation for bounded ones such as
  ReLU6, which would otherwise saturate, pass no gradient, and leave only the classifier scored.

Both fit the network to the dataset as the ``train`` estimator does (classes, channels,
resolution); see :mod:`archspace.estimators.train`.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any, ClassVar

from archspace.estimators.base import EstimatorError
from archspace.estimators.options import Option
from archspace.estimators.train import OPTIONS as TRAIN_OPTIONS
from archspace.estimators.train import TrainEstimator, choose_resolution
from archspace.space import Arch, Space

if TYPE_CHECKING:
    from torch import Tensor, nn

__all__ = ["NASWOTEstimator", "SynFlowEstimator", "naswot_score", "synflow_score"]

_SHARED = ("dataset", "root", "download", "val_fraction", "resolution", "device")
OPTIONS = (*(o for o in TRAIN_OPTIONS if o.name in _SHARED),
           Option("batch_size", 64, int, "images in the scoring batch", check=lambda v: v >= 2,
                  requirement="an integer >= 2"))
#: Activation functions (torch function names) naswot codes and synflow linearises.
_RECTIFIERS = ("relu", "relu6", "hardtanh", "leaky_relu", "elu", "gelu", "hardswish",
               "hardsigmoid", "silu", "mish", "softplus", "sigmoid", "tanh")


class _ZeroCost(TrainEstimator):
    """Shared set-up: the fitted space, the network at the chosen resolution, a batch."""

    options: ClassVar[tuple[Option, ...]] = OPTIONS
    metrics: ClassVar[tuple[str, ...]] = ("params", "macs", "peak_sram_bytes", "flash_bytes",
                                          "resolution")

    def _network(self, space: Space, arch: Arch, seed: int) -> tuple[nn.Module, Tensor, Space, int]:
        import torch

        from archspace.datasets import load_dataset
        from archspace.nn import build_module

        c = self.config
        base = self._native()
        fitted = self._space(space, base.num_classes)
        r = choose_resolution(fitted, base.resolution, c["resolution"])
        data = load_dataset(c["dataset"], r, fitted.in_channels, self.device, c["root"],
                            c["download"], c["val_fraction"])
        torch.manual_seed(seed)
        model = build_module(fitted.lower(arch, r)).to(self.device)
        gen = torch.Generator().manual_seed(seed)
        n = int(data.x_train.shape[0])
        idx = torch.randperm(n, generator=gen)[:min(c["batch_size"], n)].to(self.device)
        return model, data.x_train.index_select(0, idx), fitted, r

    def _costs(self, fitted: Space, arch: Arch, r: int) -> dict[str, float]:
        cost = fitted.profile(arch, r)
        return {"params": float(cost.params), "macs": float(cost.macs),
                "peak_sram_bytes": float(cost.peak_sram_bytes),
                "flash_bytes": float(cost.flash_bytes), "resolution": float(r)}


class NASWOTEstimator(_ZeroCost):
    """log|det K| of the activation-pattern kernel of one batch (no training)."""

    name: ClassVar[str] = "naswot"
    summary: ClassVar[str] = "NASWOT zero-cost score: log|det| of a batch's activation-code kernel"
    paper: ClassVar[str] = "Mellor et al. 2021, Neural Architecture Search without Training (ICML)"
    metric = "naswot"

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        model, batch, fitted, r = self._network(space, arch, seed)
        return {"naswot": naswot_score(model, batch), **self._costs(fitted, arch, r)}


class SynFlowEstimator(_ZeroCost):
    """log of the SynFlow saliency summed over all weights (no data, no training)."""

    name: ClassVar[str] = "synflow"
    summary: ClassVar[str] = "SynFlow zero-cost score (log): data-free synaptic-flow saliency"
    paper: ClassVar[str] = ("Tanaka et al. 2020 (NeurIPS); as a NAS proxy Abdelfattah et al. 2021, "
                            "Zero-Cost Proxies for Lightweight NAS (ICLR)")
    metric = "synflow"

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        model, batch, fitted, r = self._network(space, arch, seed)
        score = synflow_score(model, tuple(batch.shape[1:]))
        return {"synflow": score, **self._costs(fitted, arch, r)}


def naswot_score(model: nn.Module, batch: Tensor) -> float:
    """log|det K| with ``K[i, j]`` the number of rectified units on which images i and j of
    ``batch`` agree (both active or both inactive); -inf when K is singular."""
    import torch
    from torch.overrides import TorchFunctionMode

    b = int(batch.shape[0])
    kernel = torch.zeros((b, b), dtype=torch.float64, device=batch.device)

    class Codes(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (),
                               kwargs: Any = None) -> Any:
            if getattr(func, "__name__", "") in _RECTIFIERS and args:
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
    output for an all-ones input of ``input_shape`` (C, H, W). +inf on overflow, -inf for a zero
    score."""
    import torch
    from torch import nn
    from torch.overrides import TorchFunctionMode

    device = next(model.parameters()).device
    net = _without_batchnorm(copy.deepcopy(model)).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()

    class Linearised(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (),
                               kwargs: Any = None) -> Any:
            if getattr(func, "__name__", "") in _RECTIFIERS and args:
                return args[0]
            return func(*args, **(kwargs or {}))

    with Linearised():
        out = net(torch.ones((1, *input_shape), dtype=torch.float64, device=device))
    out.sum().backward()
    total = torch.zeros((), dtype=torch.float64, device=device)
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, nn.Conv2d | nn.Linear) and mod.weight.grad is not None:
                total += (mod.weight * mod.weight.grad).abs().sum()
    value = float(total)
    if math.isnan(value) or value <= 0:
        return -math.inf
    return math.log(value)


def _without_batchnorm(model: nn.Module) -> nn.Module:
    from torch import nn

    for name, child in list(model.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(model, name, nn.Identity())
        else:
            _without_batchnorm(child)
    return model
