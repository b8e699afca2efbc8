"""A weight-sharing supernet over any space, built from the network IR.

Every space lowers each of its archs to the same IR (:mod:`archspace.ir`), whose parameterised
nodes (``conv``, ``bn``, ``linear``) carry stable names: the same position in two archs has the
same name, and a different op at one position a different name (a cell edge names its op, a
chain names its blocks by stage and index). So one store of weights keyed by node name serves
every arch of the space:

* each name holds the largest tensor any arch of the space needs there (found by lowering the
  largest arch, every choice of every decision and random samples);
* an arch uses the leading output and input channels of it (elastic width and expand ratio),
  the centre of its kernel, transformed by the learned matrices of Once-for-All (Cai et al.,
  "Once-for-All: Train One Network and Specialize it for Efficient Deployment", ICLR 2020) for
  elastic kernels, and whatever names its graph has (elastic depth: the first blocks of a
  stage; cell spaces: every candidate op on every edge has its own weights, as in a DARTS or
  SPOS supernet);
* batch norm keeps running statistics per name at the largest width and an arch normalises with
  their leading channels; with ``searched_bn_affine=False`` the batch norms of the searched ops
  (the names only some archs have: the edge ops of a cell space) hold no scale and shift, as
  the weight-sharing baselines of NAS-Bench-201 train them (Dong & Yang, "NAS-Bench-201:
  Extending the Scope of Reproducible Neural Architecture Search", ICLR 2020: ``affine=False``
  in the searched cells), and the stand-alone network of :meth:`Supernet.extract` gets scale 1
  and shift 0 there, so it still computes what the supernet does.

:meth:`Supernet.activate` picks the sub-network the forward pass runs (one path: memory as for
that sub-network alone); :meth:`Supernet.extract` returns the stand-alone network
``space.build(arch)`` holding the same weights, which computes the same outputs in eval mode.
"""

from __future__ import annotations

import itertools
import random
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archspace.errors import ArchError, SpaceError
from archspace.ir.graph import OPS, Graph, Node
from archspace.nn.builder import GraphModule, _apply, build_module
from archspace.space import Arch, Space

__all__ = ["PARAM_OPS", "Supernet", "SupernetError", "SupernetUnsupported", "build_supernet",
           "check_supported", "layer_specs", "rebuild_supernet", "scan_archs"]

#: IR ops that hold weights; every other op of :data:`archspace.ir.OPS` is weight-free.
PARAM_OPS = ("conv", "bn", "linear")
#: Random archs lowered, besides the largest arch and each choice of each decision, when
#: finding the largest tensor of every weight.
SCAN_SAMPLES = 32
_PLAN_CACHE = 256


class SupernetError(ArchError):
    """An arch the supernet cannot run (outside the space it was built for)."""


class SupernetUnsupported(SpaceError):
    """A space whose networks a supernet cannot share weights over."""


@dataclass
class _Spec:
    """The largest tensor one weight name needs over the space."""

    op: str
    out: int  # conv/linear output channels, bn channels
    inp: int  # conv input channels per group, linear input features (0 for bn)
    kernels: set[tuple[int, int]]
    bias: bool
    affine: bool
    #: Archs (of those the specs were found from) having this name; not saved.
    count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "out": self.out, "inp": self.inp, "bias": self.bias,
                "affine": self.affine, "kernels": sorted([list(k) for k in self.kernels])}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Spec:
        return cls(str(d["op"]), int(d["out"]), int(d["inp"]),
                   {(int(a), int(b)) for a, b in d["kernels"]}, bool(d["bias"]),
                   bool(d["affine"]))


def _key(node: Node) -> str:
    """The weight name of a node: its IR name as a module key (dots to underscores), as
    :class:`~archspace.nn.GraphModule` names its layers."""
    return node.name.replace(".", "_")


