"""Segments: subgraphs that a profiling graph keeps as one node, lowered once per signature.

A builder function decorated with :func:`segment` (an op of a cell, say) lowers into a plain
:class:`~archspace.ir.graph.Graph` as usual. Into a :class:`SegmentGraph` it adds one ``segment``
node instead, carrying the :class:`Template` of that call: the function lowered once into a small
graph of its own for each signature (function, input shapes, which inputs are the same tensor,
other arguments). :mod:`archspace.cost.segments` profiles such a graph exactly, as if every
segment were expanded in place. A call whose subgraph could not be composed exactly (a batch
norm on an input, a convolution as the output, an unused input) is expanded into the graph.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, TypeVar

from archspace.ir.graph import Graph, IRError, Node, Shape

__all__ = ["SegmentGraph", "Template", "segment"]

F = TypeVar("F", bound=Callable[..., Node])
_NO_SCOPE: AbstractContextManager[None] = nullcontext()


class Template:
    """One segment signature lowered once: its small graph, the first ``n_inputs`` nodes being
    its distinct inputs and the last its output."""

    __slots__ = ("n_inputs", "nodes", "traces")

    def __init__(self, nodes: list[Node], n_inputs: int) -> None:
        self.nodes = nodes
        self.n_inputs = n_inputs
        self.traces: dict[tuple[Any, ...], tuple[int, ...]] = {}  # filled by the cost model


def _composable(sub: Graph, out: Node, k: int) -> bool:
    nodes = sub.nodes
    if out is not nodes[-1] or out.id < k or out.op == "conv":
        return False
    used = {j for n in nodes for j in n.inputs}
    if any(j not in used for j in range(k)):
        return False
    return not any(n.op == "bn" and n.inputs[0] < k for n in nodes)


class SegmentGraph(Graph):
    """A graph for profiling only: each :func:`segment` call becomes one node."""

    def __init__(self, cache: dict[tuple[Any, ...], Template | None]) -> None:
        super().__init__()
        self.templates: dict[int, Template] = {}
        self._cache = cache

    def scope(self, name: str) -> AbstractContextManager[None]:  # type: ignore[override]
        """Names do not matter for profiling: scopes are no-ops here."""
        return _NO_SCOPE

    def _add(self, op: str, inputs: Sequence[Node], shape: Shape, name: str | None = None,
             **attrs: Any) -> Node:
        if shape and min(shape) <= 0:
            raise IRError(f"{op} would produce an empty tensor of shape {shape}")
        nodes = self.nodes
        node = Node(len(nodes), op, tuple([n.id for n in inputs]), shape, attrs, op)
        nodes.append(node)
        return node

    def call(self, fn: Callable[..., Node], args: tuple[Any, ...],
             kwargs: dict[str, Any]) -> Node:
        """``fn(self, *args, **kwargs)`` as one segment node (or expanded, see the module)."""
        distinct: list[Node] = []
        sig: list[Any] = []
        for a in args:
            if type(a) is Node:
                if a in distinct:  # nodes compare by identity
                    sig.append((distinct.index(a), a.shape))
                else:
                    sig.append((len(distinct), a.shape))
                    distinct.append(a)
            else:
                sig.append(a)
        key = (fn, tuple(sig), tuple(sorted(kwargs.items())) if kwargs else ())
        if key in self._cache:
            tmpl = self._cache[key]
        else:
            tmpl = self._cache[key] = self._template(fn, args, distinct, kwargs)
        if tmpl is None:
            return fn(self, *args, **kwargs)
        node = self._add("segment", distinct, tmpl.nodes[-1].shape, fn.__name__)
        self.templates[node.id] = tmpl
        return node

    @staticmethod
    def _template(fn: Callable[..., Node], args: tuple[Any, ...], distinct: list[Node],
                  kwargs: dict[str, Any]) -> Template | None:
        sub = Graph()
        stand_in = {id(d): sub.input(d.shape) for d in distinct}
        out = fn(sub, *(stand_in[id(a)] if isinstance(a, Node) else a for a in args), **kwargs)
        return Template(sub.nodes, len(distinct)) if _composable(sub, out, len(distinct)) else None


def segment(fn: F) -> F:
    """Mark a builder ``fn(g, ...) -> Node`` as a segment (see the module docstring)."""

    @functools.wraps(fn)
    def wrapper(g: Graph, *args: Any, **kwargs: Any) -> Node:
        if isinstance(g, SegmentGraph):
            return g.call(fn, args, kwargs)
        return fn(g, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
