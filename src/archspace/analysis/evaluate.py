"""Score a space's models for an EDF study: draw (or enumerate) archs, evaluate, convert to error."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from archspace.analysis.flops import derived_seed
from archspace.analysis.specs import SpaceSpec
from archspace.analysis.stats import Floats
from archspace.errors import ArchspaceError
from archspace.estimators import Estimator, TrainingDiverged
from archspace.space import Arch, Space

__all__ = ["Scored", "check_accuracy", "error_from", "pick_archs", "score_space"]

#: Estimators whose metrics are accuracies in percent (error = 100 - accuracy).
ACCURACY_ESTIMATORS = ("nasbench201", "train")


@dataclass(frozen=True)
class Scored:
    """The models scored in one space: arch strings, errors (%), params and MACs."""

    label: str
    space: str
    size: int
    enumerated: bool
    archs: tuple[str, ...]
    errors: Floats
    params: Floats
    macs: Floats
    failed: int


def check_accuracy(estimator: Estimator) -> None:
    """Raise unless the estimator's metric is an accuracy in percent."""
    if estimator.name not in ACCURACY_ESTIMATORS and "acc" not in estimator.metric:
        raise ArchspaceError(f"estimator {estimator.name!r} scores {estimator.metric!r}, not an "
                             "accuracy; error EDFs need an accuracy: allowed estimators "
                             f"{', '.join(ACCURACY_ESTIMATORS)}")


def error_from(estimator: Estimator, metrics: dict[str, float]) -> float:
    """Error in percent, ``100 - accuracy``, from an accuracy metric."""
    check_accuracy(estimator)
    return 100.0 - float(metrics[estimator.metric])


def pick_archs(space: Space, samples: int, seed: int) -> tuple[list[Arch], bool]:
    """Every arch when the space has at most ``samples``, else ``samples`` distinct archs drawn
    uniformly (``space.sample``); the flag says whether the space was enumerated."""
    if space.size() <= samples:
        return list(space.enumerate()), True
    rng = random.Random(seed)
    seen: dict[Arch, None] = {}
    for _ in range(100 * samples):
        seen.setdefault(space.sample(rng))
        if len(seen) == samples:
            break
    return list(seen), False


_COSTS: dict[tuple[str, str, Arch], tuple[int, int]] = {}


def _cost(space: Space, arch: Arch, metrics: dict[str, float]) -> tuple[int, int]:
    if "params" in metrics and "macs" in metrics:
        return int(metrics["params"]), int(metrics["macs"])
    key = (space.name, repr(sorted(space.params.items())), arch)
    if key not in _COSTS:
        p = space.profile(arch)
        _COSTS[key] = (p.params, p.macs)
    return _COSTS[key]


def score_space(spec: SpaceSpec, estimator: Estimator, samples: int, seed: int,
                progress: Callable[[str, int, int], None] | None = None) -> Scored:
    """Build the spec's space, pick its archs and score each (models whose training diverges
    are counted in ``failed`` and left out)."""
    space = spec.build()
    estimator.check_space(space)
    archs, enumerated = pick_archs(space, samples, derived_seed(seed, spec.label))
    kept: list[str] = []
    errors: list[float] = []
    costs: list[tuple[int, int]] = []
    failed = 0
    for j, arch in enumerate(archs):
        try:
            metrics = estimator.evaluate(space, arch, seed)
        except TrainingDiverged:
            failed += 1
            continue
        errors.append(error_from(estimator, metrics))
        costs.append(_cost(space, arch, metrics))
        kept.append(space.format_arch(arch))
        if progress is not None:
            progress(spec.label, j + 1, len(archs))
    c = np.array(costs, dtype=float).reshape(-1, 2)
    return Scored(spec.label, space.label, space.size(), enumerated, tuple(kept),
                  np.array(errors, dtype=float), c[:, 0], c[:, 1], failed)
