"""The search-space layer: decisions, architectures, and the Space base class (no torch)."""

from archspace.space.arch import Arch
from archspace.space.base import ChainSpace, Space, as_rng
from archspace.space.decision import Decision, Value
from archspace.space.diagram import Diagram, DiagramEdge, DiagramNode

__all__ = [
    "Arch", "ChainSpace", "Decision", "Diagram", "DiagramEdge", "DiagramNode", "Space", "Value",
    "as_rng",
]
