"""The ``nasbench201`` estimator: look an architecture up in the NAS-Bench-201 table.

Dong & Yang, "NAS-Bench-201: Extending the Scope of Reproducible Neural Architecture Search",
ICLR 2020; Dong et al., "NATS-Bench", TPAMI 2021. The search signal is a 12-epoch validation
accuracy (default CIFAR-10's, the ``cifar10-valid`` split), and :meth:`final_metrics` reports the
200-epoch test accuracies on CIFAR-10, CIFAR-100 and ImageNet16-120: the NATS-Bench protocol, so
no search ever sees a test number. Offline and torch-free; a lookup is a dict and array access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from archspace.estimators.base import Estimator, EstimatorError
from archspace.estimators.options import Option
from archspace.space import Arch, Space

if TYPE_CHECKING:
    from archspace.cost import Profile
    from archspace.tabular import NB201Table

__all__ = ["FINAL_COLUMNS", "SEARCH_COLUMNS", "NB201Estimator"]

#: The 12-epoch validation columns a search may use.
SEARCH_COLUMNS = ("cifar10_valid_12ep", "cifar100_valid_12ep", "imagenet16_valid_12ep")
#: The report-only 200-epoch test columns.
FINAL_COLUMNS = ("cifar10_test_200ep", "cifar100_test_200ep", "imagenet16_test_200ep")


#: Space parameters the table's numbers depend on, with the benchmark's values.
BENCHMARK_NETWORK = {"C": 16, "N": 5}


class NB201Estimator(Estimator):
    """12-epoch validation accuracy (%) from the NAS-Bench-201 table (nb201 space only).

    ``evaluate`` adds the arch's ``params`` and ``macs`` (the space's analytic profile, cached
    per arch); ``seed`` is unused, the table holding means over the benchmark's seeds.
    """

    name: ClassVar[str] = "nasbench201"
    summary: ClassVar[str] = ("NAS-Bench-201 table lookup (nb201 space): 12-epoch validation "
                              "accuracy; 200-epoch test accuracies reported")
    paper: ClassVar[str] = "Dong & Yang 2020, NAS-Bench-201 (ICLR); Dong et al. 2021, NATS-Bench"
    options: ClassVar[tuple[Option, ...]] = (
        Option("metric", SEARCH_COLUMNS[0], str, "the 12-epoch validation column searched on",
               choices=SEARCH_COLUMNS),
    )
    metric = SEARCH_COLUMNS[0]
    metrics: ClassVar[tuple[str, ...]] = ("params", "macs")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.metric = str(self.config["metric"])
        self._costs: dict[tuple[str, Arch, str], Profile] = {}
        self._table: NB201Table | None = None

    def shared_inputs(self) -> dict[str, Any]:
        """The benchmark table."""
        return {"table": self._load()}

    def use_shared_inputs(self, inputs: dict[str, Any]) -> None:
        self._table = inputs.get("table", self._table)

    def _load(self) -> NB201Table:
        from archspace.tabular import load_nb201

        return self._table if self._table is not None else load_nb201()

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_table": None}  # workers get the table as a shared input

    def check_space(self, space: Space) -> None:
        """Only the ``nb201`` space (any restriction of it, any number of classes or
        resolution) on the benchmark's network (``C=16, N=5``) is in the table."""
        if space.name != "nb201":
            raise EstimatorError(f"estimator nasbench201 scores only the nb201 space, not "
                                 f"{space.label}; allowed: space nb201 (or another estimator: "
                                 "train, naswot, synflow)")
        for key, value in BENCHMARK_NETWORK.items():
            if getattr(space, key, value) != value:
                raise EstimatorError(f"estimator nasbench201: the table holds the benchmark's "
                                     f"network; space {space.label} has {key}="
                                     f"{getattr(space, key)}; allowed: {key}={value}")

    def _id(self, space: Space, arch: Arch) -> int:
        self.check_space(space)
        return int(space.index_of(arch))  # type: ignore[attr-defined]

    def cost(self, space: Space, arch: Arch, memory_model: str = "mcunet") -> Profile:
        """``space.profile(arch)``, computed once per arch: a study screens its constraints
        with it and :meth:`evaluate` then reports the same params and MACs."""
        key = (space.label, arch, memory_model)
        prof = self._costs.get(key)
        if prof is None:
            prof = self._costs[key] = (space.profile(arch) if memory_model == "mcunet" else
                                       space.profile(arch, memory_model=memory_model))
        return prof

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        """The search column of ``arch`` plus its params and MACs."""
        i = self._id(space, arch)
        prof = self.cost(space, arch)
        return {self.metric: float(self._load().metric(self.metric)[i]),
                "params": float(prof.params), "macs": float(prof.macs)}

    def final_metrics(self, space: Space, arch: Arch) -> dict[str, float]:
        """The 200-epoch test accuracies (%) on CIFAR-10, CIFAR-100 and ImageNet16-120."""
        i = self._id(space, arch)
        table = self._load()
        return {c: float(table.metric(c)[i]) for c in FINAL_COLUMNS}
