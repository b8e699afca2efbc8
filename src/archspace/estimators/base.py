"""The performance-estimation interface: how good is an architecture?

An estimator turns (space, arch, seed) into metrics. ``metric`` names the one the search
maximises; ``final_metrics`` gives numbers that are reported but never searched on (for a
tabular benchmark, the 200-epoch test accuracy: the NATS-Bench protocol). Estimators are
stateless between calls apart from caches, so a worker process can run them independently.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from archspace.errors import ArchspaceError
from archspace.space import Arch, Space

if TYPE_CHECKING:
    from archspace.cost import Profile
    from archspace.estimators.options import Option

__all__ = ["Estimator", "EstimatorError", "TrainingDiverged"]


class Estimator(ABC):
    """Base class of performance estimators."""

    name: ClassVar[str] = "estimator"
    summary: ClassVar[str] = ""
    #: The metric the search maximises (a key of :meth:`evaluate`'s result).
    metric: str = "accuracy"
    #: The other metrics :meth:`evaluate` returns, what ``--objective`` may name besides
    #: :attr:`metric`. An estimator that leaves it empty declares nothing: its objectives are
    #: then checked on each trial's metrics only, not before the study.
    metrics: ClassVar[tuple[str, ...]] = ()
    #: The paper the estimator's method comes from (empty for plain training).
    paper: ClassVar[str] = ""
    #: The options :meth:`__init__` accepts (see :mod:`archspace.estimators.options`).
    options: ClassVar[tuple[Option, ...]] = ()
    #: The fidelity :meth:`evaluate_at` takes (``"epochs"`` for ``train``), the resource a
    #: multi-fidelity scheduler gives each rung; None: the estimator has a single fidelity.
    resource: ClassVar[str | None] = None

    def __init__(self, **options: Any) -> None:
        """Check ``options`` against :attr:`options`; the result, defaults filled in, is
        :attr:`config`."""
        from archspace.estimators.options import resolve_options

        self.config: dict[str, Any] = resolve_options(self.name, self.options, options)

    def produces(self) -> tuple[str, ...]:
        """The metrics :meth:`evaluate` returns, :attr:`metric` first; ``()`` when the estimator
        declares no :attr:`metrics` (then anything may be asked of it)."""
        return tuple(dict.fromkeys((self.metric, *self.metrics))) if self.metrics else ()

    def check_machine(self) -> None:
        """Raise :class:`~archspace.errors.ArchspaceError` if this machine cannot run
        :meth:`evaluate` (e.g. a device it lacks). A study calls it before its first
        evaluation on this machine. Default: any machine is fine."""
        return None

    def check_space(self, space: Space) -> None:
        """Raise :class:`~archspace.errors.ArchspaceError` if this estimator can't score
        ``space`` (default: any space is fine)."""
        return None

    @abstractmethod
    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        """Metrics of ``arch``; must contain :attr:`metric`."""

    def evaluate_at(self, space: Space, arch: Arch, seed: int = 0, resource: float | None = None,
                    *, warm_start: str | os.PathLike[str] | None = None,
                    checkpoint: str | os.PathLike[str] | None = None) -> dict[str, float]:
        """Metrics of ``arch`` evaluated at ``resource`` (units of :attr:`resource`; None: the
        configured budget), continuing from the ``warm_start`` checkpoint of a lower resource
        and writing the trained state to ``checkpoint``. Only estimators with a
        :attr:`resource` support it; the default evaluates plainly when neither a resource nor
        checkpoints are asked for."""
        if resource is None and warm_start is None and checkpoint is None:
            return self.evaluate(space, arch, seed)
        raise EstimatorError(f"estimator {self.name} has no resource and keeps no checkpoints; "
                             "allowed: an estimator with a resource, e.g. train (epochs)")

    @property
    def keep(self) -> str:
        """Which trials' checkpoints a study keeps: ``none``, ``best`` or ``all``."""
        return "none"

    def shared_inputs(self) -> dict[str, Any]:
        """Large read-only inputs every evaluation needs (a benchmark table, a dataset), loaded
        here once. A distributed executor ships them to its workers once (Ray: through the
        object store) and hands them to :meth:`use_shared_inputs`, instead of each worker
        loading them again. Default: none."""
        return {}

    def use_shared_inputs(self, inputs: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Take the inputs :meth:`shared_inputs` gave (in a worker). Default: nothing."""

    def cost(self, space: Space, arch: Arch, memory_model: str = "mcunet") -> Profile:
        """The analytic cost of the network this estimator evaluates for ``arch``; a study
        checks its constraints on it. Default: ``space.profile(arch)``. An estimator that
        adapts the network (e.g. to a dataset's classes and resolution) returns the adapted
        network's cost, so constraints bound what is trained and exported. ``memory_model``
        says how peak SRAM and flash are counted (see :mod:`archspace.cost`)."""
        if memory_model == "mcunet":  # user spaces may override profile() without the keyword
            return space.profile(arch)
        return space.profile(arch, memory_model=memory_model)

    def final_metrics(self, space: Space, arch: Arch) -> dict[str, float]:
        """Report-only metrics (never used as a search signal); default none."""
        return {}


class EstimatorError(ArchspaceError):
    """Unknown estimator or option, a space or dataset an estimator can't handle, or a
    training run that failed (e.g. diverged)."""


class TrainingDiverged(EstimatorError):
    """The training loss became NaN or infinite."""
