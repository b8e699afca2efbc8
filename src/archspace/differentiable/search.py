"""The bi-level search loop of DARTS and GDAS, and the derivation of a cell.

The training images are split in two seeded halves, as in DARTS (Liu et al., ICLR 2019,
Section 3.3): the network's weights train on one, the architecture weights on the other. Each
step takes one batch of each:

* **DARTS** (first order, ``unrolled=False``): an Adam step on the architecture weights (lr
  ``arch_lr`` = 3e-4, betas (0.5, 0.999), weight decay 1e-3) on the architecture batch, then an
  SGD step on the weights (lr ``lr`` = 0.025 annealed by a cosine to 0.001, momentum 0.9, weight
  decay 3e-4, gradient norm clipped at 5) on the weight batch, every edge the softmax mixture
  of its candidates. Second order (``unrolled=True``) replaces the architecture gradient by
  DARTS's Eq. 7 with the finite-difference Hessian-vector product of Eq. 8 (xi = the weight lr,
  epsilon = 0.01 / ||grad||).
* **GDAS** (Dong & Yang, CVPR 2019): every forward samples one op per edge by the hard
  Gumbel-softmax (straight-through: one-hot in value, the softmax's gradient), so only the
  sampled op runs; the temperature falls linearly from ``tau_max`` (10) to ``tau_min`` (0.1)
  over the epochs. The same two optimisers alternate.

The derived cell takes the argmax op per edge (nb201) or DARTS's top-2 inputs per node without
'none' (darts); see :mod:`archspace.differentiable.mixed`. Randomness comes from the given seed
(weights, alphas, batch order, Gumbel noise), so a search is reproducible on the CPU.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from archspace.differentiable.mixed import SearchNetwork

__all__ = ["SearchOutcome", "SearchSettings", "gumbel_hard", "run_search"]


@dataclass(frozen=True)
class SearchSettings:
    """The hyper-parameters of one search (the strategy's options)."""

    method: str = "darts"  # or "gdas"
    epochs: int = 10
    batch_size: int = 64
    steps: int | None = None  # per epoch, at most
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    arch_lr: float = 3e-4
    arch_decay: float = 1e-3
    grad_clip: float = 5.0
    unrolled: bool = False
    tau_max: float = 10.0
    tau_min: float = 0.1


@dataclass
class SearchOutcome:
    """What a search ends with: the softmax of every edge's architecture weights, steps taken,
    the last losses and the CPU seconds it took."""

    probs: list[list[float]]
    steps: int
    epochs: int
    weight_loss: float
    arch_loss: float
    cpu_seconds: float
    taus: list[float] = field(default_factory=list)


def gumbel_hard(alphas: Sequence[Tensor], tau: float,
                generator: torch.Generator) -> tuple[list[Tensor], list[int]]:
    """GDAS's hard Gumbel-softmax per edge: weights that are one-hot in value with the
    gradient of ``softmax((log_softmax(alpha) + g) / tau)``, and the sampled indices."""
    weights, index = [], []
    for a in alphas:
        while True:
            u = torch.rand(a.shape, generator=generator, device="cpu").to(a.device)
            exponential = -torch.log(u.clamp_min(1e-20))
            gumbel = -torch.log(exponential.clamp_min(1e-20))
            probs = F.softmax((F.log_softmax(a, dim=-1) + gumbel) / tau, dim=-1)
            if torch.isfinite(probs).all():
                break
        k = int(probs.argmax())
        one_hot = torch.zeros_like(probs)
        one_hot[k] = 1.0
        weights.append(one_hot - probs.detach() + probs)
        index.append(k)
    return weights, index


def _softmax(alphas: Sequence[Tensor]) -> list[Tensor]:
    return [F.softmax(a, dim=-1) for a in alphas]


def _tau(settings: SearchSettings, epoch: int) -> float:
    if settings.epochs <= 1:
        return settings.tau_max
    return settings.tau_max - (settings.tau_max - settings.tau_min) * epoch / (settings.epochs - 1)


def run_search(net: SearchNetwork, x_weights: Tensor, y_weights: Tensor, x_arch: Tensor,
               y_arch: Tensor, settings: SearchSettings, seed: int) -> SearchOutcome:
    """Train ``net``'s weights on ``(x_weights, y_weights)`` and its architecture weights on
    ``(x_arch, y_arch)`` (see the module docstring); ``net`` is trained in place."""
    t0 = time.process_time()
    gen = torch.Generator().manual_seed(seed)
    device = x_weights.device
    weights_params = net.weight_parameters()
    w_opt = torch.optim.SGD(weights_params, lr=settings.lr, momentum=settings.momentum,
                            weight_decay=settings.weight_decay)
    a_opt = torch.optim.Adam(list(net.alphas), lr=settings.arch_lr, betas=(0.5, 0.999),
                             weight_decay=settings.arch_decay)
    n = min(len(x_weights), len(x_arch))
    batch = min(settings.batch_size, n)
    per_epoch = max(1, n // batch)
    if settings.steps is not None:
        per_epoch = min(per_epoch, settings.steps)
    total = per_epoch * settings.epochs
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(w_opt, total, eta_min=settings.lr_min)
    net.train()
    steps, w_loss, a_loss = 0, math.nan, math.nan
    taus: list[float] = []
    gdas = settings.method == "gdas"
    for epoch in range(settings.epochs):
        tau = _tau(settings, epoch)
        taus.append(tau)
        pw = torch.randperm(len(x_weights), generator=gen).to(device)
        pa = torch.randperm(len(x_arch), generator=gen).to(device)
        for k in range(per_epoch):
            iw, ia = pw[k * batch:(k + 1) * batch], pa[k * batch:(k + 1) * batch]
            xw, yw, xa, ya = x_weights[iw], y_weights[iw], x_arch[ia], y_arch[ia]
            # architecture step
            a_opt.zero_grad()
            if gdas:
                ws, idx = gumbel_hard(list(net.alphas), tau, gen)
                loss = F.cross_entropy(net(xa, ws, idx), ya)
                loss.backward()
            elif settings.unrolled:
                loss = _unrolled_step(net, xw, yw, xa, ya, float(sched.get_last_lr()[0]),
                                      settings)
            else:
                loss = F.cross_entropy(net(xa, _softmax(list(net.alphas))), ya)
                loss.backward()
            a_opt.step()
            a_loss = float(loss.detach())
            # weight step
            w_opt.zero_grad()
            if gdas:
                ws, idx = gumbel_hard(list(net.alphas), tau, gen)
                out = net(xw, [w.detach() for w in ws], idx)
            else:
                out = net(xw, [w.detach() for w in _softmax(list(net.alphas))])
            loss = F.cross_entropy(out, yw)
            loss.backward()
            for a in net.alphas:
                a.grad = None
            torch.nn.utils.clip_grad_norm_(weights_params, settings.grad_clip)
            w_opt.step()
            sched.step()
            w_loss = float(loss.detach())
            steps += 1
    probs = [[float(v) for v in F.softmax(a.detach(), dim=-1).cpu()] for a in net.alphas]
    return SearchOutcome(probs, steps, settings.epochs, w_loss, a_loss,
                         time.process_time() - t0, taus)


def _unrolled_step(net: SearchNetwork, xw: Tensor, yw: Tensor, xa: Tensor, ya: Tensor,
                   lr: float, settings: SearchSettings) -> Tensor:
    """DARTS's second-order architecture gradient (Eqs. 7-8), written into the alphas'
    ``.grad``: the validation gradient at the one-step-unrolled weights
    ``w' = w - lr * grad_w L_train(w, a)``, minus ``lr`` times the finite-difference
    Hessian-vector product. The weights are restored afterwards; returns the validation loss
    at ``w'``."""
    params = net.weight_parameters()
    alphas = list(net.alphas)
    backup = [p.detach().clone() for p in params]
    train_loss = F.cross_entropy(net(xw, _softmax(alphas)), yw)
    grads = torch.autograd.grad(train_loss, params, allow_unused=True)
    with torch.no_grad():
        for p, g in zip(params, grads, strict=True):
            if g is not None:
                p.sub_(lr * (g + settings.weight_decay * p))
    val_loss = F.cross_entropy(net(xa, _softmax(alphas)), ya)
    got = torch.autograd.grad(val_loss, [*alphas, *params], allow_unused=True)
    d_alpha, d_w = got[:len(alphas)], got[len(alphas):]
    norm = torch.sqrt(sum((g * g).sum() for g in d_w if g is not None) or torch.zeros(()))
    eps = 0.01 / float(norm) if float(norm) > 0 else 0.0
    hessian: list[Tensor | None] = [None] * len(alphas)
    if eps:
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for p, b, g in zip(params, backup, d_w, strict=True):
                    p.copy_(b if g is None else b + sign * eps * g)
            loss = F.cross_entropy(net(xw, _softmax(alphas)), yw)
            g_a = torch.autograd.grad(loss, alphas, allow_unused=True)
            for i, g in enumerate(g_a):
                if g is not None:
                    prev = hessian[i]
                    hessian[i] = sign * g if prev is None else prev + sign * g
    with torch.no_grad():
        for p, b in zip(params, backup, strict=True):
            p.copy_(b)
    for a, g, h in zip(alphas, d_alpha, hessian, strict=True):
        grad = torch.zeros_like(a) if g is None else g.detach().clone()
        if h is not None:
            grad = grad - lr * h / (2 * eps)
        a.grad = grad
    return val_loss.detach()
