"""Auto-DeepLab's network-level search space: a path over (layer, downsample rate).

Liu, Chen, Schroff, Adam, Hua, Yuille, Fei-Fei, "Auto-DeepLab: Hierarchical Neural Architecture
Search for Semantic Image Segmentation", CVPR 2019.

After a stem that downsamples by 4, each of ``layers`` (12) layers runs at one downsample rate
in {4, 8, 16, 32}; the path starts at 4 and moves at most one level per layer (down, same, up).
Decision ``l{i}`` is the rate of layer ``i``; its choices are the rates reachable by then
(layer 0: 4 or 8, layer 1: up to 16), and the one-level moves are a cross-decision constraint.
:meth:`AutoDeepLabSpace.size` counts the paths exactly by dynamic programming over the (possibly
restricted) choices, and :meth:`AutoDeepLabSpace.sample` draws a path uniformly among the valid
ones, the distribution rejection sampling would give, without the rejections.

The network (only the network level is searched; the cell is fixed):

* stem: Auto-DeepLab's three 3x3 convs (64 stride 2, 64, 128 stride 2) with BN and ReLU;
* per layer, resampling to the layer's rate ``s`` and ``B * F * s / 4`` channels (the paper's
  rule, B=5 blocks, F=20 filters): a ReLU-conv3x3-BN of stride 2 going down, a bilinear upsample
  plus ReLU-conv1x1-BN going up, a ReLU-conv1x1-BN when only the channels change;
* a fixed cell per layer: ``x + SepConv3x3(x)``, where SepConv is the DARTS separable conv
  ((ReLU, depthwise 3x3, pointwise, BN) twice);
* an ASPP head at the final rate ``s``: 1x1 conv, three 3x3 convs of dilation 96/s, 192/s and
  288/s (DeepLabv3's 6, 12, 18 at output stride 16; Auto-DeepLab's search uses 96/s), scaled
  down together on feature maps too small for them (:func:`aspp_rates`), and an
  image-pooling branch (global pooling, 1x1 conv, bilinear upsample back), concatenated and
  projected by a 1x1 conv, each with BN and ReLU;
* a 1x1 classifier conv and a bilinear upsample to the input resolution: the output is
  ``(num_classes, H, W)``.

The named arch ``autodeeplab`` is the path found on Cityscapes, as in the authors' DeepLab code
(``hnasnet`` backbone ``[0, 0, 0, 1, 2, 1, 2, 2, 3, 3, 2, 1]``): rates 4, 4, 4, 8, 16, 8, 16, 16,
32, 32, 16, 8.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from typing import Any

from archspace.errors import ParamError, SpaceError
from archspace.ir.blocks import conv_bn_act, relu_conv_bn, sep_conv
from archspace.ir.graph import Graph, Node
from archspace.ir.segments import segment
from archspace.space import Arch, Decision, Diagram, DiagramEdge, DiagramNode, Space, as_rng
from archspace.space.decision import Value
from archspace.space.params import CHANNELS, count_up_to, limits
from archspace.spaces._chains import count_chains, sample_chain

__all__ = ["LEVELS", "PAPER_PATH", "AutoDeepLabSpace", "aspp_rates"]

LEVELS = (4, 8, 16, 32)
PAPER_PATH = (4, 4, 4, 8, 16, 8, 16, 16, 32, 32, 16, 8)
STEM_LEVEL = 4


def _move_ok(prev: Value | None, cur: Value) -> bool:
    """At most one level between consecutive layers (the stem sits at rate 4)."""
    a = LEVELS.index(STEM_LEVEL if prev is None else prev)  # type: ignore[arg-type]
    return abs(LEVELS.index(cur) - a) <= 1  # type: ignore[arg-type]


class AutoDeepLabSpace(Space):
    """A path of downsample rates, one per layer, moving at most one level per layer."""

    name = "autodeeplab"
    kind = "lattice"
    segment_profile = True
    paper = "Liu et al. 2019, Auto-DeepLab (CVPR)"
    min_resolution = 32

    param_limits = limits(Space.param_limits, layers=count_up_to(100), filter_multiplier=CHANNELS,
                          block_multiplier=count_up_to(64), aspp_channels=CHANNELS)

    def __init__(self, layers: int = 12, filter_multiplier: int = 20, block_multiplier: int = 5,
                 aspp_channels: int = 256, resolution: int = 224, num_classes: int = 19) -> None:
        self._record_params(layers=layers, filter_multiplier=filter_multiplier,
                            block_multiplier=block_multiplier, aspp_channels=aspp_channels,
                            resolution=resolution, num_classes=num_classes)
        if layers < 1 or filter_multiplier < 1 or block_multiplier < 1 or aspp_channels < 1:
            raise ParamError("space autodeeplab needs layers, filter_multiplier, "
                             "block_multiplier and aspp_channels >= 1")
        self.layers = layers
        self.base_channels = filter_multiplier * block_multiplier
        self.aspp_channels = aspp_channels
        self.default_resolution = resolution
        self.num_classes = num_classes
        self._set_decisions(
            Decision.of(f"l{i}", LEVELS[:min(i + 2, len(LEVELS))], doc="downsample rate")
            for i in range(layers))

    # -- the path constraint ---------------------------------------------------------------
    def _violation(self, values: Sequence[Value | None]) -> str | None:
        prev: Value | None = None
        for i, v in enumerate(values):
            if not _move_ok(prev, v):  # type: ignore[arg-type]
                before = f"l{i - 1}={prev}" if prev is not None else f"the stem (rate {STEM_LEVEL})"
                return f"l{i}={v} is more than one level away from {before}"
            prev = v
        return None

    def _choices(self) -> list[tuple[Value, ...]]:
        return [d.choices for d in self.decisions]

    def size(self) -> int:
        return count_chains(self._choices(), _move_ok)

    def sample(self, seed_or_rng: random.Random | int | None = None) -> Arch:
        path = sample_chain(self._choices(), _move_ok, as_rng(seed_or_rng))
        if path is None:
            raise SpaceError(f"space {self.label} has no architectures: its restricted choices "
                             "admit no path moving one level per layer")
        return Arch(self.names, tuple(path))

    def named_archs(self) -> dict[str, Arch]:
        if self.layers != len(PAPER_PATH):
            return {}
        if not all(v in d.choices for v, d in zip(PAPER_PATH, self.decisions, strict=True)):
            return {}
        return {"autodeeplab": Arch(self.names, PAPER_PATH)}

    def path(self, arch: Arch) -> list[int]:
        """The downsample rate of each layer."""
        return [int(v) for v in self.validate(arch).values]  # type: ignore[arg-type]

    # -- the network -----------------------------------------------------------------------
    def channels(self, level: int) -> int:
        """Channels at downsample rate ``level``: B * F * level / 4."""
        return self.base_channels * level // 4

    def _lower(self, arch: Arch, g: Graph, resolution: int) -> None:
        x = g.input((self.in_channels, resolution, resolution))
        with g.scope("stem"):
            x = _stem(g, x)
        sizes = _level_sizes(x.shape[1])
        level = STEM_LEVEL
        for i, nxt in enumerate(self.path(arch)):
            with g.scope(f"l{i}"):
                x = _layer(g, x, level, nxt, self.channels(nxt), sizes[nxt])
            level = nxt
        _tail(g, x, self.aspp_channels, level, self.num_classes, resolution)

    def latency_terms(self, arch: Arch, resolution: int, part: Callable[..., Any],
                      memo: Callable[[Any], dict[Any, Any]]) -> list[tuple[int, int]]:
        """The network of :meth:`_lower` as latency-table terms (see
        :meth:`~archspace.cost.latency_table.LatencyTable.predict`): the stem, each layer
        (resampling and cell, looked up by ``part`` on its input shape and move) and the ASPP
        head with the logits."""
        terms, shape = part(_stem, ((self.in_channels, resolution, resolution),))
        out = [terms]
        sizes = _level_sizes(shape[1])
        level = STEM_LEVEL
        for nxt in self.path(arch):
            terms, shape = part(_layer, (shape,), level, nxt, self.channels(nxt), sizes[nxt])
            out.append(terms)
            level = nxt
        out.append(part(_tail, (shape,), self.aspp_channels, level, self.num_classes,
                        resolution)[0])
        return out

    def diagram(self, arch: Arch) -> Diagram:
        path = self.path(arch)
        nodes = [DiagramNode("stem", "stem", (0.0, 0.0), "input")]
        for i in range(self.layers):
            for k, lv in enumerate(LEVELS):
                on = path[i] == lv
                nodes.append(DiagramNode(f"l{i}.{lv}", f"1/{lv}" if on else "", (i + 1.0, k)))
        last = float(LEVELS.index(path[-1]))
        nodes.append(DiagramNode("aspp", "ASPP", (self.layers + 1.0, last), "output"))
        ids = ["stem", *(f"l{i}.{lv}" for i, lv in enumerate(path)), "aspp"]
        edges = tuple(DiagramEdge(a, b) for a, b in itertools.pairwise(ids))
        rates = "-".join(map(str, path))
        return Diagram("lattice", f"{self.label}: rates {rates}", tuple(nodes), edges)


def _stem(g: Graph, x: Node) -> Node:
    """The stem: three 3x3 conv-BN(-ReLU), strides 2, 1, 2, to rate 4."""
    x = conv_bn_act(g, x, 64, 3, 2, act="relu")
    x = conv_bn_act(g, x, 64, 3, 1, act="relu")
    return conv_bn_act(g, x, 128, 3, 2, act=None)


def _layer(g: Graph, x: Node, level: int, nxt: int, ch: int, size: int) -> Node:
    """One layer: from rate ``level`` to ``nxt`` (``ch`` channels, spatial ``size``), then the
    cell, ``x + sep_conv(x)``."""
    if nxt > level:
        x = relu_conv_bn(g, x, ch, 3, stride=2)
    else:
        if nxt < level:
            x = g.upsample(x, (size, size), mode="bilinear")
        if x.channels != ch:
            x = relu_conv_bn(g, x, ch, 1)
    return g.add(x, sep_conv(g, x, x.channels, 3))


def _tail(g: Graph, x: Node, aspp_channels: int, level: int, num_classes: int,
          resolution: int) -> Node:
    """ReLU and ASPP at rate ``level``, the 1x1 logits conv and the upsampling to the input."""
    with g.scope("aspp"):
        x = _aspp(g, g.relu(x), aspp_channels, level)
    x = g.conv(x, num_classes, 1, bias=True, name="logits")
    return g.upsample(x, (resolution, resolution), mode="bilinear", name="upsample")


def _level_sizes(stem_size: int) -> dict[int, int]:
    """Spatial size at each rate, as stride-2 3x3 convs (padding 1) produce it."""
    sizes = {STEM_LEVEL: stem_size}
    for a, b in itertools.pairwise(LEVELS):
        sizes[b] = (sizes[a] - 1) // 2 + 1
    return sizes


def aspp_rates(level: int, size: int) -> tuple[int, ...]:
    """The three atrous rates of the ASPP head at downsample rate ``level`` on a ``size`` x
    ``size`` feature map: the paper's 96/s, 192/s, 288/s, scaled down together (at least 1)
    when the largest would reach past the map (``2 * rate >= size``), so that every output
    pixel of every branch sees real pixels off its centre, not padding alone."""
    rates = [max(1, mult // level) for mult in (96, 192, 288)]
    cap = max(1, (size - 1) // 2)
    if rates[-1] <= cap:
        return tuple(rates)
    return tuple(max(1, r * cap // rates[-1]) for r in rates)


@segment
def _aspp(g: Graph, x: Node, ch: int, level: int) -> Node:
    """Atrous spatial pyramid pooling (DeepLabv3) with rates rescaled to ``level`` and the
    feature map's size (:func:`aspp_rates`)."""
    branches = [conv_bn_act(g, x, ch, 1, act="relu", name="conv1x1")]
    for j, rate in enumerate(aspp_rates(level, min(x.shape[1:]))):
        branches.append(conv_bn_act(g, x, ch, 3, dilation=rate, act="relu", name=f"atrous{j}"))
    pooled = conv_bn_act(g, g.gap(x), ch, 1, act="relu", name="pool_conv")
    branches.append(g.upsample(pooled, x.shape[1:], mode="bilinear", name="pool_upsample"))
    return conv_bn_act(g, g.concat(*branches), ch, 1, act="relu", name="project")
