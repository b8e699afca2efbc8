"""PyTorch side: modules built from the IR. Importing this package imports torch."""

from archspace.nn.builder import GraphModule, build_module

__all__ = ["GraphModule", "build_module"]
