"""Analytic cost model over the network IR (pure Python, no torch)."""

from archspace.cost.chain import ChainProfiler
from archspace.cost.memory import peak_memory
from archspace.cost.profile import LayerCost, Profile, profile_graph

__all__ = ["ChainProfiler", "LayerCost", "Profile", "peak_memory", "profile_graph"]
