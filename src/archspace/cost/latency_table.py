"""Latency predicted from a per-device lookup table over the IR's layer signatures.

A network's latency on a device is predicted as the sum of its layers' latencies, each looked up
by the layer's *signature*: op, input and output shapes and the attributes that change the work
(kernel, stride, padding, dilation, groups, bias; the activation's kind; pooling window). This is
the lookup-table predictor of ProxylessNAS (Cai et al., ICLR 2019) and Once-for-All (Cai et al.,
ICLR 2020) at the granularity of nn-Meter's kernels (Zhang et al., "nn-Meter: Towards Accurate
Latency Prediction of Deep-Learning Model Inference on Diverse Edge Devices", MobiSys 2021): a
layer is measured alone, with its inputs resident, by ``archspace latency calibrate``
(:mod:`archspace.cost.latency_calibrate`).

Two corrections make the sum a network's latency:

* a layer the table lacks is predicted by a linear model of its op class (depthwise, pointwise,
  k x k and grouped convolutions apart), ``ms = c0 + c1 * MACs + c2 * input elements + c3 *
  output elements``, fitted by least squares on the table's measured layers of that class;
* the per-network overhead (the framework's dispatch between layers, the call itself):
  ``latency = a * sum(layers) + b * layers + c``, fitted on whole networks measured at
  calibration: one fit per calibrated space family (``nb201``'s many tiny layers pay a
  different share of overhead than a MobileNetV2 chain's), and one over all of them for
  the spaces that were not calibrated.

Prediction builds no torch module: it reads the IR. A space with ``latency_terms`` (every
catalog space but mobilenetv2, proxyless, mcunet and nb201) describes its network as pieces, each
distinct piece lowered once per table (or, for anynet and regnet's X blocks, its layers'
signatures written directly and priced by :meth:`LatencyTable.layer`), and keeps sums of pieces
(a block's, a cell's) in the table's memos; chain spaces are predicted block by block, each
distinct (block, input shape) lowered once; spaces that profile through
:class:`~archspace.ir.segments.SegmentGraph` reuse their segment templates; every signature is
looked up once per table.

Sums are exact: each layer's latency (a double) is held as an integer multiple of 2**-1074,
these integers are added, and only the total is rounded, once, to a double (Python's integer
true division rounds correctly). So the prediction does not depend on how the layers are
grouped or ordered: a fast path that caches a block's or a cell's sum gives exactly (``==``) the
number of summing every layer of the lowered network. This module imports neither torch nor
the space layer.
"""

from __future__ import annotations

import inspect
import itertools
import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from archspace.errors import ArchspaceError
from archspace.ir.graph import Graph, IRError, Node
from archspace.ir.segments import SegmentGraph, Template

__all__ = ["TABLE_SCHEMA", "LatencyError", "LatencyTable", "Overhead", "Signature", "exact",
           "fit_fallback", "fit_overhead", "fit_overhead_loo", "fit_space_overheads",
           "layer_class", "layer_features", "node_signature", "signature_key", "to_ms"]

#: Predictions a table remembers (least recently used dropped first).
ARCH_CACHE_SIZE = 100_000
#: Version of the table file's layout (:meth:`LatencyTable.from_json` refuses others).
TABLE_SCHEMA = 1

Signature = tuple[Any, ...]
_TOKENS = itertools.count()
#: Every finite double is an integer multiple of 2**-1074 (the smallest subnormal).
_EXP = 1074
_SCALE = 1 << _EXP


def exact(ms: float) -> int:
    """``ms`` as the integer ``ms * 2**1074`` (exact for every finite double)."""
    num, den = ms.as_integer_ratio()
    return num << (_EXP + 1 - den.bit_length())


def to_ms(total: int) -> float:
    """The double nearest ``total * 2**-1074`` (correctly rounded)."""
    return total / _SCALE


class LatencyError(ArchspaceError):
    """An unknown device, or a latency table that is damaged or was made for another device."""