def _need(node: Node) -> tuple[int, int, tuple[int, int], bool, bool]:
    a = node.attrs
    if node.op == "conv":
        return a["out_ch"], a["in_ch"] // a["groups"], tuple(a["kernel"]), a["bias"], True
    if node.op == "bn":
        return node.shape[0], 0, (0, 0), False, a["affine"]
    return a["out_features"], a["in_features"], (0, 0), a["bias"], True


def _lower(space: Space, arch: Arch, resolution: int) -> Graph:
    try:
        return space.lower(arch, resolution)
    except NotImplementedError as e:
        raise SupernetUnsupported(f"space {space.label} has no supernet: it does not lower its "
                                  f"archs to the IR ({e}); a supernet needs a space whose "
                                  "_lower (or blocks) builds the network from IR ops") from None


def _check_ops(space: Space, g: Graph) -> None:
    for n in g:
        if n.op not in OPS or n.op == "segment":
            raise SupernetUnsupported(f"space {space.label} has no supernet: its networks use "
                                      f"the op {n.op!r} (node {n.name}); supported: "
                                      f"{', '.join(OPS)}")
    if len(g.inputs) != 1:
        raise SupernetUnsupported(f"space {space.label} has no supernet: its networks take "
                                  f"{len(g.inputs)} inputs; a supernet runs one-input networks")


def check_supported(space: Space, resolution: int | None = None) -> None:
    """Raise :class:`SupernetUnsupported` (naming what is missing) unless ``space`` lowers its
    archs to one-input IR graphs of known ops: what a supernet needs. Cheap: one arch."""
    _check_ops(space, _lower(space, space.sample(0), space.check_resolution(resolution)))


def _largest(space: Space, pick: Any = max) -> Arch | None:
    """Every decision at its largest (``pick=min``: smallest) numeric choice (first choice
    when not numeric); None when that breaks a constraint of the space."""
    values: list[Any] = [None] * len(space.decisions)
    for i, d in enumerate(space.decisions):
        if not space._active(i, values):
            continue
        nums = all(isinstance(c, int | float) and not isinstance(c, bool) for c in d.choices)
        values[i] = pick(d.choices) if nums else d.choices[0]
    if space._violation(values) is not None:
        return None
    return Arch(space.names, tuple(values))


def scan_archs(space: Space, samples: int = SCAN_SAMPLES, seed: int = 0) -> Iterator[Arch]:
    """The archs lowered to find every weight's largest tensor: the largest arch (a random one
    when the largest breaks a constraint), each choice of each decision set in it (decisions
    that become active sampled) and ``samples`` random archs."""
    rng = random.Random(seed)
    largest = _largest(space)
    refs = [largest] if largest is not None else [space.sample(rng)]
    yield from refs
    for ref in refs:
        for i, d in enumerate(space.decisions):
            if ref.values[i] is None:
                continue
            for c in d.choices:
                values = list(ref.values)
                values[i] = c
                space._fill(values, rng, i + 1, keep=True)
                if space._violation(values) is None:
                    yield Arch(space.names, tuple(values))
    for _ in range(samples):
        yield space.sample(rng)


def layer_specs(space: Space, resolution: int, archs: Iterable[Arch]) -> dict[str, _Spec]:
    """The largest tensor of every weight name over the graphs of ``archs``."""
    specs: dict[str, _Spec] = {}
    for arch in archs:
        g = _lower(space, arch, resolution)
        _check_ops(space, g)
        seen: set[str] = set()
        for n in g:
            if n.op not in PARAM_OPS:
                continue
            key = _key(n)
            out, inp, k, bias, affine = _need(n)
            s = specs.get(key)
            if s is None:
                specs[key] = _Spec(n.op, out, inp, {k}, bias, affine, 1)
                seen.add(key)
                continue
            if key not in seen:
                s.count += 1
                seen.add(key)
            if s.op != n.op:
                raise SupernetUnsupported(
                    f"space {space.label} has no supernet: node {n.name} is a {s.op} in one arch "
                    f"and a {n.op} in another; give the two ops different names in the lowering")
            s.out, s.inp = max(s.out, out), max(s.inp, inp)
            s.kernels.add(k)
            s.bias, s.affine = s.bias or bias, s.affine or affine
    return specs


