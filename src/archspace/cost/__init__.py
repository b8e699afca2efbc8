"""Analytic cost model over the network IR (pure Python, no torch)."""

from archspace.cost.chain import ChainProfiler
from archspace.cost.memory import peak_memory
from archspace.cost.profile import LayerCost, Profile, profile_graph
from archspace.cost.tinyengine import MEMORY_MODELS, tinyengine_memory

__all__ = ["MEMORY_MODELS", "ChainProfiler", "LayerCost", "Profile", "peak_memory", "profile_graph",
           "tinyengine_memory"]