def _attrs_key(node: Node) -> tuple[Any, ...]:
    op, a = node.op, node.attrs
    if op == "conv":
        return (tuple(a["kernel"]), a["stride"], tuple(a["padding"]), a["dilation"], a["groups"],
                bool(a["bias"]))
    if op == "act":
        return (a["kind"],)
    if op in ("maxpool", "avgpool"):
        return (a["kernel"], a["stride"], a["padding"], bool(a.get("count_include_pad", True)))
    if op == "upsample":
        return (a["mode"],)
    if op == "linear":
        return (bool(a["bias"]),)
    if op == "zero":
        return (a["stride"],)
    if op == "crop":
        return (a["top"], a["left"])
    if op == "bn":
        return (bool(a["affine"]),)
    return ()


def node_signature(node: Node, nodes: Sequence[Node]) -> Signature:
    """The layer signature of ``node`` (its inputs are ``nodes[i]``): op, input shapes (in
    order, a repeated input repeated), output shape and the op's work-changing attributes."""
    ins = node.inputs
    return (node.op, (nodes[ins[0]].shape,) if len(ins) == 1
            else tuple([nodes[i].shape for i in ins]), node.shape, _attrs_key(node))


def _fmt(v: Any) -> str:
    t = type(v)
    if t is int or t is str:  # the common cases first (a bool is not ``type(v) is int``)
        return str(v)
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, tuple):
        return "x".join([_fmt(x) for x in v])
    return str(v)


def _shape_fmt(shape: Any) -> str:
    """:func:`_fmt` of a shape: ``"x".join(map(str, ...))`` where every entry is an int."""
    if type(shape) is tuple and all(type(d) is int for d in shape):
        return "x".join(map(str, shape))
    return _fmt(shape)


def signature_key(sig: Signature, texts: tuple[dict[Any, str], dict[Any, str]] | None = None
                  ) -> str:
    """The signature as the table file's key, e.g.
    ``conv|16x32x32|32x32x32|3x3,1,1x1,1,1,0`` (op | inputs, ``+`` between | output | attrs).
    ``texts`` (optional): two dicts that remember each shape's and each attribute tuple's
    text between calls."""
    op, ins, out, attrs = sig
    if texts is None:
        return (f"{op}|{'+'.join([_shape_fmt(s) for s in ins])}|{_shape_fmt(out)}|"
                f"{','.join([_fmt(a) for a in attrs])}")
    shapes, attr_texts = texts
    parts = []
    for s in (*ins, out):
        text = shapes.get(s)
        if text is None:
            text = shapes[s] = _shape_fmt(s)
        parts.append(text)
    out_s = parts.pop()
    attrs_s = attr_texts.get(attrs)
    if attrs_s is None:
        attrs_s = attr_texts[attrs] = ",".join([_fmt(a) for a in attrs])
    return f"{op}|{'+'.join(parts)}|{out_s}|{attrs_s}"


def layer_class(sig: Signature) -> str:
    """The op class of a signature, for the fallback model of layers the table lacks."""
    op, ins, out, attrs = sig
    if op != "conv":
        return op
    (kh, kw), _, _, _, groups, _ = attrs
    c_in = ins[0][0]
    if groups > 1 and groups == c_in == out[0]:
        return "conv_dw"
    if groups > 1:
        return "conv_group"
    return "conv_1x1" if kh == kw == 1 else "conv_kxk"


