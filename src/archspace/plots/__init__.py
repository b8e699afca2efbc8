"""Rendering of archspace data objects (diagrams); matplotlib is imported only when drawing."""

from archspace.plots.draw import draw_diagram

__all__ = ["draw_diagram"]
