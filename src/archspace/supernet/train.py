"""Training a supernet: single-path uniform sampling, optionally sandwich and distillation.

SPOS (Guo et al., "Single Path One-Shot Neural Architecture Search with Uniform Sampling",
ECCV 2020) trains the shared weights one path at a time: each step samples an arch uniformly
(every decision uniformly, as ``space.sample`` does), runs only that sub-network and updates
the weights it used, so memory stays that of one sub-network. ``sandwich`` adds, every step,
the largest and the smallest arch of the space to the random one (two random paths in all, as
BigNAS does: Yu et al., "BigNAS: Scaling Up Neural Architecture Search with Big Single-Stage
Models", ECCV 2020); ``distill`` trains every path but the largest on the largest's soft
predictions (in-place distillation: Yu et al. 2020, as Once-for-All does, Cai et al. ICLR 2020).
``sampler`` draws the random paths otherwise (:mod:`.sampling`: redrawing disconnected cells,
or FairNAS's strict fairness), and ``searched_bn_affine=false`` trains the batch norms of the
searched ops without scale and shift (:func:`~archspace.supernet.core.build_supernet`).
The largest and smallest archs are those of the most and fewest parameters among the archs the
supernet was built from (for a chain space, every decision at its largest or smallest choice).

The data, augmentation and recipe are the ``train`` estimator's (its options: ``dataset``,
``epochs``, ``batch_size``, ``lr``, ``recipe`` ...); the learning rate follows a per-step
cosine to zero over all epochs. A checkpoint is written atomically after every epoch, so an
interrupted run continues from its last epoch with the same batches and archs.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from archspace.estimators.base import EstimatorError
from archspace.estimators.options import Option
from archspace.estimators.train import OPTIONS as TRAIN_OPTIONS
from archspace.estimators.train import TrainEstimator, deterministic_mode
from archspace.space import Arch, Space
from archspace.supernet.checkpoint import (
    SupernetFileError,
    check_space,
    read_supernet_file,
    write_supernet_file,
)

if TYPE_CHECKING:
    from torch import Tensor

    from archspace.supernet.core import Supernet
    from archspace.supernet.fewshot import FewShotSupernet

__all__ = ["SUPERNET_OPTIONS", "SupernetTrainer", "evaluate_path", "extremes", "train_supernet"]

#: The training options that do not apply to a supernet (no per-trial checkpoints or horizon).
_DROPPED = {"keep", "horizon"}


def _positive(v: float) -> bool:
    return v > 0


SUPERNET_OPTIONS: tuple[Option, ...] = (
    *(o for o in TRAIN_OPTIONS if o.name not in _DROPPED),
    Option("sandwich", False, bool, "also train the largest and the smallest arch every step "
           "(the sandwich rule of BigNAS, Yu et al. 2020)"),
    Option("distill", False, bool, "train the sampled paths on the largest arch's predictions "
           "(in-place distillation, Yu et al. 2020 / Once-for-All)"),
    Option("searched_bn_affine", True, bool, "scale and shift in the batch norms of the "
           "searched ops (false: affine-free there, as NAS-Bench-201's weight-sharing "
           "baselines train them; Dong & Yang, ICLR 2020)"),
    Option("sampler", "uniform", str, "how the random paths are drawn: uniform (SPOS), "
           "connected (uniform, redrawn while a node gets only none inputs; SETN, Dong & Yang "
           "2019) or fair (every op of every decision once per group of steps; FairNAS, Chu et "
           "al. 2021)", choices=("uniform", "connected", "fair")),
    Option("kernel_transform", True, bool, "learn Once-for-All's kernel transformation matrices "
           "(else a small kernel is the plain centre of the large one)"),
    Option("bn_batches", 4, int, "training batches the final report recalibrates batch-norm "
           "statistics on", check=lambda v: v > 0, requirement="an integer > 0", maximum=10_000),
    Option("few_shot", None, str, "split the trained supernet on this cell edge (a decision "
           "of space.edges(), e.g. n1.in0 of nb201) into one sub-supernet per op, each "
           "initialised from it and trained on its sub-space (few-shot NAS, Zhao et al. ICML "
           "2021; one file)"),
    Option("few_shot_epochs", None, float, "epochs of each few-shot sub-supernet (default: "
           "epochs)", check=_positive, requirement="a number > 0"),
    Option("few_shot_lr", None, float, "initial learning rate of each few-shot sub-supernet "
           "(default: lr)", check=_positive, requirement="a number > 0"),
)
#: Options that change neither the weights nor the schedule.
_NOT_TRAINING = frozenset({"device", "root", "download", "recipe", "bn_batches"})
#: Options added after the first supernet files, with their defaults (the former behaviour).
_NEWER: dict[str, Any] = {"searched_bn_affine": True, "sampler": "uniform", "few_shot": None,
                          "few_shot_epochs": None, "few_shot_lr": None}


class SupernetTrainer(TrainEstimator):
    """The ``train`` estimator's data and recipe, for training one supernet (not an estimator
    of the registry; :func:`train_supernet` uses it)."""

    name: ClassVar[str] = "supernet"
    options: ClassVar[tuple[Option, ...]] = SUPERNET_OPTIONS

    def training_options(self) -> dict[str, Any]:
        """The options the weights depend on; the newer ones only when not at their default,
        so files written before they existed still continue."""
        return {k: v for k, v in sorted(self.config.items()) if k not in _NOT_TRAINING
                and not (k in _NEWER and v == _NEWER[k])}


def extremes(sn: Supernet, samples: int = 16) -> tuple[Arch, Arch]:
    """The (largest, smallest) arch by parameters among reference archs: every decision at its
    largest choice and each choice of each decision in it, every decision at its smallest
    choice, and random archs."""
    from archspace.supernet.core import _largest, scan_archs

    hit = sn.__dict__.get("_extremes")
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    space, r = sn.space, sn.resolution
    archs = [*scan_archs(space, samples), *(a for a in (_largest(space, min),) if a is not None)]
    params = [space.profile(a, r).params for a in archs]
    big = archs[max(range(len(archs)), key=params.__getitem__)]
    small = archs[min(range(len(archs)), key=params.__getitem__)]
    sn.__dict__["_extremes"] = (big, small)
    return big, small


def _lr(base: float, progress: float) -> float:
    return 0.5 * base * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def _step_rng(seed: int, step: int) -> random.Random:
    return random.Random(f"spos:{seed}:{step}")


def evaluate_path(sn: Supernet | FewShotSupernet, arch: Arch, calib: Tensor, x_val: Tensor, y_val: Tensor,
                  bn_batches: int, batch_size: int) -> tuple[float, float]:
    """(top-1 accuracy %, mean loss) of ``arch`` with inherited weights on ``(x_val, y_val)``
    after recalibrating its batch-norm statistics on the first ``bn_batches`` batches of
    ``calib`` (SPOS's protocol)."""
    from archspace.estimators.loop import evaluate_model

    sn.activate(arch)
    bs = max(1, min(batch_size, int(calib.shape[0])))
    sn.recalibrate(calib[i * bs:(i + 1) * bs] for i in range(bn_batches)
                   if i * bs < int(calib.shape[0]))
    return evaluate_model(sn, x_val, y_val)


def _calibration_images(x: Tensor, count: int, seed: int) -> Tensor:
    """``count`` training images in a fixed order (the batches batch norm is recalibrated on)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(int(x.shape[0]), generator=gen)[:count].to(x.device)
    return x.index_select(0, idx)


def train_supernet(space: Space, output: str | os.PathLike[str], options: Mapping[str, Any],
                   seed: int = 0, *, fresh: bool = False,
                   progress: Callable[[int, int, float], None] | None = None,
                   log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train the supernet of ``space`` with ``options`` (see :data:`SUPERNET_OPTIONS`) and
    ``seed``, writing it to ``output`` after every epoch. An unfinished file at ``output`` of
    the same space, options and seed is continued (``fresh`` starts over); a finished one is
    returned as it is. ``progress(step, total, loss)`` is called after every step. Returns the
    file's contents but the tensors: the space, the epochs done, the loss of each epoch and the
    inherited-weight accuracy of the largest and the smallest arch."""
    import torch

    from archspace.datasets import prepared
    from archspace.estimators.augment import augmentation
    from archspace.estimators.loop import make_optimizer
    from archspace.spaces import space_target
    from archspace.supernet.core import build_supernet, check_supported
    from archspace.supernet.sampling import path_sampler

    trainer = SupernetTrainer(**dict(options))
    c = trainer.config
    if c.get("epochs") is None:
        raise EstimatorError("supernet training needs epochs=N (a number of epochs > 0)")
    if c.get("distill") and not c.get("sandwich"):
        raise EstimatorError("option distill=true needs sandwich=true (the largest arch, "
                             "trained every step, is the teacher)")
    check_supported(space)
    trainer.check_space(space)
    out = Path(output)
    if out.is_dir():
        raise SupernetFileError(f"output {out} is a folder; give a file name, e.g. sn.pt")
    if c.get("few_shot") is not None:
        from archspace.supernet.fewshot import train_few_shot

        return train_few_shot(space, out, options, seed, fresh=fresh, progress=progress,
                              log=log)
    fitted, r = trainer.adapted(space)
    base_info = {"space": space_target(space), "params": dict(space.params),
                 "label": space.label, "resolution": r, "num_classes": fitted.num_classes,
                 "dataset": str(c["dataset"]), "options": trainer.training_options(),
                 "seed": seed}
    start = None
    if out.exists() and not fresh:
        start = read_supernet_file(out)
        check_space(start, space, f"supernet file {out}")
        for key in ("resolution", "num_classes", "seed", "options"):
            if _comparable(start.get(key)) != _comparable(base_info[key]):
                raise SupernetFileError(
                    f"supernet file {out} was trained with other {key} ({start.get(key)!r}, "
                    f"now {base_info[key]!r}); allowed: the same options to continue it, or "
                    "--fresh to start over")
        if start.get("complete"):
            if log is not None:
                log(f"{out} is trained already ({start.get('epoch')} epochs); --fresh retrains")
            return {k: v for k, v in start.items() if k not in ("state", "optimizer", "generator", "rng")}
    device = trainer.device
    torch.manual_seed(seed)
    sn = build_supernet(fitted, r, kernel_transform=bool(c["kernel_transform"]),
                        searched_bn_affine=bool(c["searched_bn_affine"]))
    native = trainer.native_dataset()
    data = prepared(native, r, fitted.in_channels, device)
    x, y = trainer._train_split(data)
    n = int(x.shape[0])
    bs = min(int(c["batch_size"]), n)
    per_epoch = max(n // bs, 1)
    epochs = float(c["epochs"])
    total = math.ceil(epochs * per_epoch)
    with deterministic_mode(device):
        sn = sn.to(device)
        lr = c["lr"] if c.get("lr") is not None else 0.05 if c["optimizer"] == "sgd" else 1e-3
        opt = make_optimizer(sn, c["optimizer"], lr, c["weight_decay"], c["momentum"])
        bases = [float(g["lr"]) for g in opt.param_groups]  # a loaded state holds decayed ones
        gen = torch.Generator().manual_seed(seed)
        step = 0
        history: list[float] = []
        if start is not None:
            step, history = continue_run(start, opt, gen, out, sn)
            if log is not None:
                log(f"continuing {out} from epoch {step // per_epoch} of {epochs:g}")
        draw = path_sampler(sn, str(c["sampler"]), seed)
        augment = augmentation(c.get("augment", "none"), native.in_channels, r, data.mean,
                               data.std)
        payload: dict[str, Any] = {**base_info, "epoch": step / per_epoch, "step": step}

        def saved(step: int, history: list[float], opt: Any) -> None:
            nonlocal payload
            payload = {**base_info, "supernet": sn.describe(), "epoch": step / per_epoch,
                       "epochs": epochs, "step": step, "history": history,
                       "complete": step >= total,
                       "state": {k: v.detach().cpu() for k, v in sn.state_dict().items()},
                       "optimizer": _to_cpu(opt.state_dict()),
                       "generator": gen.get_state(), "rng": torch.get_rng_state()}
            if step >= total:
                payload["metrics"] = _report(sn, x, data.x_val, data.y_val,
                                             int(c["bn_batches"]), bs, seed)
            write_supernet_file(out, payload)
            if log is not None and step < total:
                log(f"epoch {step // per_epoch}: loss {history[-1]:.4f} (saved {out})")

        run_steps(sn, opt, bases, gen, x, y, c, augment, draw, step, total, per_epoch,
                  history, saved, progress)
    return {k: v for k, v in payload.items() if k not in ("state", "optimizer", "generator", "rng")}


def continue_run(state: Mapping[str, Any], opt: Any, gen: Any, out: Any,
                 sn: Supernet | None = None) -> tuple[int, list[float]]:
    """Restore a saved run into ``opt``, ``gen``, torch's RNG (and ``sn``'s weights when
    given); the run's step and loss history. A state that does not fit: one line naming
    ``out`` and ``--fresh``."""
    import torch

    try:
        if sn is not None:
            sn.load_state_dict(state["state"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        if isinstance(state.get("rng"), torch.Tensor):  # dropout draws from it
            torch.set_rng_state(state["rng"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise SupernetFileError(f"supernet file {out} cannot be continued ({e}); "
                                "allowed: --fresh to start over") from None
    return int(state["step"]), list(state.get("history") or [])


def run_steps(sn: Supernet, opt: Any, bases: list[float], gen: Any, x: Tensor, y: Tensor,
              c: Mapping[str, Any], augment: Any, draw: Callable[[int, int], list[Arch]],
              step: int, total: int, per_epoch: int, history: list[float],
              saved: Callable[[int, list[float], Any], None],
              progress: Callable[[int, int, float], None] | None = None) -> None:
    """Train ``sn`` from ``step`` to ``total`` steps (SPOS, with ``c``'s sandwich and
    distillation options): each step one batch of a fresh permutation per epoch (drawn from
    ``gen``), the paths ``draw(step, k)`` gives, the learning rate a per-step cosine from
    ``bases`` to zero; ``saved(step, history, opt)`` is called after every epoch and the
    last step (``history``: the mean loss of each epoch)."""
    import torch
    import torch.nn.functional as F

    device = x.device
    n = int(x.shape[0])
    bs = min(int(c["batch_size"]), n)
    big, small = extremes(sn) if c["sandwich"] else (None, None)
    perm = None
    loss_sum, loss_n = 0.0, 0
    while step < total:
        b = step % per_epoch
        if b == 0 or perm is None:
            perm = torch.randperm(n, generator=gen).to(device)
        for g, base in zip(opt.param_groups, bases, strict=True):
            g["lr"] = _lr(base, step / total)
        idx = perm[b * bs:(b + 1) * bs]
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        if augment is not None:
            xb = augment(xb, gen)
        paths = [big, small, *draw(step, 2)] if big is not None else draw(step, 1)
        opt.zero_grad(set_to_none=True)
        sn.train()
        teacher = None
        step_loss = 0.0
        for k, arch in enumerate(paths):
            before = dict(sn.named_parameters())
            sn.activate(arch)  # type: ignore[arg-type]
            if sn.grown:  # weights grown for this arch: the optimiser follows them
                opt = _regrown(opt, sn, before, c)
                sn.grown.clear()
            logits = sn(xb)
            if teacher is not None:
                loss = F.kl_div(F.log_softmax(logits, 1), teacher, reduction="batchmean")
            else:
                loss = F.cross_entropy(logits, yb)
            if c["distill"] and k == 0:
                teacher = F.softmax(logits.detach(), 1)
            loss.backward()
            step_loss += float(loss.detach())
        opt.step()
        step += 1
        if not math.isfinite(step_loss):
            raise EstimatorError(f"supernet training diverged at step {step} (loss "
                                 f"{step_loss}); allowed: a lower lr")
        loss_sum, loss_n = loss_sum + step_loss / len(paths), loss_n + 1
        if progress is not None:
            progress(step, total, step_loss / len(paths))
        if step % per_epoch == 0 or step == total:
            history.append(loss_sum / max(loss_n, 1))
            loss_sum, loss_n = 0.0, 0
            perm = None
            saved(step, history, opt)


def _report(sn: Supernet, x: Tensor, x_val: Tensor, y_val: Tensor, bn_batches: int,
            batch_size: int, seed: int) -> dict[str, float]:
    """Inherited-weight accuracy of the largest and smallest arch (BN recalibrated)."""
    big, small = extremes(sn)
    calib = _calibration_images(x, bn_batches * batch_size, seed)
    out = {}
    for name, arch in (("largest", big), ("smallest", small)):
        acc, loss = evaluate_path(sn, arch, calib, x_val, y_val, bn_batches, batch_size)
        out[f"{name}_val_accuracy"], out[f"{name}_val_loss"] = acc, loss
    sn.train()
    return out


def _regrown(opt: Any, sn: Supernet, before: Mapping[str, Any], c: Mapping[str, Any]) -> Any:
    """A new optimiser over the supernet's parameters after some grew, each keeping its
    state (momentum, Adam's moments) as the leading slice, zeros beyond; the parameter order
    is the supernet's, as a supernet rebuilt from its file has it, so a resumed run matches."""
    import torch

    from archspace.estimators.loop import make_optimizer

    lr = float(opt.param_groups[0]["lr"])
    new = make_optimizer(sn, c["optimizer"], lr, c["weight_decay"], c["momentum"])
    for name, p in sn.named_parameters():
        old = before.get(name)
        if old is None or old not in opt.state:
            continue
        state = {}
        for key, v in opt.state[old].items():
            if isinstance(v, torch.Tensor) and v.shape == old.shape and v.shape != p.shape:
                grown = torch.zeros_like(p)
                grown[tuple(slice(0, d) for d in v.shape)] = v
                v = grown
            state[key] = v
        new.state[p] = state
    return new


def _comparable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {k: _comparable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return tuple(_comparable(x) for x in v)
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    return v


def _to_cpu(obj: Any) -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj
