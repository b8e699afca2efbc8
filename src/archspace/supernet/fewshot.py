"""Few-shot NAS: a supernet split on one cell edge into one sub-supernet per op of that edge.

Zhao et al., "Few-shot Neural Architecture Search" (ICML 2021): a one-shot supernet shares one
set of weights among archs that interfere with each other; splitting it on one edge into as
many sub-supernets as the edge has candidate ops, each *initialised from the trained one-shot
supernet* and then trained only on the archs holding its op there, removes the interference
on that edge at a few times the training cost, and an arch is scored by the sub-supernet whose
sub-space contains it. (On NAS-Bench-201 the paper splits one edge into five sub-supernets and
reports a Kendall tau of about 0.61 against stand-alone accuracy.)

:func:`train_few_shot` runs both stages into one supernet file (``archspace supernet train -e
few_shot=EDGE``; :func:`~archspace.supernet.train.train_supernet` calls it): first the ordinary
one-shot training (SPOS with the given options, checkpointed into the same file, so that stage
is an ordinary supernet file while it runs), then each sub-supernet for ``few_shot_epochs``
epochs (default: ``epochs``) on its sub-space (``space.restrict({EDGE: [op]})``) with the same
recipe, sampler, sandwich and distillation options, its own optimiser and a cosine from
``few_shot_lr`` (default: the one-shot ``lr``). The file is rewritten after every epoch of
every sub-supernet, so an interrupted run continues where it stopped. It holds the one-shot
weights under ``state`` (the start of the sub-supernets not yet trained) and the sub-supernets
under ``few_shot``; :func:`load_few_shot` reads them back (``torch.load(weights_only=True)``,
as every supernet file) into a :class:`FewShotSupernet`, which routes each arch to its
sub-supernet and otherwise behaves as a :class:`~archspace.supernet.core.Supernet` does
(``activate``, ``recalibrate``, ``extract``), so the ``oneshot`` estimator and ``archspace
export`` take a few-shot file as they take a one-shot one.

The edges a space can be split on are :meth:`archspace.space.Space.edges` (the decisions that
pick the op of a cell edge: nb201, darts, nasnet).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from archspace.estimators.base import EstimatorError
from archspace.space import Arch, Space
from archspace.supernet.core import Supernet, SupernetError, rebuild_supernet

if TYPE_CHECKING:
    from archspace.nn.builder import GraphModule

__all__ = ["FEW_SHOT_OPTIONS", "FewShotSupernet", "check_edge", "load_few_shot",
           "train_few_shot"]

#: The training options of the few-shot stage (the rest are the one-shot stage's).
FEW_SHOT_OPTIONS = ("few_shot", "few_shot_epochs", "few_shot_lr")


def check_edge(space: Space, edge: str) -> None:
    """Raise a one-line :class:`EstimatorError` unless ``edge`` is an edge of ``space``
    (:meth:`~archspace.space.Space.edges`) with at least two candidate ops."""
    edges = space.edges()
    if not edges:
        raise EstimatorError(f"few_shot={edge!r}: space {space.label} has no cell edges to "
                             "split a supernet on; allowed: a cell space (nb201, darts, "
                             "nasnet), or no few_shot option")
    if edge not in edges:
        shown = ", ".join(edges[:8]) + (f", ... ({len(edges)} in all)" if len(edges) > 8 else "")
        raise EstimatorError(f"few_shot={edge!r} is not an edge of {space.label}; allowed: "
                             f"{shown}")
    if len(space.decision(edge).choices) < 2:
        raise EstimatorError(f"few_shot={edge!r}: edge {edge} of {space.label} has one op, "
                             "nothing to split; allowed: an edge of several ops")


def _op_key(value: Any) -> str:
    return str(value)


class FewShotSupernet(nn.Module):
    """The sub-supernets of a split supernet, one per op of :attr:`edge`, behaving as one
    supernet: :meth:`activate` routes an arch to the sub-supernet of its op on the edge
    (:meth:`route`), and the forward pass, :meth:`recalibrate` and :meth:`extract` are that
    sub-supernet's."""

    def __init__(self, space: Space, edge: str, ops: Sequence[Any],
                 subs: Sequence[Supernet]) -> None:
        super().__init__()
        if len(ops) != len(subs) or not subs:
            raise ValueError("one sub-supernet per op")
        self.space = space
        self.edge = edge
        self.ops = list(ops)
        self.subs = nn.ModuleList(subs)
        self.resolution = subs[0].resolution
        self.arch: Arch | None = None
        self._active: Supernet | None = None

    def index(self, arch: Arch) -> int:
        """Which sub-supernet holds ``arch`` (the index of its op on :attr:`edge`)."""
        arch = self.space.validate(arch)
        op = arch[self.edge]
        keys = [_op_key(o) for o in self.ops]
        if op is None or _op_key(op) not in keys:
            raise SupernetError(f"arch is outside the few-shot supernet of {self.space.label}: "
                                f"its op on edge {self.edge} is {op!r}; the sub-supernets "
                                f"hold {', '.join(keys)}")
        return keys.index(_op_key(op))

    def route(self, arch: Arch) -> Supernet:
        """The sub-supernet whose sub-space contains ``arch``."""
        sub: Supernet = self.subs[self.index(arch)]  # type: ignore[assignment]
        return sub

    def activate(self, arch: Arch) -> FewShotSupernet:
        """Make ``arch`` (in its sub-supernet) what :meth:`forward` runs. Returns self."""
        sub = self.route(arch)
        sub.activate(arch)
        self._active, self.arch = sub, arch
        return self

    def _current(self) -> Supernet:
        if self._active is None:
            raise SupernetError("no arch is active: call FewShotSupernet.activate(arch) first")
        return self._active

    def forward(self, x: Tensor) -> Tensor:
        """The active arch's output for ``x``, with its sub-supernet's weights."""
        out: Tensor = self._current()(x)
        return out

    def recalibrate(self, batches: Iterable[Tensor]) -> int:
        """Re-estimate the active arch's batch-norm statistics in its sub-supernet
        (:meth:`Supernet.recalibrate`)."""
        return self._current().recalibrate(batches)

    def extract(self, arch: Arch | None = None) -> GraphModule:
        """``space.build(arch)`` (the active arch when None) holding its sub-supernet's
        weights (:meth:`Supernet.extract`)."""
        if arch is None:
            return self._current().extract()
        return self.route(arch).extract(arch)

    def active_parameters(self) -> int:
        """Parameters of the active sub-network."""
        return self._current().active_parameters()


def _sub_space(fitted: Space, edge: str, op: Any) -> Space:
    return fitted.restrict({edge: [op]})


def load_few_shot(data: Mapping[str, Any], fitted: Space, where: str) -> FewShotSupernet:
    """The :class:`FewShotSupernet` of a few-shot file's contents ``data`` over ``fitted``
    (the space fitted to the file's classes; checked by the caller), in eval mode on the
    CPU; a one-line :class:`~archspace.supernet.checkpoint.SupernetFileError` if it is
    damaged or unfinished."""
    from archspace.supernet.checkpoint import SupernetFileError

    edge, ops, subs = check_few_shot_file(data, where)
    if edge not in fitted.edges():
        raise SupernetFileError(f"{where} is split on {edge!r}, not an edge of {fitted.label}")
    r = int(data["resolution"])
    nets = []
    for op, sub in zip(ops, subs[:len(ops)], strict=True):
        try:
            sn = rebuild_supernet(_sub_space(fitted, edge, op), r, sub["supernet"])
            sn.load_state_dict(sub["state"])
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise SupernetFileError(f"{where}: the sub-supernet of {_op_key(op)} on {edge} "
                                    f"does not fit {fitted.label} ({first[:160]})") from None
        nets.append(sn)
    return FewShotSupernet(fitted, edge, ops, nets).eval()


def check_few_shot_file(data: Mapping[str, Any],
                        where: str) -> tuple[str, list[Any], list[dict[str, Any]]]:
    """(edge, ops, sub-supernet records) of a few-shot file's contents; a one-line
    :class:`~archspace.supernet.checkpoint.SupernetFileError` if the field is malformed or
    some sub-supernet was not trained yet (cheap: no weights are loaded)."""
    from archspace.supernet.checkpoint import SupernetFileError

    fs = data.get("few_shot")
    try:
        edge, ops, subs = str(fs["edge"]), list(fs["ops"]), list(fs["subs"])  # type: ignore[index]
        if any(not isinstance(s, Mapping) or "state" not in s for s in subs):
            raise KeyError("state")
    except (KeyError, TypeError) as e:
        raise SupernetFileError(f"{where} is damaged: its few_shot field is malformed "
                                f"({type(e).__name__} {e})") from None
    if len(subs) < len(ops):
        missing = ", ".join(_op_key(o) for o in ops[len(subs):])
        raise SupernetFileError(f"{where} is an unfinished few-shot supernet: the "
                                f"sub-supernets of {missing} on {edge} are not trained yet; "
                                "allowed: finish it (rerun the same 'archspace supernet "
                                "train' command)")
    return edge, ops, subs


def _summary(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The file's contents without tensors (what :func:`train_few_shot` returns)."""
    drop = ("state", "optimizer", "generator", "rng")
    out = {k: v for k, v in payload.items() if k not in drop and k != "few_shot"}
    fs = payload.get("few_shot")
    if isinstance(fs, Mapping):
        out["few_shot"] = {**{k: v for k, v in fs.items() if k != "subs"},
                           "subs": [{k: v for k, v in s.items() if k not in drop
                                     and k != "supernet"} for s in fs.get("subs", [])]}
    return out


def train_few_shot(space: Space, output: str | os.PathLike[str], options: Mapping[str, Any],
                   seed: int = 0, *, fresh: bool = False,
                   progress: Callable[[int, int, float], None] | None = None,
                   log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train the one-shot supernet of ``space`` into ``output`` (continued if unfinished,
    kept if trained), then split it on ``options["few_shot"]`` and train every sub-supernet
    (module docstring); returns the file's contents but the tensors."""
    from archspace.datasets import prepared
    from archspace.estimators.augment import augmentation
    from archspace.estimators.loop import make_optimizer
    from archspace.estimators.train import deterministic_mode
    from archspace.supernet.checkpoint import (
        SupernetFileError,
        check_space,
        read_supernet_file,
        write_supernet_file,
    )
    from archspace.supernet.sampling import path_sampler
    from archspace.supernet.train import (
        SupernetTrainer,
        _comparable,
        _report,
        _to_cpu,
        continue_run,
        run_steps,
        train_supernet,
    )

    trainer = SupernetTrainer(**dict(options))
    c = trainer.config
    edge = str(c["few_shot"])
    check_edge(space, edge)
    out = Path(output)
    base_options = {k: v for k, v in dict(options).items() if k not in FEW_SHOT_OPTIONS}
    fitted, r = trainer.adapted(space)
    ops = list(space.decision(edge).choices)
    native = trainer.native_dataset()
    data = prepared(native, r, fitted.in_channels, trainer.device)
    x, y = trainer._train_split(data)
    n = int(x.shape[0])
    bs = min(int(c["batch_size"]), n)
    per_epoch = max(n // bs, 1)
    epochs = float(c["epochs"])
    sub_epochs = float(c["few_shot_epochs"] if c.get("few_shot_epochs") is not None else epochs)
    first_total = math.ceil(epochs * per_epoch)
    sub_total = math.ceil(sub_epochs * per_epoch)
    grand = first_total + len(ops) * sub_total

    start: dict[str, Any] | None = None
    if out.exists() and not fresh:
        start = read_supernet_file(out)
        check_space(start, space, f"supernet file {out}")
        if "few_shot" not in start:
            start = None  # a one-shot file: the first stage (train_supernet checks it)
    if start is None:
        def first(step: int, total: int, loss: float) -> None:
            if progress is not None:
                progress(step, grand, loss)

        stage = None if log is None else (lambda line: log(f"one-shot stage: {line}"))
        train_supernet(space, out, base_options, seed, fresh=fresh, progress=first, log=stage)
        base = read_supernet_file(out)
        start = {k: v for k, v in base.items() if k not in ("optimizer", "generator", "rng")}
        start["options"] = trainer.training_options()
        start["complete"] = False
        start["few_shot"] = {"edge": edge, "ops": ops, "epochs": sub_epochs, "subs": []}
        if log is not None:
            log(f"splitting the supernet on {edge} into {len(ops)} sub-supernets "
                f"({', '.join(map(str, ops))}), {sub_epochs:g} epochs each")
    else:
        for key, now in (("resolution", r), ("num_classes", fitted.num_classes), ("seed", seed),
                         ("options", trainer.training_options())):
            if _comparable(start.get(key)) != _comparable(now):
                raise SupernetFileError(
                    f"supernet file {out} was trained with other {key} ({start.get(key)!r}, "
                    f"now {now!r}); allowed: the same options to continue it, or --fresh to "
                    "start over")
        if start.get("complete"):
            if log is not None:
                log(f"{out} is trained already (few-shot on {edge}); --fresh retrains")
            return _summary(start)
    payload: dict[str, Any] = start
    subs: list[dict[str, Any]] = list(payload["few_shot"]["subs"])
    lr = c.get("few_shot_lr") or c.get("lr") or (0.05 if c["optimizer"] == "sgd" else 1e-3)
    augment = augmentation(c.get("augment", "none"), native.in_channels, r, data.mean, data.std)
    for j, op in enumerate(ops):
        prev = subs[j] if j < len(subs) else None
        if prev is not None and prev.get("complete"):
            continue
        sub_space = _sub_space(fitted, edge, op)
        with deterministic_mode(trainer.device):
            torch.manual_seed(seed + 1 + j)
            sn = rebuild_supernet(sub_space, r, (prev or payload)["supernet"])
            sn.load_state_dict((prev or payload)["state"])
            sn = sn.to(trainer.device)
            opt = make_optimizer(sn, c["optimizer"], float(lr), c["weight_decay"], c["momentum"])
            bases = [float(g["lr"]) for g in opt.param_groups]
            gen = torch.Generator().manual_seed(seed + 1 + j)
            step = 0
            history: list[float] = []
            if prev is not None:
                step, history = continue_run(prev, opt, gen, out)
                if log is not None:
                    log(f"continuing sub-supernet {edge}={op} from epoch {step // per_epoch}")
            # the sub-supernet's own paths: another seed per op, drawn in its sub-space
            draw = path_sampler(sn, str(c["sampler"]), seed + 7919 * (j + 1))
            offset = first_total + j * sub_total

            def saved(step: int, history: list[float], opt: Any, j: int = j, op: Any = op,
                      sn: Supernet = sn, gen: torch.Generator = gen) -> None:
                sub = {"op": op, "supernet": sn.describe(), "epoch": step / per_epoch,
                       "epochs": sub_epochs, "step": step, "history": history,
                       "complete": step >= sub_total,
                       "state": {k: v.detach().cpu() for k, v in sn.state_dict().items()},
                       "optimizer": _to_cpu(opt.state_dict()), "generator": gen.get_state(),
                       "rng": torch.get_rng_state()}
                if step >= sub_total:
                    sub["metrics"] = _report(sn, x, data.x_val, data.y_val,
                                             int(c["bn_batches"]), bs, seed)
                    sub.pop("optimizer")  # finished: nothing to continue
                subs[j:j + 1] = [sub]
                payload["few_shot"] = {**payload["few_shot"], "subs": list(subs)}
                payload["complete"] = len(subs) == len(ops) and all(
                    s.get("complete") for s in subs)
                if payload["complete"]:
                    payload["metrics"] = {f"{s['op']}_{k}": v for s in subs
                                          for k, v in (s.get("metrics") or {}).items()}
                write_supernet_file(out, payload)
                if log is not None and step < sub_total:
                    log(f"sub-supernet {edge}={op} epoch {step // per_epoch}: loss "
                        f"{history[-1]:.4f} (saved {out})")

            def sub_progress(step: int, total: int, loss: float, offset: int = offset) -> None:
                if progress is not None:
                    progress(offset + step, grand, loss)

            if log is not None and prev is None:
                log(f"sub-supernet {edge}={op}: {sub_total} steps")
            run_steps(sn, opt, bases, gen, x, y, c, augment, draw, step, sub_total, per_epoch,
                      history, saved, sub_progress)
    return _summary(payload)
