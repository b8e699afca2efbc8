"""The training and evaluation loops behind the ``train`` estimator.

Lean on purpose: the data are tensors already on the device, a batch is one ``index_select``,
and each step adds to the plain PyTorch step (forward, cross-entropy, zero_grad, backward,
optimiser step) only a clock read, a learning-rate assignment and an on-device loss sum.
Finiteness is checked every :data:`CHECK_EVERY` steps, so a GPU is synchronised rarely.
``benchmarks/train_throughput.py`` holds it to within 5% of the plain loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archspace.estimators.base import EstimatorError, TrainingDiverged

__all__ = ["CHECK_EVERY", "EVAL_BATCH", "EVAL_BATCH_CPU", "Augment", "FitResult", "Loss",
           "PairAugment", "Resume", "evaluate_model", "fit", "make_optimizer"]

#: Steps between checks that the running loss is finite.
CHECK_EVERY = 20
#: A training-batch transform drawing its randomness from the given generator.
Augment = Callable[[Tensor, torch.Generator], Tensor]
#: A transform of a batch of inputs and their targets together (a flip of image and mask).
PairAugment = Callable[[Tensor, Tensor, torch.Generator], tuple[Tensor, Tensor]]
#: The training loss of a batch: (model output, targets) -> scalar.
Loss = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class FitResult:
    """What a training run did: ``steps`` and ``epochs`` count from the start of training
    (a continued run included), ``seconds`` this call's training time. ``perm`` is the batch
    order of the epoch training stopped in (None at an epoch's end): what a continuation needs,
    with the generator's state, to go on exactly as an uninterrupted run."""

    steps: int
    epochs: float
    train_loss: float
    seconds: float
    perm: Tensor | None = None
    #: The loss summed over the steps of the epoch training stopped in, and their number.
    epoch_loss: Tensor | None = None
    epoch_steps: int = 0
    #: The loss summed over every step from the start of training (a continued run included);
    #: None when a continued run's earlier steps are unknown (a checkpoint without it).
    run_loss: Tensor | None = None

    @property
    def sotl(self) -> float:
        """The mean training loss over every step from the start: the sum over training losses
        (SoTL) of Ru et al., "Speedy Performance Estimation for Neural Architecture Search"
        (NeurIPS 2021), divided by the steps (the same for every arch of one setting, so the
        ranking is SoTL's); lower is better. NaN when :attr:`run_loss` is unknown."""
        if self.run_loss is None or not self.steps:
            return math.nan
        return float(self.run_loss) / self.steps


@dataclass(frozen=True)
class Resume:
    """Where a continued run starts: the step reached and, mid-epoch, that epoch's batch
    order (the optimiser and the generator are restored by the caller)."""

    step: int
    perm: Tensor | None = None
    epoch_loss: Tensor | None = None
    epoch_steps: int = 0
    #: The loss summed over the ``step`` steps already taken (None: unknown, so the continued
    #: run's :attr:`FitResult.sotl` is NaN).
    run_loss: Tensor | None = None


def make_optimizer(model: nn.Module, optimizer: str, lr: float, weight_decay: float,
                   momentum: float = 0.9) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum (the NAS-Bench-201 recipe) or Adam, both with L2 weight decay."""
    params = [p for p in model.parameters() if p.requires_grad]
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                               nesterov=momentum > 0)
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    raise EstimatorError(f"unknown optimizer {optimizer!r}; allowed: sgd, adam")


def _cosine(lr: float, progress: float) -> float:
    return 0.5 * lr * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def _check(loss_sum: Tensor, step: int) -> None:
    if not bool(torch.isfinite(loss_sum)):
        raise TrainingDiverged(f"training diverged: the loss became {float(loss_sum)} by step "
                               f"{step}; allowed: a lower lr, or another arch")


def fit(model: nn.Module, x: Tensor, y: Tensor, opt: torch.optim.Optimizer, batch_size: int,
        epochs: float | None, max_seconds: float | None, generator: torch.Generator, *,
        horizon: float | None = None, resume: Resume | None = None,
        augment: Augment | None = None, loss_fn: Loss | None = None,
        augment_pair: PairAugment | None = None) -> FitResult:
    """Train ``model`` on ``(x, y)`` with a per-step cosine schedule from each param group's
    initial lr to zero over ``horizon`` epochs (default ``epochs``), until ``epochs`` (fractions
    allowed; counted from the very start) and/or ``max_seconds``, whichever ends first; with a
    time budget the schedule follows the larger of step and time progress.

    ``resume`` continues a run that stopped at ``resume.step``: with the optimiser state and
    ``generator`` as they were then, the steps taken are those an uninterrupted run takes (same
    batches, same learning rates), so training to e1 epochs and continuing to e2 equals training
    to e2 at once, under the same ``horizon``.

    Batches are drawn without replacement by a permutation per epoch from ``generator``; the last
    partial batch is dropped (batch norm cannot train on one image). ``augment(batch,
    generator)`` transforms each training batch. Raises :class:`TrainingDiverged` when the loss
    is not finite. ``loss_fn(output, targets)`` is the loss (default cross-entropy; a dense
    task's per-pixel loss, say); ``y`` may hold any per-image targets indexable on dim 0, and
    ``augment_pair(batch, targets, generator)`` transforms both (after ``augment``).
    """
    if loss_fn is None:
        loss_fn = F.cross_entropy
    if epochs is None and max_seconds is None:
        raise EstimatorError("a training budget is needed: set epochs and/or max_seconds")
    n = int(x.shape[0])
    bs = min(batch_size, n)
    per_epoch = max(n // bs, 1)
    total = math.ceil(epochs * per_epoch) if epochs is not None else None
    span = math.ceil(horizon * per_epoch) if horizon is not None else total
    base = [float(g["lr"]) for g in opt.param_groups]
    model.train()
    step = resume.step if resume is not None else 0
    perm = resume.perm.to(x.device) if resume is not None and resume.perm is not None else None
    loss_sum, epoch_steps = torch.zeros((), device=x.device), 0
    if resume is not None and resume.epoch_loss is not None and step % per_epoch:
        loss_sum, epoch_steps = resume.epoch_loss.to(x.device).clone(), resume.epoch_steps
    last_sum, last_steps = loss_sum, 0
    run_sum: Tensor | None = torch.zeros((), device=x.device)
    if step:
        run_sum = (resume.run_loss.to(x.device).clone()  # type: ignore[union-attr]
                   if resume is not None and resume.run_loss is not None else None)
    t0 = time.perf_counter()
    while total is None or step < total:
        b = step % per_epoch
        if b == 0 or perm is None:
            perm = torch.randperm(n, generator=generator).to(x.device)
        progress = step / span if span else 0.0
        if max_seconds is not None:
            progress = max(progress, (time.perf_counter() - t0) / max_seconds)
        if progress >= 1.0:
            break
        for g, lr in zip(opt.param_groups, base, strict=True):
            g["lr"] = _cosine(lr, progress)
        idx = perm[b * bs:(b + 1) * bs]
        xb = x.index_select(0, idx)
        yb = y.index_select(0, idx)
        if augment is not None:
            xb = augment(xb, generator)
        if augment_pair is not None:
            xb, yb = augment_pair(xb, yb, generator)
        loss = loss_fn(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.detach()
        if run_sum is not None:
            run_sum += loss.detach()
        step += 1
        epoch_steps += 1
        if step % CHECK_EVERY == 0:
            _check(loss_sum, step)
        if step % per_epoch == 0:
            last_sum, last_steps = loss_sum, epoch_steps
            loss_sum, epoch_steps, perm = torch.zeros((), device=x.device), 0, None
    if epoch_steps:
        last_sum, last_steps = loss_sum, epoch_steps
    seconds = time.perf_counter() - t0
    for g, lr in zip(opt.param_groups, base, strict=True):
        g["lr"] = lr
    _check(last_sum, step)
    mean = float(last_sum) / last_steps if last_steps else math.nan
    run = run_sum.detach().cpu() if run_sum is not None else None
    if step % per_epoch and perm is not None:
        return FitResult(step, step / per_epoch, mean, seconds, perm.cpu(),
                         loss_sum.detach().cpu(), epoch_steps, run)
    return FitResult(step, step / per_epoch, mean, seconds, run_loss=run)


#: Evaluation batch on the CPU: small enough that a batch's activations stay in the caches
#: (nb201 cells, one thread: 128 images evaluate 23% faster than 512 at 16x16 and 31-38% at
#: 32x32; 64 is no faster); GPUs take :data:`EVAL_BATCH`.
EVAL_BATCH_CPU = 128
EVAL_BATCH = 512


def evaluate_model(model: nn.Module, x: Tensor, y: Tensor,
                   batch_size: int | None = None) -> tuple[float, float]:
    """(top-1 accuracy in %, mean cross-entropy) of ``model`` in eval mode on ``(x, y)``, in
    batches of ``batch_size`` (default :data:`EVAL_BATCH_CPU` on the CPU, else
    :data:`EVAL_BATCH`; in eval mode a batch's size does not change its outputs)."""
    if batch_size is None:
        batch_size = EVAL_BATCH_CPU if x.device.type == "cpu" else EVAL_BATCH
    model.eval()
    loss = torch.zeros((), device=x.device, dtype=torch.float64)
    correct = torch.zeros((), device=x.device, dtype=torch.int64)
    with torch.inference_mode():
        for i in range(0, int(x.shape[0]), batch_size):
            out = model(x[i:i + batch_size])
            yb = y[i:i + batch_size]
            loss += F.cross_entropy(out.float(), yb, reduction="sum").double()
            correct += (out.argmax(dim=1) == yb).sum()
    n = max(int(x.shape[0]), 1)
    mean_loss = float(loss) / n
    if not math.isfinite(mean_loss):
        raise TrainingDiverged(f"evaluation loss is {mean_loss}: the trained network outputs "
                               "non-finite values; allowed: a lower lr, or another arch")
    return 100.0 * int(correct) / n, mean_loss
