"""The network IR: a graph of primitive layers with inferred shapes.

Every space lowers an architecture into a :class:`Graph`; the analytic cost model
(:mod:`archspace.cost`) and the PyTorch builder (:mod:`archspace.nn`) both read it, so the
counted network and the built network are the same network. Shapes exclude the batch
dimension: ``(C, H, W)`` for feature maps, ``(F,)`` for flat features. Nodes are stored in
creation order, which is a topological order and the execution schedule.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = ["ACTIVATIONS", "OPS", "UPSAMPLE_MODES", "Graph", "IRError", "Node"]

Shape = tuple[int, ...]

#: Every primitive op; the cost model and the torch builder each handle all of them.
OPS = (
    "input", "conv", "bn", "act", "maxpool", "avgpool", "gap", "add", "mul", "concat",
    "upsample", "linear", "flatten", "zero", "identity", "crop", "dropout", "pixel_shuffle",
)
#: Interpolation modes of ``upsample`` (``bicubic`` as ``torch.nn.functional.interpolate``).
UPSAMPLE_MODES = ("nearest", "bilinear", "bicubic")
ACTIVATIONS = ("relu", "relu6", "hswish", "hsigmoid", "sigmoid", "swish", "tanh")


class IRError(RuntimeError):
    """An ill-formed graph: a bug in a space's lowering, not a user error."""


class Node:
    """One primitive layer and the tensor it produces."""

    __slots__ = ("attrs", "id", "inputs", "name", "op", "shape")

    def __init__(self, id: int, op: str, inputs: tuple[int, ...], shape: Shape,
                 attrs: dict[str, Any], name: str) -> None:
        self.id = id
        self.op = op
        self.inputs = inputs
        self.shape = shape
        self.attrs = attrs
        self.name = name

    @property
    def channels(self) -> int:
        """Channels (or features, for flat tensors)."""
        return self.shape[0]

    @property
    def numel(self) -> int:
        """Elements of the output tensor, batch excluded."""
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __repr__(self) -> str:
        return f"Node({self.id}, {self.op}, {self.name}, in={self.inputs}, shape={self.shape})"


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    a, b = v
    return (int(a), int(b))


def _out_len(n: int, k: int, s: int, p: int, d: int = 1) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