def _make_layer(s: _Spec) -> nn.Module:
    if s.op == "conv":
        kh = max(k[0] for k in s.kernels)
        kw = max(k[1] for k in s.kernels)
        return nn.Conv2d(s.inp, s.out, (kh, kw), bias=s.bias)
    if s.op == "bn":
        return nn.BatchNorm2d(s.out, affine=s.affine)
    return nn.Linear(s.inp, s.out, bias=s.bias)


def _square_chain(kernels: set[tuple[int, int]]) -> list[int] | None:
    """Descending kernel sizes when every kernel is square, else None (no transform)."""
    if len(kernels) < 2 or any(a != b for a, b in kernels):
        return None
    return sorted({a for a, _ in kernels}, reverse=True)


class _Plan:
    """One activated arch: its graph with each node's weight key resolved."""

    __slots__ = ("free", "graph", "input_id", "keys", "nodes")

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.nodes = list(graph.nodes)
        self.keys = [_key(n) if n.op in PARAM_OPS else None for n in self.nodes]
        last: dict[int, int] = {}
        for n in self.nodes:
            for i in n.inputs:
                last[i] = n.id
        self.free = [[i for i in set(n.inputs) if last[i] == n.id] for n in self.nodes]
        self.input_id = graph.inputs[0].id


class Supernet(nn.Module):
    """Weights shared by every arch of ``space`` at ``resolution``; see the module docstring.

    Build one with :func:`build_supernet` (or ``space.supernet()``). ``kernel_transform``
    learns Once-for-All's kernel transformation matrices (one per weight and pair of
    consecutive kernel sizes, initialised to the identity); without it a smaller kernel is the
    plain centre of the larger one. ``searched_bn_affine=False`` records that the batch norms
    of searched ops are affine-free (their specs say ``affine: False``; archs that want them
    affine run them with scale 1 and shift 0).
    """

    def __init__(self, space: Space, resolution: int, specs: dict[str, _Spec],
                 kernel_transform: bool = True, searched_bn_affine: bool = True) -> None:
        super().__init__()
        self.space = space
        self.resolution = resolution
        self.specs = specs
        self.kernel_transform = kernel_transform
        self.searched_bn_affine = searched_bn_affine
        self.layers = nn.ModuleDict({k: _make_layer(s) for k, s in specs.items()})
        self.ktrans = nn.ParameterDict()
        self._chains: dict[str, list[int]] = {}
        if kernel_transform:
            for k, s in specs.items():
                chain = _square_chain(s.kernels) if s.op == "conv" else None
                if chain is None:
                    continue
                self._chains[k] = chain
                for big, small in itertools.pairwise(chain):
                    self.ktrans[f"{k}__{big}to{small}"] = nn.Parameter(torch.eye(small * small))
        self._plans: OrderedDict[Arch, _Plan] = OrderedDict()
        self._plan: _Plan | None = None
        self.arch: Arch | None = None
        self._calibrating = 0
        #: Grow (or add) weights for an arch that needs more than the scan found (a concat of
        #: more states, say), else raise :class:`SupernetError`; the keys grown so far.
        self.grow = True
        self.grown: list[str] = []

    # -- description -----------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """What the file of this supernet records besides its weights (plain data)."""
        return {"space": self.space.name, "params": dict(self.space.params),
                "resolution": self.resolution, "num_classes": self.space.num_classes,
                "kernel_transform": self.kernel_transform,
                "searched_bn_affine": self.searched_bn_affine,
                "specs": {k: s.to_dict() for k, s in self.specs.items()}}

    # -- selecting a sub-network -----------------------------------------------------------
    def _plan_of(self, arch: Arch) -> _Plan:
        plan = self._plans.get(arch)
        if plan is not None:
            self._plans.move_to_end(arch)
            return plan
        arch = self.space.validate(arch)
        g = _lower(self.space, arch, self.resolution)
        self._check(g)
        plan = self._plans[arch] = _Plan(g)
        if len(self._plans) > _PLAN_CACHE:
            self._plans.popitem(last=False)
        return plan

    def _check(self, g: Graph) -> None:
        for n in g:
            if n.op not in PARAM_OPS:
                continue
            s = self.specs.get(_key(n))
            out, inp, k, bias, affine = _need(n)
            why = None
            if n.op == "bn" and not self.searched_bn_affine and (s is None or not s.affine):
                affine = False  # a searched op's batch norm: affine-free in this supernet
            if s is None:
                if self.grow:
                    self._add_layer(_key(n), _Spec(n.op, out, inp, {k}, bias, affine), None)
                    continue
                why = "has no weights in the supernet"
            elif s.op != n.op:
                why = f"is a {n.op}, the supernet's is a {s.op}"
            elif out > s.out or inp > s.inp or (bias and not s.bias) or (affine and not s.affine):
                why = f"needs {out}x{inp} channels, the supernet holds {s.out}x{s.inp}"
            elif n.op == "conv" and k not in s.kernels and (
                    k[0] > max(a for a, _ in s.kernels) or k[1] > max(b for _, b in s.kernels)
                    or _key(n) in self._chains):
                why = (f"has kernel {k[0]}x{k[1]}; the supernet's kernels there are "
                       f"{sorted(s.kernels)}")
            if why and self.grow and s is not None and s.op == n.op and why.startswith("needs"):
                self._add_layer(_key(n), _Spec(n.op, max(out, s.out), max(inp, s.inp),
                                               set(s.kernels), bias or s.bias,
                                               affine or s.affine), s)
                continue
            if why:
                raise SupernetError(f"arch is outside the supernet of {self.space.label}: "
                                    f"node {n.name} {why}")

    @torch.no_grad()
    def _add_layer(self, key: str, spec: _Spec, old: _Spec | None) -> None:
        """Grow the weights of ``key`` to ``spec`` (or add them): the old tensors stay the
        leading slices (gradients too), the new entries are initialised from a generator
        seeded by the name, so growing never depends on the order archs come in."""
        ref = next(iter(self.parameters()), None)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(zlib.crc32(key.encode()))
            layer = _make_layer(spec)
        if ref is not None:
            layer = layer.to(ref.device)
        if old is not None:
            prev = self.layers[key]
            for name, t in [*prev.named_parameters(), *prev.named_buffers()]:
                new = getattr(layer, name, None)
                if new is None:
                    continue
                if new.dim() == 0:
                    new.copy_(t)
                    continue
                new[tuple(slice(0, d) for d in t.shape)] = t
                if isinstance(t, nn.Parameter) and t.grad is not None:
                    grad = torch.zeros_like(new)
                    grad[tuple(slice(0, d) for d in t.shape)] = t.grad
                    new.grad = grad
        self.specs[key] = spec
        self.layers[key] = layer
        self.grown.append(key)

    def activate(self, arch: Arch) -> Supernet:
        """Make ``arch`` the sub-network that :meth:`forward` runs (validated). Weights it
        needs beyond the supernet's are grown (:attr:`grow`; listed in :attr:`grown`) or,
        with ``grow`` off, raise :class:`SupernetError`. Returns self."""
        self._plan = self._plan_of(arch)
        self.arch = arch
        return self

    def sample(self, rng: random.Random | int | None = None) -> Arch:
        """Activate a random arch of the space (uniform per decision, as SPOS samples) and
        return it."""
        arch = self.space.sample(rng)
        self.activate(arch)
        return arch

    # -- the weights of one node -----------------------------------------------------------
    def _conv_weight(self, key: str, node: Node) -> Tensor:
        a = node.attrs
        layer: Any = self.layers[key]
        w: Tensor = layer.weight
        kh, kw = a["kernel"]
        w = w[:a["out_ch"], :a["in_ch"] // a["groups"]]
        chain = self._chains.get(key)
        if chain is not None and kh == kw and kh in chain:
            cur = chain[0]
            for small in chain[1:]:
                if cur == kh:
                    break
                off = (cur - small) // 2
                w = w[:, :, off:off + small, off:off + small]
                m = self.ktrans[f"{key}__{cur}to{small}"]
                w = (w.reshape(-1, small * small) @ m).reshape(w.shape)
                cur = small
            return w
        big_h, big_w = w.shape[2], w.shape[3]
        if (big_h, big_w) != (kh, kw):
            oh, ow = (big_h - kh) // 2, (big_w - kw) // 2
            w = w[:, :, oh:oh + kh, ow:ow + kw]
        return w

    def _run(self, node: Node, key: str | None, xs: list[Tensor]) -> Tensor:
        if key is None:
            return _apply(node, None, xs, self.training)
        layer: Any = self.layers[key]
        a = node.attrs
        if node.op == "conv":
            bias = layer.bias[:a["out_ch"]] if a["bias"] else None
            return F.conv2d(xs[0], self._conv_weight(key, node), bias, a["stride"],
                            a["padding"], a["dilation"], a["groups"])
        if node.op == "linear":
            o, i = a["out_features"], a["in_features"]
            return F.linear(xs[0], layer.weight[:o, :i], layer.bias[:o] if a["bias"] else None)
        c = node.shape[0]
        w = layer.weight[:c] if a["affine"] and layer.affine else None
        b = layer.bias[:c] if a["affine"] and layer.affine else None
        mean, var = layer.running_mean[:c], layer.running_var[:c]
        if self.training:
            if self._calibrating:  # cumulative average over the calibration batches
                momentum = 1.0 / self._calibrating
            else:
                momentum = layer.momentum
                layer.num_batches_tracked.add_(1)
            return F.batch_norm(xs[0], mean, var, w, b, True, momentum, layer.eps)
        return F.batch_norm(xs[0], mean, var, w, b, False, 0.0, layer.eps)

    def forward(self, x: Tensor) -> Tensor:
        """The active sub-network's output for ``x``."""
        plan = self._plan
        if plan is None:
            raise SupernetError("no arch is active: call Supernet.activate(arch) first")
        values: dict[int, Tensor] = {plan.input_id: x}
        out: Tensor = x
        for node, key, free in zip(plan.nodes, plan.keys, plan.free, strict=True):
            if node.op == "input":
                continue
            out = self._run(node, key, [values[i] for i in node.inputs])
            values[node.id] = out
            for i in free:
                del values[i]
        return out

    # -- batch-norm recalibration ----------------------------------------------------------
    @torch.no_grad()
    def recalibrate(self, batches: Iterable[Tensor]) -> int:
        """Re-estimate the active arch's batch-norm statistics as the average over ``batches``
        (SPOS and Once-for-All recalibrate them per sub-network before evaluation: the shared
        running statistics belong to no single arch). Returns the number of batches used."""
        was = self.training
        self.train()
        n = 0
        try:
            for n, x in enumerate(batches, 1):
                self._calibrating = n
                self(x)
        finally:
            self._calibrating = 0
            self.train(was)
        return n

    # -- the stand-alone network -----------------------------------------------------------
    @torch.no_grad()
    def extract(self, arch: Arch | None = None) -> GraphModule:
        """``space.build(arch)`` (the active arch when None) holding this supernet's slice of
        weights and batch-norm statistics; in eval mode it computes what the supernet does."""
        plan = self._plan if arch is None else self._plan_of(arch)
        if plan is None:
            raise SupernetError("no arch is active: call Supernet.activate(arch) or give one")
        model = build_module(plan.graph)
        for node, key in zip(plan.nodes, plan.keys, strict=True):
            if key is None:
                continue
            src: Any = self.layers[key]
            dst: Any = model.layers[key]
            a = node.attrs
            if node.op == "conv":
                dst.weight.copy_(self._conv_weight(key, node))
                if a["bias"]:
                    dst.bias.copy_(src.bias[:a["out_ch"]])
            elif node.op == "linear":
                o, i = a["out_features"], a["in_features"]
                dst.weight.copy_(src.weight[:o, :i])
                if a["bias"]:
                    dst.bias.copy_(src.bias[:o])
            else:
                c = node.shape[0]
                if a["affine"] and src.affine:
                    dst.weight.copy_(src.weight[:c])
                    dst.bias.copy_(src.bias[:c])
                elif a["affine"]:  # an affine-free searched batch norm: the identity affine
                    dst.weight.fill_(1.0)
                    dst.bias.zero_()
                dst.running_mean.copy_(src.running_mean[:c])
                dst.running_var.copy_(src.running_var[:c])
                dst.num_batches_tracked.copy_(src.num_batches_tracked)
        return model.train(self.training)

    def active_parameters(self) -> int:
        """Parameters of the active sub-network (as its stand-alone network counts them)."""
        plan = self._plan
        if plan is None:
            return 0
        total = 0
        for node in plan.nodes:
            if node.op in PARAM_OPS:
                out, inp, (kh, kw), bias, affine = _need(node)
                if node.op == "conv":
                    total += out * inp * kh * kw + (out if bias else 0)
                elif node.op == "linear":
                    total += out * inp + (out if bias else 0)
                elif affine:
                    total += 2 * out
        return total


def searched_names(specs: dict[str, _Spec], archs: int) -> list[str]:
    """The weight names of searched ops: those fewer than all ``archs`` scanned archs have."""
    return sorted(k for k, s in specs.items() if s.count < archs)


def build_supernet(space: Space, resolution: int | None = None, *,
                   kernel_transform: bool = True, searched_bn_affine: bool = True,
                   samples: int = SCAN_SAMPLES, specs: dict[str, Any] | None = None,
                   archs: Sequence[Arch] = ()) -> Supernet:
    """The weight-sharing supernet of ``space`` at ``resolution`` (the space's default when
    None). Its weights have the largest shape over :func:`scan_archs` (``samples`` random archs
    among them) and ``archs``; ``specs`` (from :meth:`Supernet.describe`) skips that scan and
    rebuilds the same shapes, as when loading a saved supernet. ``searched_bn_affine=False``
    makes the batch norms of the searched ops (names not every scanned arch has: the edge ops
    of a cell space) affine-free, as NAS-Bench-201's weight-sharing baselines train them."""
    r = space.check_resolution(resolution)
    if specs is not None:
        shapes = {k: _Spec.from_dict(v) for k, v in specs.items()}
    else:
        scanned = [*scan_archs(space, samples), *archs]
        shapes = layer_specs(space, r, scanned)
        if not searched_bn_affine:
            for k in searched_names(shapes, len(scanned)):
                if shapes[k].op == "bn":
                    shapes[k].affine = False
    if not shapes:
        raise SupernetUnsupported(f"space {space.label} has no supernet: its networks have no "
                                  "weights (no conv, bn or linear node)")
    return Supernet(space, r, shapes, kernel_transform, searched_bn_affine)


def rebuild_supernet(space: Space, resolution: int, described: Mapping[str, Any]) -> Supernet:
    """The supernet :meth:`Supernet.describe` recorded as ``described``, built for ``space``
    at ``resolution`` without scanning archs (its weights still to be loaded)."""
    return build_supernet(space, resolution, specs=described["specs"],
                          kernel_transform=bool(described.get("kernel_transform", True)),
                          searched_bn_affine=bool(described.get("searched_bn_affine", True)))
