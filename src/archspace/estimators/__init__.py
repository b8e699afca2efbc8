"""The estimator registry: a table of every built-in estimator, imported lazily by name.

Adding an estimator means adding one row here; nothing registers itself on import, and importing
this package imports neither torch nor any estimator module.
"""

from __future__ import annotations

import importlib
from typing import Any

from archspace.estimators.base import Estimator, EstimatorError, TrainingDiverged
from archspace.estimators.options import Option, parse_option_pairs

__all__ = [
    "ESTIMATORS", "Estimator", "EstimatorError", "Option", "TrainingDiverged", "estimator_class",
    "get_estimator", "list_estimators", "parse_option_pairs",
]

#: name -> "module:Class".
ESTIMATORS: dict[str, str] = {
    "nasbench201": "archspace.estimators.tabular:NB201Estimator",
    "train": "archspace.estimators.train:TrainEstimator",
    "superres": "archspace.estimators.superres:SuperResEstimator",
    "naswot": "archspace.estimators.zero_cost:NASWOTEstimator",
    "synflow": "archspace.estimators.zero_cost:SynFlowEstimator",
    "snip": "archspace.estimators.zero_cost:SnipEstimator",
    "grad_norm": "archspace.estimators.zero_cost:GradNormEstimator",
    "fisher": "archspace.estimators.zero_cost:FisherEstimator",
    "jacov": "archspace.estimators.zero_cost:JacovEstimator",
    "params": "archspace.estimators.zero_cost:ParamsEstimator",
    "macs": "archspace.estimators.zero_cost:MACsEstimator",
    "zerocost": "archspace.estimators.zero_cost_suite:ZeroCostSuite",
    "segment": "archspace.estimators.segment:SegmentEstimator",
    "detect": "archspace.estimators.detect:DetectEstimator",
    "oneshot": "archspace.estimators.oneshot:OneshotEstimator",
}


def estimator_class(name: str) -> type[Estimator]:
    """The class implementing estimator ``name``."""
    if name not in ESTIMATORS:
        raise EstimatorError(f"unknown estimator {name!r}; available: {', '.join(ESTIMATORS)}")
    module, cls = ESTIMATORS[name].split(":")
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]


def get_estimator(name: str, **options: Any) -> Estimator:
    """An estimator ``name`` configured with ``options`` (Python values or command-line
    strings; unknown or malformed options raise :class:`EstimatorError` listing the allowed)."""
    return estimator_class(name)(**options)


def list_estimators() -> list[dict[str, Any]]:
    """Every estimator as JSON-ready data: name, summary, paper, the default search metric, the
    other metrics it returns (``metrics``, what ``--objective`` may also name) and its options
    (name, default, type, help, allowed values)."""
    out = []
    for name in ESTIMATORS:
        cls = estimator_class(name)
        out.append({"name": name, "summary": cls.summary, "paper": cls.paper,
                    "metric": cls.metric,
                    "metrics": list(cls.metrics), "options": [o.to_dict() for o in cls.options]})
    return out