def layer_features(sig: Signature) -> tuple[float, float, float]:
    """(MACs, input elements, output elements) of a signature, the fallback model's inputs."""
    op, ins, out, attrs = sig
    prod = math.prod
    macs = 0
    if op == "conv":
        (kh, kw), _, _, _, groups, _ = attrs
        macs = out[0] * (ins[0][0] // groups) * kh * kw * out[1] * out[2]
    elif op == "linear":
        macs = ins[0][0] * out[0]
    elif op in ("maxpool", "avgpool"):
        macs = prod(out) * attrs[0] * attrs[0]
    n_in = prod(ins[0]) if len(ins) == 1 else sum([prod(s) for s in ins])
    return float(macs), float(n_in), float(prod(out))


@dataclass(frozen=True)
class Overhead:
    """``latency = a * sum(layer ms) + b * layers + c`` (ms), fitted on whole networks."""

    a: float = 1.0
    b: float = 0.0
    c: float = 0.0

    def __call__(self, layer_sum: float, n_layers: int) -> float:
        return max(self.a * layer_sum + self.b * n_layers + self.c, 0.0)


def _fit(s: np.ndarray, n: np.ndarray, y: np.ndarray, form: str) -> Overhead:
    if form == "sum":
        return Overhead()
    if form == "scale":
        return Overhead(float(np.median(y / np.maximum(s, 1e-9))), 0.0, 0.0)
    w = 1.0 / np.maximum(y, 1e-6)
    design = np.stack([s, n, np.ones_like(s)], axis=1) * w[:, None]
    coef, *_ = np.linalg.lstsq(design, y * w, rcond=None)
    if not (np.all(np.isfinite(coef)) and coef[0] > 0):
        return _fit(s, n, y, "scale")
    return Overhead(float(coef[0]), float(coef[1]), float(coef[2]))


def _loo_errors(s: np.ndarray, n: np.ndarray, y: np.ndarray, form: str) -> np.ndarray:
    """Each network's squared relative error when ``form`` is fitted on the others."""
    errs = np.empty(len(y))
    for k in range(len(y)):
        keep = np.arange(len(y)) != k
        model = _fit(s[keep], n[keep], y[keep], form)
        errs[k] = ((model(float(s[k]), int(n[k])) - y[k]) / max(y[k], 1e-9)) ** 2
    return errs


def fit_overhead(layer_sums: Sequence[float], n_layers: Sequence[int],
                 measured: Sequence[float]) -> tuple[Overhead, str]:
    """The overhead correction of whole networks and its form: of the plain sum (``sum``), a
    scale ``a`` (``scale``, the median ratio) and the least-squares fit of ``a``, ``b`` and
    ``c`` weighted by ``1/measured`` (``linear``), the one with the smallest leave-one-out
    relative error (so a few noisy networks do not buy a fit that only fits them)."""
    model, form, _ = fit_overhead_loo(layer_sums, n_layers, measured)
    return model, form


def fit_overhead_loo(layer_sums: Sequence[float] | np.ndarray,
                     n_layers: Sequence[int] | np.ndarray,
                     measured: Sequence[float] | np.ndarray
                     ) -> tuple[Overhead, str, np.ndarray]:
    """:func:`fit_overhead`, and each network's leave-one-out squared relative error under
    the chosen form (what :func:`fit_space_overheads` compares)."""
    s = np.asarray(layer_sums, float)
    n = np.asarray(n_layers, float)
    y = np.asarray(measured, float)
    if len(y) < 2:
        return Overhead(), "sum", np.full(len(y), np.inf)
    forms = ["sum", "scale"] + (["linear"] if len(y) >= 6 else [])
    best, best_err, best_errs = "sum", math.inf, np.full(len(y), np.inf)
    for form in forms:
        errs = _loo_errors(s, n, y, form)
        err = float(np.mean(errs))
        if err < best_err - 1e-12:
            best, best_err, best_errs = form, err, errs
    return _fit(s, n, y, best), best, best_errs


def fit_space_overheads(groups: Sequence[str], layer_sums: Sequence[float],
                        n_layers: Sequence[int], measured: Sequence[float]
                        ) -> tuple[Overhead, str, dict[str, tuple[Overhead, str]]]:
    """The overall overhead fit over every network, and per group (space family) its own fit,
    kept only where it predicts the group's left-out networks better than the overall fit
    does (mean leave-one-out squared relative error over the group's networks)."""
    g = np.asarray(groups, object)
    s = np.asarray(layer_sums, float)
    n = np.asarray(n_layers, float)
    y = np.asarray(measured, float)
    overall, form, overall_errs = fit_overhead_loo(s, n, y)
    own: dict[str, tuple[Overhead, str]] = {}
    for name in dict.fromkeys(groups):
        mask = g == name
        if int(mask.sum()) < 2 or int(mask.sum()) == len(y):
            continue
        model, f, errs = fit_overhead_loo(s[mask], n[mask], y[mask])
        if float(np.mean(errs)) < float(np.mean(overall_errs[mask])) - 1e-12:
            own[name] = (model, f)
    return overall, form, own


def fit_fallback(rows: Iterable[tuple[str, tuple[float, float, float], float]]
                 ) -> dict[str, tuple[float, float, float, float]]:
    """Per op class, least-squares ``ms ~ c0 + c1 MACs + c2 in + c3 out`` (non-negative: a
    negative coefficient is dropped and the rest refitted), from ``(class, features, ms)``."""
    by: dict[str, list[tuple[tuple[float, float, float], float]]] = {}
    for cls, feats, ms in rows:
        by.setdefault(cls, []).append((feats, ms))
    out: dict[str, tuple[float, float, float, float]] = {}
    for cls, items in by.items():
        x = np.array([[1.0, *f] for f, _ in items])
        y = np.array([ms for _, ms in items])
        keep = [j for j in range(4) if j == 0 or np.any(x[:, j] != 0)]
        while True:
            coef = np.zeros(4)
            if len(items) >= len(keep):
                scale = np.maximum(np.abs(x[:, keep]).max(axis=0), 1e-12)
                sol, *_ = np.linalg.lstsq(x[:, keep] / scale, y, rcond=None)
                coef[keep] = sol / scale
            else:
                coef[0] = float(np.median(y))
                break
            neg = [j for j in keep if j and coef[j] < 0]
            if not neg:
                break
            keep = [j for j in keep if j not in neg]
        coef[0] = max(coef[0], 0.0)
        out[cls] = (float(coef[0]), float(coef[1]), float(coef[2]), float(coef[3]))
    return out


@dataclass
class LatencyTable:
    """One device's table: measured layer latencies (ms) by :func:`signature_key`, the
    fallback models, the overhead correction, and what the table was measured on."""

    device: str
    layers: dict[str, float]
    overhead: Overhead = field(default_factory=Overhead)
    fallback: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    fingerprint: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    #: Overhead fitted on one space family's networks (by :attr:`Space.name`); a space not
    #: listed gets :attr:`overhead`, the fit over every calibrated network.
    space_overhead: dict[str, Overhead] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._sig_ms: dict[Signature, float] = {}
        self._sig_exact: dict[Signature, int] = {}
        self._texts: tuple[dict[Any, str], dict[Any, str]] = ({}, {})
        self._coef_of: dict[str, tuple[float, float, float, float]] | None = None
        self._coefs: dict[str, tuple[float, float, float, float] | None] = {}
        self._chain: dict[tuple[Any, tuple[int, ...]], tuple[int, int, tuple[int, ...]]] = {}
        self._templates: dict[int, tuple[Template, int, int]] = {}
        self._token = next(_TOKENS)
        self._segment_cache: dict[tuple[Any, ...], Template | None] = {}
        self._parts: dict[tuple[int, ...], dict[Any, tuple[int, int]]] = {}
        #: Predict blocks with ``latency_parts`` from their parts (see :meth:`predict_chain`).
        self.fast_parts = True
        self._calls: dict[tuple[Any, ...], tuple[tuple[int, int], tuple[int, ...]]] = {}
        self._memos: dict[Any, dict[Any, Any]] = {}
        self._outs: frozenset[tuple[str, tuple[int, ...]]] = frozenset()
        self._outs_of: dict[str, float] | None = None
        self.hits = 0
        self.misses = 0

    # -- one layer -------------------------------------------------------------------------
    def layer_ms(self, sig: Signature) -> float:
        """The table's latency of one layer: measured if present, else its class's model."""
        hit = self._sig_ms.get(sig)
        if hit is not None:
            return hit
        ms = self.layers.get(signature_key(sig, self._texts))
        if ms is None:
            self.misses += 1
            ms = self._fallback_ms(sig)
        else:
            self.hits += 1
        self._sig_ms[sig] = ms
        return ms

    def _layer_exact(self, sig: Signature) -> int:
        """:meth:`layer_ms` as :func:`exact`'s integer."""
        hit = self._sig_exact.get(sig)
        if hit is None:
            hit = self._sig_exact[sig] = exact(self.layer_ms(sig))
        return hit

    def layer(self, sig: Signature) -> int:
        """:meth:`layer_ms` of ``sig`` as :func:`exact`'s integer, for a signature whose
        op is an IR op and whose shapes (inputs and output) are tuples of ``int``, as a space
        that builds signatures without the IR writes them (see :meth:`predict`). Such a
        signature whose (op, output shape) no key of the table has is not formatted: its key
        cannot be in the table (:meth:`_key_outs`), so it gets its class's model at once."""
        hit = self._sig_exact.get(sig)
        if hit is None:
            ms = self._sig_ms.get(sig)
            if ms is None:
                if self._outs_of is not self.layers:
                    self._key_outs()
                if (sig[0], sig[2]) in self._outs:
                    ms = self.layer_ms(sig)
                else:
                    self.misses += 1
                    ms = self._sig_ms[sig] = self._fallback_ms(sig)
            hit = self._sig_exact[sig] = exact(ms)
        return hit

    def _key_outs(self) -> None:
        """(op, output shape) of each key of :attr:`layers` whose output field reads as a
        shape of ints: the key of a signature with an IR op (no ``|`` in it) and int shapes
        is ``op|inputs|output|attrs`` with no ``|`` in its inputs or output field, so if it
        is in the table, its (op, output shape) is in this set (each field is parsed back
        only where formatting the parsed ints gives the field again)."""
        outs = set()
        for key in self.layers:
            fields = key.split("|")
            if len(fields) < 4:
                continue
            text = fields[2]
            try:
                shape = tuple([int(t) for t in text.split("x")]) if text else ()
            except ValueError:
                continue
            if "x".join(map(str, shape)) == text:
                outs.add((fields[0], shape))
        self._outs, self._outs_of = frozenset(outs), self.layers

    def _fallback_ms(self, sig: Signature) -> float:
        if sig[0] == "input":
            return 0.0
        cls = layer_class(sig)
        coefs = self._coefs
        coef = (coefs[cls] if self._coef_of is self.fallback and cls in coefs
                else self._class_coef(cls))
        if coef is None:
            return 0.0
        macs, n_in, n_out = layer_features(sig)
        return max(coef[0] + coef[1] * macs + coef[2] * n_in + coef[3] * n_out, 0.0)

    def _class_coef(self, cls: str) -> tuple[float, float, float, float] | None:
        """The fallback model of op class ``cls``; of an op never measured, the cheapest
        elementwise op measured (None if none was). Remembered per ``fallback`` dict."""
        if self._coef_of is not self.fallback:
            self._coef_of, self._coefs = self.fallback, {}
        if cls in self._coefs:
            return self._coefs[cls]
        coef = self.fallback.get(cls)
        if coef is None:
            known = [c for k, c in self.fallback.items() if not k.startswith("conv")]
            coef = min(known, key=lambda c: c[0]) if known else None
        self._coefs[cls] = coef
        return coef

    # -- whole networks --------------------------------------------------------------------
    def _nodes_exact(self, nodes: Sequence[Node], start: int = 0) -> tuple[int, int]:
        """(exact sum, count) of the latencies of ``nodes[start:]``, inputs left out."""
        total, count = 0, 0
        for node in nodes[start:]:
            if node.op == "input":
                continue
            total += self._layer_exact(node_signature(node, nodes))
            count += 1
        return total, count

    def _nodes_ms(self, nodes: Sequence[Node], start: int = 0) -> tuple[float, int]:
        """(sum in ms, count) of the latencies of ``nodes[start:]``, inputs left out."""
        total, count = self._nodes_exact(nodes, start)
        return to_ms(total), count

    def overhead_for(self, space: Any) -> Overhead:
        """The overhead correction for networks of ``space``: its family's own fit, else the
        fit over all calibrated networks."""
        return self.space_overhead.get(getattr(space, "name", None) or "", self.overhead)

    def predict_graph(self, graph: Graph, overhead: Overhead | None = None) -> float:
        """Predicted latency (ms) of a whole IR graph (with ``overhead``, by default the
        table's overall one)."""
        if isinstance(graph, SegmentGraph):
            total, count = self._segments_exact(graph)
        else:
            total, count = self._nodes_exact(graph.nodes)
        return (overhead or self.overhead)(to_ms(total), count)

    def _segments_exact(self, graph: SegmentGraph) -> tuple[int, int]:
        """The sum of :meth:`_node_terms` (written out: the loop of every cold prediction)."""
        nodes, templates = graph.nodes, graph.templates
        known = self._sig_exact
        total, count = 0, 0
        for node in nodes:
            op = node.op
            if op == "input":
                continue
            if op == "segment":
                tmpl = templates.get(node.id)
                if tmpl is not None:
                    hit = self._templates.get(id(tmpl))
                    if hit is None or hit[0] is not tmpl:
                        ms, k = self._nodes_exact(tmpl.nodes, tmpl.n_inputs)
                        hit = self._templates[id(tmpl)] = (tmpl, ms, k)
                    total += hit[1]
                    count += hit[2]
                    continue
            ins = node.inputs
            sig = (op, (nodes[ins[0]].shape,) if len(ins) == 1
                   else tuple([nodes[i].shape for i in ins]), node.shape, _attrs_key(node))
            v = known.get(sig)
            if v is None:
                v = known[sig] = exact(self.layer_ms(sig))
            total += v
            count += 1
        return total, count

    def _node_terms(self, graph: SegmentGraph) -> list[tuple[int, int]]:
        """Each non-input node's (exact ms, layers), in graph order: a segment node's are its
        template's sum and layer count."""
        nodes, templates = graph.nodes, graph.templates
        out: list[tuple[int, int]] = []
        cache = self._templates
        for node in nodes:
            tmpl = templates.get(node.id)
            if tmpl is not None:
                hit = cache.get(id(tmpl))
                if hit is None or hit[0] is not tmpl:
                    ms, k = self._nodes_exact(tmpl.nodes, tmpl.n_inputs)
                    hit = cache[id(tmpl)] = (tmpl, ms, k)
                out.append((hit[1], hit[2]))
            elif node.op != "input":
                out.append((self._layer_exact(node_signature(node, nodes)), 1))
        return out

    def _lowered_block(self, block: Any, shape: tuple[int, ...]
                       ) -> tuple[int, int, tuple[int, ...]]:
        """(exact ms, layers, output shape) of ``block`` lowered on ``shape`` into a
        SegmentGraph."""
        g = SegmentGraph(self._segment_cache)
        out = block.lower(g, g.input(shape))
        ms, k = self._segments_exact(g)
        return ms, k, out.shape

    def part(self, fn: Any, shapes: tuple[tuple[int, ...], ...], *args: Any
             ) -> tuple[tuple[int, int], tuple[int, ...]]:
        """``((exact ms, layers), output shape)`` of ``fn(g, *inputs, *args)`` lowered alone
        into a SegmentGraph on distinct inputs of ``shapes`` (the sum over its nodes, as in
        :meth:`_node_terms`); each distinct call once per table (see :meth:`predict`)."""
        key = (fn, shapes, args)
        hit = self._calls.get(key)
        if hit is None:
            g = SegmentGraph(self._segment_cache)
            out = fn(g, *[g.input(shape) for shape in shapes], *args)
            hit = self._calls[key] = (self._segments_exact(g), out.shape)
        return hit

    def memo(self, key: Any) -> dict[Any, Any]:
        """A dict this table keeps for ``key``: where a space's ``latency_terms`` caches sums of
        :meth:`part` terms (a cell's block, say), so they live and die with this table's
        latencies. ``key`` must name everything the cached sums depend on that the space does
        not check when it reads them (see :meth:`predict`)."""
        found = self._memos.get(key)
        if found is None:
            found = self._memos[key] = {}
        return found

    def _parts_block(self, parts: Sequence[Any], shape: tuple[int, ...]
                     ) -> tuple[int, int, tuple[int, ...]]:
        """(exact ms, layers, output shape) of a block made of ``parts`` (see
        :meth:`predict_chain`): the same layers, so the same exact sum, as lowering the
        block."""
        cache = self._parts.get(shape)
        if cache is None:
            cache = self._parts[shape] = {}
        total, count = 0, 0
        for part in parts:
            terms = cache.get(part)
            if terms is None:
                g = SegmentGraph(self._segment_cache)
                part.lower(g, g.input(shape))
                terms = cache[part] = self._segments_exact(g)
            total += terms[0]
            count += terms[1]
        return total, count, shape

    def predict_chain(self, input_shape: tuple[int, ...], blocks: Iterable[Any],
                      overhead: Overhead | None = None) -> float:
        """Predicted latency (ms) of a chain of :class:`~archspace.ir.blocks.Block` applied to
        ``input_shape``; each distinct (block, input shape) is lowered once, into a
        :class:`~archspace.ir.segments.SegmentGraph` (its segment ops' templates shared).

        A block with a ``latency_parts()`` method (a NAS-Bench-201 cell: its six edge ops and
        two sums) is not lowered: that method returns blocks (hashable, shared between cells)
        such that lowering the block on an input of shape ``s`` adds exactly the nodes its
        parts add when each is lowered alone on an input of shape ``s``, in order, and its
        output has shape ``s``. Each (part, shape) is lowered once, so a new cell costs a
        lookup per part, and its exact sum is the lowered block's (``fast_parts = False`` lowers
        every block, the reference the tests compare with)."""
        cache = self._chain
        shape = input_shape
        total, count = 0, 0
        fast = self.fast_parts
        prev: Any = None
        prev_in: tuple[int, ...] | None = None
        hit = (0, 0, shape)
        for block in blocks:
            if block is not prev or shape != prev_in:  # else a repeated cell: the same entry
                key = (block, shape)
                found = cache.get(key)
                if found is None:  # segment ops (a cell's edges) are lowered once per signature
                    parts = (block.latency_parts() if fast and hasattr(block, "latency_parts")
                             else None)
                    found = cache[key] = (self._lowered_block(block, shape) if parts is None
                                          else self._parts_block(parts, shape))
                hit, prev, prev_in = found, block, shape
            total += hit[0]
            count += hit[1]
            shape = hit[2]
        return (overhead or self.overhead)(to_ms(total), count)

    def predict(self, space: Any, arch: Any, resolution: int | None = None) -> float:
        """Predicted latency (ms) at batch 1 of ``arch`` of ``space`` at ``resolution``.

        A space with ``latency_terms(arch, resolution, part, memo)`` (``darts``, ``nasnet``,
        ``anynet``, ``regnet``, ``mnasnet``, ``nasfpn``, ``trilevel``, ``macro``,
        ``autodeeplab``; ``memo``: :meth:`memo`) is not
        lowered: that method calls ``part`` (:meth:`part`) for each piece of the network in
        the network (cell preprocessing, each cell node or block, each concatenation),
        passing on the output shapes ``part`` returns, and returns the list of the terms it
        got (a ``latency_terms`` with a ``layer`` parameter also gets :meth:`layer`, to price
        layer signatures it writes itself: ``anynet`` and ``regnet``'s X blocks); their exact
        sum is the number of
        lowering the network into a SegmentGraph (``fast_parts = False`` does that, the
        reference the tests compare with), and a new cell costs a lookup per piece; not where a
        subclass overrides a method that builds the network (``lower``, ``_lower``, ``blocks``,
        ``named_blocks``, ``_cell``) below the class that defines ``latency_terms``. Otherwise a space
        with ``segment_profile`` goes through its segment templates, a chain space (one with
        ``blocks``) block by block, any other through its full IR.
        The space remembers the last :data:`ARCH_CACHE_SIZE` predictions per (table, arch,
        resolution), as it does profiles."""
        r = space.check_resolution(resolution)
        key = (self._token, arch, r)
        cache: OrderedDict[tuple[int, Any, int], float] = space.__dict__.setdefault(
            "_latency_cache", OrderedDict())
        hit = cache.get(key)
        if hit is not None:
            cache.move_to_end(key)
            return hit
        ms = self._predict(space, space.validate(arch), r)
        cache[key] = ms
        if len(cache) > ARCH_CACHE_SIZE:
            cache.popitem(last=False)
        return ms

    def _predict(self, space: Any, arch: Any, r: int) -> float:
        ov = self.overhead_for(space)
        try:
            how = _terms_apply(type(space)) if self.fast_parts else 0
            if how:
                total, count = 0, 0
                for ms, k in (space.latency_terms(arch, r, self.part, self.memo, layer=self.layer)
                              if how == 2 else space.latency_terms(arch, r, self.part, self.memo)):
                    total += ms
                    count += k
                return ov(to_ms(total), count)
            if getattr(space, "segment_profile", False):  # before blocks: nasnet has both
                g = SegmentGraph(space.__dict__.setdefault("_segment_cache", {}))
                space._lower(arch, g, r)
                return self.predict_graph(g, ov)
            if hasattr(space, "blocks"):
                return self.predict_chain((space.in_channels, r, r), space.blocks(arch, r), ov)
        except IRError:
            pass  # the space's own lower() reports why this arch cannot be built
        return self.predict_graph(space.lower(arch, r), ov)

    # -- file form -------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The table file's content (see :meth:`from_json`)."""
        return {"schema": TABLE_SCHEMA, "kind": "archspace-latency-table", "device": self.device,
                "fingerprint": self.fingerprint, "machine": self.machine, "meta": self.meta,
                "overhead": _overhead_json(self.overhead),
                "space_overhead": {k: _overhead_json(v)
                                   for k, v in sorted(self.space_overhead.items())},
                "fallback": {k: list(v) for k, v in sorted(self.fallback.items())},
                "layers": dict(sorted(self.layers.items()))}

    @classmethod
    def from_json(cls, obj: Any, where: str) -> LatencyTable:
        """A table from its file content; :class:`LatencyError` naming ``where`` and the bad
        field if the content is not a table of this schema."""
        def bad(what: str) -> LatencyError:
            return LatencyError(f"latency table {where} is damaged: {what}; recalibrate with "
                                "'archspace latency calibrate --device NAME'")

        if not isinstance(obj, Mapping) or obj.get("kind") != "archspace-latency-table":
            raise bad("not an archspace latency table")
        if obj.get("schema") != TABLE_SCHEMA:
            raise bad(f"schema {obj.get('schema')!r}, expected {TABLE_SCHEMA}")
        device = obj.get("device")
        if not isinstance(device, str) or not device:
            raise bad("no device name")
        layers = obj.get("layers")
        if not isinstance(layers, Mapping) or not layers:
            raise bad("no measured layers")
        clean: dict[str, float] = {}
        for k, v in layers.items():
            if not isinstance(k, str) or not _finite_nonneg(v):
                raise bad(f"layer {str(k)[:60]!r} has latency {str(v)[:20]!r}, expected a "
                          "finite number >= 0")
            clean[k] = float(v)
        ov = obj.get("overhead")
        if not _is_overhead(ov):
            raise bad("overhead must hold finite numbers a, b and c")
        per_space = obj.get("space_overhead", {})
        if not isinstance(per_space, Mapping) or not all(
                isinstance(k, str) and _is_overhead(v) for k, v in per_space.items()):
            raise bad("space_overhead must map space names to finite numbers a, b and c")
        fb = obj.get("fallback")
        if not isinstance(fb, Mapping):
            raise bad("fallback must map op classes to four numbers")
        fallback: dict[str, tuple[float, float, float, float]] = {}
        for k, v in fb.items():
            if (not isinstance(k, str) or not isinstance(v, list) or len(v) != 4
                    or not all(_finite(x) for x in v)):
                raise bad(f"fallback {str(k)[:40]!r} must be four finite numbers")
            fallback[k] = (float(v[0]), float(v[1]), float(v[2]), float(v[3]))
        fingerprint = obj.get("fingerprint")
        machine = obj.get("machine", {})
        meta = obj.get("meta", {})
        if not isinstance(fingerprint, str) or not isinstance(machine, Mapping) \
                or not isinstance(meta, Mapping):
            raise bad("fingerprint must be a string, machine and meta objects")
        return cls(device, clean, _overhead_of(ov), fallback, fingerprint, dict(machine),
                   dict(meta), {k: _overhead_of(v) for k, v in per_space.items()})


def _overhead_json(ov: Overhead) -> dict[str, float]:
    return {"a": ov.a, "b": ov.b, "c": ov.c}


def _is_overhead(v: Any) -> bool:
    return isinstance(v, Mapping) and all(_finite(v.get(k)) for k in "abc")


def _overhead_of(v: Any) -> Overhead:
    return Overhead(float(v["a"]), float(v["b"]), float(v["c"]))


#: Methods that build a space's network: a subclass overriding one of them (below the class
#: that wrote ``latency_terms``) builds another network than those terms describe.
_LOWERING = ("lower", "_lower", "blocks", "named_blocks", "_cell")
_TERMS_APPLY: dict[type, int] = {}


def _terms_apply(cls: type) -> int:
    """Whether spaces of ``cls`` are predicted from their ``latency_terms``: they have one and
    build their network with the methods of the class that defines it (0: no; 1: yes; 2: yes,
    and it takes the table's :meth:`LatencyTable.layer` as ``layer``)."""
    ok = _TERMS_APPLY.get(cls)
    if ok is None:
        owner = next((k for k in cls.__mro__ if "latency_terms" in k.__dict__), None)
        ok = 0
        if owner is not None and all(getattr(cls, name, None) is getattr(owner, name, None)
                                     for name in _LOWERING):
            ok = 2 if "layer" in inspect.signature(owner.__dict__["latency_terms"]).parameters \
                else 1
        _TERMS_APPLY[cls] = ok
    return ok


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _finite_nonneg(v: Any) -> bool:
    return _finite(v) and v >= 0
