"""The network IR shared by the cost model and the PyTorch builder."""

from archspace.ir.graph import ACTIVATIONS, OPS, Graph, IRError, Node

__all__ = ["ACTIVATIONS", "OPS", "Graph", "IRError", "Node"]