class Graph:
    """A network under construction and, once built, the IR that cost and torch consume.

    Builder methods take input nodes and return the new node, so lowering code reads like a
    forward pass: ``x = g.act(g.bn(g.conv(x, 32, 3, stride=2)), "relu6")``.
    """

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self._scope: list[str] = []
        self._prefix = ""  # ".".join(self._scope) + "." while a scope is open
        self._names: dict[str, int] = {}

    # -- structure -------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def inputs(self) -> list[Node]:
        """The graph's input nodes."""
        return [n for n in self.nodes if n.op == "input"]

    @property
    def output(self) -> Node:
        """The graph's output: its last node."""
        return self.nodes[-1]

    @contextmanager
    def scope(self, name: str) -> Iterator[None]:
        """Prefix the names of nodes created inside with ``name.``."""
        self._scope.append(name)
        outer, self._prefix = self._prefix, f"{self._prefix}{name}."
        try:
            yield
        finally:
            self._scope.pop()
            self._prefix = outer

    def _add(self, op: str, inputs: Sequence[Node], shape: Shape, name: str | None = None,
             **attrs: Any) -> Node:
        if shape and min(shape) <= 0:
            raise IRError(f"{op} would produce an empty tensor of shape {shape}")
        base = self._prefix + (name or op)
        names = self._names
        k = names.get(base, 0)
        names[base] = k + 1
        nodes = self.nodes
        node = Node(len(nodes), op, tuple([n.id for n in inputs]), shape, attrs,
                    f"{base}_{k}" if k else base)
        nodes.append(node)
        return node

    # -- primitive ops ---------------------------------------------------------------------
    def input(self, shape: Sequence[int], name: str = "input") -> Node:
        """A graph input of the given (C, H, W) or (F,) shape."""
        return self._add("input", (), tuple(int(d) for d in shape), name)

    def conv(self, x: Node, out_ch: int, kernel: int | Sequence[int], stride: int = 1,
             padding: int | Sequence[int] | None = None, dilation: int = 1, groups: int = 1,
             bias: bool = False, name: str | None = None, zero_init: bool = False) -> Node:
        """2-D convolution; padding defaults to 'same' for odd kernels. ``zero_init`` asks the
        builder to start its weights (and bias) at zero, so that a residual branch ending in it
        starts as the identity (Goyal et al. 2017, "Accurate, Large Minibatch SGD")."""
        c, h, w = x.shape
        kh, kw = _pair(kernel)
        ph, pw = _pair(padding) if padding is not None else (dilation * (kh - 1) // 2,
                                                               dilation * (kw - 1) // 2)
        if c % groups or out_ch % groups:
            raise IRError(f"conv {c}->{out_ch} channels not divisible into {groups} groups")
        shape = (out_ch, _out_len(h, kh, stride, ph, dilation), _out_len(w, kw, stride, pw, dilation))
        return self._add("conv", (x,), shape, name, in_ch=c, out_ch=out_ch, kernel=(kh, kw),
                         stride=stride, padding=(ph, pw), dilation=dilation, groups=groups,
                         bias=bias, **({"zero_init": True} if zero_init else {}))

    def dwconv(self, x: Node, kernel: int | Sequence[int], stride: int = 1,
               dilation: int = 1, bias: bool = False, name: str | None = None) -> Node:
        """Depthwise convolution (one filter per channel)."""
        return self.conv(x, x.channels, kernel, stride, None, dilation, x.channels, bias,
                         name or "dwconv")

    def bn(self, x: Node, affine: bool = True, name: str | None = None) -> Node:
        """Batch normalisation over channels."""
        return self._add("bn", (x,), x.shape, name, affine=affine)

    def act(self, x: Node, kind: str, name: str | None = None) -> Node:
        """Elementwise activation, one of :data:`ACTIVATIONS`."""
        if kind not in ACTIVATIONS:
            raise IRError(f"unknown activation {kind!r}; allowed: {', '.join(ACTIVATIONS)}")
        return self._add("act", (x,), x.shape, name or kind, kind=kind)

    def relu(self, x: Node) -> Node:
        """ReLU."""
        return self.act(x, "relu")

    def _pool(self, op: str, x: Node, kernel: int, stride: int | None, padding: int,
              name: str | None, **extra: Any) -> Node:
        c, h, w = x.shape
        s = kernel if stride is None else stride
        shape = (c, _out_len(h, kernel, s, padding), _out_len(w, kernel, s, padding))
        return self._add(op, (x,), shape, name, kernel=kernel, stride=s, padding=padding, **extra)

    def maxpool(self, x: Node, kernel: int, stride: int | None = None, padding: int = 0,
                name: str | None = None) -> Node:
        """Max pooling."""
        return self._pool("maxpool", x, kernel, stride, padding, name)

    def avgpool(self, x: Node, kernel: int, stride: int | None = None, padding: int = 0,
                count_include_pad: bool = True, name: str | None = None) -> Node:
        """Average pooling."""
        return self._pool("avgpool", x, kernel, stride, padding, name,
                          count_include_pad=count_include_pad)

    def gap(self, x: Node, name: str | None = None) -> Node:
        """Global average pooling to (C, 1, 1)."""
        return self._add("gap", (x,), (x.shape[0], 1, 1), name)

    def add(self, *xs: Node, name: str | None = None) -> Node:
        """Elementwise sum of equally shaped tensors."""
        if len({x.shape for x in xs}) != 1:
            raise IRError(f"add of mismatched shapes {[x.shape for x in xs]}")
        return self._add("add", xs, xs[0].shape, name)

    def mul(self, x: Node, gate: Node, name: str | None = None) -> Node:
        """``x * gate``, gate of x's shape or broadcast from (C, 1, 1)."""
        if gate.shape != x.shape and gate.shape != (x.shape[0], 1, 1):
            raise IRError(f"mul of {x.shape} by {gate.shape}")
        return self._add("mul", (x, gate), x.shape, name)

    def concat(self, *xs: Node, name: str | None = None) -> Node:
        """Concatenation along channels."""
        if len({x.shape[1:] for x in xs}) != 1:
            raise IRError(f"concat of mismatched spatial shapes {[x.shape for x in xs]}")
        return self._add("concat", xs, (sum(x.shape[0] for x in xs), *xs[0].shape[1:]), name)

    def upsample(self, x: Node, size: Sequence[int], mode: str = "nearest",
                 name: str | None = None) -> Node:
        """Resize to spatial ``size`` (nearest, bilinear or bicubic, corners not aligned)."""
        if mode not in UPSAMPLE_MODES:
            raise IRError(f"upsample mode {mode!r}; allowed: {', '.join(UPSAMPLE_MODES)}")
        h, w = _pair(size)
        return self._add("upsample", (x,), (x.shape[0], h, w), name, mode=mode)

    def pixel_shuffle(self, x: Node, factor: int, name: str | None = None) -> Node:
        """Sub-pixel rearrangement (depth to space, Shi et al., "Real-Time Single Image and
        Video Super-Resolution Using an Efficient Sub-Pixel Convolutional Neural Network", CVPR
        2016): ``(C * r * r, H, W)`` to ``(C, H * r, W * r)``, as ``torch.nn.PixelShuffle``."""
        c, h, w = x.shape
        if factor < 1 or c % (factor * factor):
            raise IRError(f"pixel_shuffle by {factor} of {c} channels (needs a multiple of "
                          f"{factor * factor})")
        return self._add("pixel_shuffle", (x,), (c // (factor * factor), h * factor, w * factor),
                         name, factor=factor)

    def flatten(self, x: Node, name: str | None = None) -> Node:
        """Flatten to (F,)."""
        return self._add("flatten", (x,), (x.numel,), name)

    def linear(self, x: Node, out_features: int, bias: bool = True, name: str | None = None) -> Node:
        """Fully connected layer on a flat tensor."""
        if len(x.shape) != 1:
            raise IRError(f"linear needs a flat input, got {x.shape}")
        return self._add("linear", (x,), (out_features,), name, in_features=x.shape[0],
                         out_features=out_features, bias=bias)

    def zero(self, x: Node, stride: int = 1, out_ch: int | None = None, name: str | None = None) -> Node:
        """The 'none' op: zeros shaped like ``x`` subsampled by ``stride``."""
        c, h, w = x.shape
        shape = (out_ch or c, (h + stride - 1) // stride, (w + stride - 1) // stride)
        return self._add("zero", (x,), shape, name, stride=stride)

    def identity(self, x: Node, name: str | None = None) -> Node:
        """Identity (skip connection)."""
        return self._add("identity", (x,), x.shape, name)

    def crop(self, x: Node, top: int, left: int, name: str | None = None) -> Node:
        """Drop the first ``top`` rows and ``left`` columns."""
        c, h, w = x.shape
        return self._add("crop", (x,), (c, h - top, w - left), name, top=top, left=left)

    def dropout(self, x: Node, p: float, name: str | None = None) -> Node:
        """Dropout (identity at inference)."""
        return self._add("dropout", (x,), x.shape, name, p=p)
