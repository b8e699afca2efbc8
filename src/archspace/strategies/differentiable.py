"""DARTS and GDAS as strategies: each asked trial is one differentiable search's derived cell.

Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search", ICLR 2019; Dong & Yang,
"Searching for A Robust Neural Architecture in Four GPU Hours" (GDAS), CVPR 2019. Ask ``k``
(``k`` = 0, 1, ...: a restart) trains the mixed-op network of the space
(:mod:`archspace.differentiable.mixed`) on the study estimator's training images, split in two
halves for weights and architecture (:mod:`archspace.differentiable.data`), with seed
``seed * 1000 + k``, and returns the derived cell; the study then evaluates it as any trial
(constraints screen it first: a derived cell that breaks one is recorded as infeasible). A
budget of B trials is B independent restarts. Results are not fed back: restarts differ only in
their seed.

Each search is recorded (:meth:`on_search`, which a study points at its file: the
``differentiable`` meta key, :mod:`archspace.study.search_record`): the derived cell, the
softmax of every edge's weights, the skip-connection collapse verdict
(:mod:`archspace.differentiable.collapse`), on nb201 the derived cell's row of the
NAS-Bench-201 table, and the search's steps and CPU seconds. A resumed study hands the records
back (:meth:`restore_searches`) so replay re-runs no search.

Supported spaces: ``nb201`` and ``darts`` (any parameters); others are refused when the
strategy is built, before any training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from archspace.differentiable import SUPPORTED_SPACES, detect_collapse
from archspace.estimators.base import Estimator
from archspace.limits import MAX_BATCH
from archspace.space import Arch, Space
from archspace.strategies.base import Strategy, StrategyError
from archspace.strategies.options import Option
from archspace.strategies.pieces import check_state, rng_from_state, rng_state

__all__ = ["DARTS", "GDAS", "Differentiable"]

_MAX_SEARCH_EPOCHS = 10_000
_BENCH_COLUMNS = ("cifar10_test_200ep", "cifar100_test_200ep", "imagenet16_test_200ep",
                  "cifar10_valid_12ep")


def _common() -> tuple[Option, ...]:
    return (
        Option("epochs", 10, int, "search epochs (over the smaller half of the training images)",
               minimum=1, maximum=_MAX_SEARCH_EPOCHS),
        Option("steps", None, int, "at most this many steps per epoch (default: the whole half)",
               minimum=1, maximum=10**9),
        Option("batch_size", 64, int, "batch size of both halves", minimum=1, maximum=MAX_BATCH),
        Option("lr", 0.025, float, "SGD learning rate of the weights (cosine to 0.001)",
               minimum=0.0),
        Option("arch_lr", 3e-4, float, "Adam learning rate of the architecture weights",
               minimum=0.0),
        Option("weight_decay", 3e-4, float, "weight decay of the weights", minimum=0.0),
        Option("arch_decay", 1e-3, float, "weight decay of the architecture weights",
               minimum=0.0),
        Option("dataset", None, str, "search on this dataset instead of the estimator's (default:"
               " the estimator's; digits when it has none, e.g. nasbench201)"),
    )


class Differentiable(Strategy):
    """One differentiable search per asked trial (see the module docstring)."""

    method: ClassVar[str] = "darts"
    multi_objective = False
    avoids_infeasible = False
    #: Tells the study to hand over its estimator (:meth:`use_estimator`) when it is built.
    needs_estimator: ClassVar[bool] = True

    def __init__(self, space: Space, seed: int = 0, **options: Any) -> None:
        super().__init__(space, seed)
        if getattr(space, "name", None) not in SUPPORTED_SPACES or \
                getattr(space, "kind", None) != "cell":
            raise StrategyError(f"strategy {self.name!r} searches cell spaces by their mixed-op "
                                f"network; space {space.label} is not one; allowed: "
                                f"{', '.join(SUPPORTED_SPACES)}")
        from archspace.differentiable.search import SearchSettings

        dataset = options.pop("dataset", None)
        self.dataset = dataset
        self.settings = SearchSettings(method=self.method, **options)
        self.restart = 0
        self.searches: dict[int, dict[str, Any]] = {}
        self.on_search: Callable[[dict[str, Any]], None] | None = None
        self._source: Any = None

    # -- the study hooks ---------------------------------------------------------------------
    def use_estimator(self, estimator: Estimator | None) -> None:
        """Search on ``estimator``'s data (see :mod:`archspace.differentiable.data`); the
        dataset loads and the space is fitted to it now, so bad input fails before training."""
        from archspace.differentiable.data import data_estimator

        source = data_estimator(estimator, self.dataset)
        source.check_space(self.space)
        self._source = source

    def restore_searches(self, records: Sequence[Any]) -> None:
        """Searches a study recorded before (its ``differentiable`` meta key): a replayed ask
        returns the recorded cell instead of searching again. Records of another method or
        seed, or whose arch does not parse, are ignored (that restart searches again)."""
        for rec in records:
            try:
                k = int(rec["restart"])
                if rec["method"] != self.name or int(rec["seed"]) != self._seed_of(k):
                    continue
                self.space.validate(self.space.arch_from_json(rec["arch_json"]))
            except Exception:  # a damaged or foreign record: search again
                continue
            self.searches[k] = dict(rec)

    # -- ask / tell --------------------------------------------------------------------------
    def _seed_of(self, restart: int) -> int:
        return (self.seed * 1000 + restart) % 2**63

    def ask(self) -> Arch:
        k = self.restart
        self.restart += 1
        rec = self.searches.get(k)
        if rec is None:
            rec = self.search(k)
            self.searches[k] = rec
            if self.on_search is not None:
                self.on_search(rec)
        return self.space.validate(self.space.arch_from_json(rec["arch_json"]))

    def tell(self, arch: Arch, score: float | None, objectives: Sequence[float] = ()) -> None:
        """Restarts are independent: results are not fed back."""

    def search(self, restart: int) -> dict[str, Any]:
        """Run restart ``restart``'s search; its record (see the module docstring)."""
        import torch

        from archspace.differentiable.data import search_data
        from archspace.differentiable.mixed import search_network
        from archspace.differentiable.search import run_search

        if self._source is None:
            self.use_estimator(None)
        seed = self._seed_of(restart)
        data = search_data(self._source, self.space, seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = search_network(data.space, data.resolution).to(data.x_weights.device)
            outcome = run_search(net, data.x_weights, data.y_weights, data.x_arch, data.y_arch,
                                 self.settings, seed)
        arch = self.space.validate(net.derive(self.space, outcome.probs))
        ops, edge_ids = net.collapse_edges(arch, self.space)
        skip = set().union(*(net.edges[i].skip for i in edge_ids))
        weights = [dict(zip(net.edges[i].candidates, outcome.probs[i], strict=True))
                   for i in edge_ids]
        collapse = detect_collapse(ops, skip, weights)
        rec: dict[str, Any] = {
            "restart": restart, "seed": seed, "method": self.name,
            "arch": self.space.format_arch(arch), "arch_json": self.space.arch_to_json(arch),
            "collapse": collapse.to_dict(),
            "weights": [{"cell": e.cell_type, "edge": e.label,
                         "probs": {op: round(p, 5) for op, p in zip(e.candidates, pr,
                                                                     strict=True)}}
                        for e, pr in zip(net.edges, outcome.probs, strict=True)],
            "steps": outcome.steps, "epochs": outcome.epochs,
            "weight_loss": round(outcome.weight_loss, 5), "arch_loss": round(outcome.arch_loss, 5),
            "cpu_seconds": round(outcome.cpu_seconds, 3), **data.describe()}
        if self.name == "gdas":
            rec["tau"] = [self.settings.tau_max, self.settings.tau_min]
        bench = benchmark_row(self.space, arch)
        if bench is not None:
            rec["benchmark"] = bench
        return rec

    # -- state -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng), "restart": self.restart,
                "searches": [self.searches[k] for k in sorted(self.searches)]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_state(self.name, state, ("rng", "restart", "searches"))
        rng_from_state(self.rng, state["rng"])
        self.restart = int(state["restart"])
        self.searches = {}
        self.restore_searches(state["searches"])


def benchmark_row(space: Space, arch: Arch) -> dict[str, Any] | None:
    """NAS-Bench-201's row of a derived nb201 cell (its id and the 200-epoch test accuracies,
    %); None for other spaces."""
    index_of = getattr(space, "index_of", None)
    if space.name != "nb201" or index_of is None:
        return None
    from archspace.tabular import load_nb201

    i = int(index_of(arch))
    table = load_nb201()
    return {"nb201_id": i, **{c: float(table.metric(c)[i]) for c in _BENCH_COLUMNS}}


class DARTS(Differentiable):
    """DARTS: softmax-mixed edges, first order (or second with ``unrolled=true``)."""

    name = "darts"
    method = "darts"
    summary = ("Differentiable search (cell spaces nb201, darts): softmax over each edge's ops, "
               "one search per trial; flags skip collapse.")
    paper = "Liu, Simonyan & Yang 2019, DARTS (ICLR)"
    options: ClassVar[tuple[Option, ...]] = (
        *_common(),
        Option("unrolled", False, bool, "second-order architecture gradient (DARTS Eq. 7-8)"),
    )

    def __init__(self, space: Space, seed: int = 0, epochs: int = 10, steps: int | None = None,
                 batch_size: int = 64, lr: float = 0.025, arch_lr: float = 3e-4,
                 weight_decay: float = 3e-4, arch_decay: float = 1e-3,
                 dataset: str | None = None, unrolled: bool = False) -> None:
        super().__init__(space, seed, epochs=epochs, steps=steps, batch_size=batch_size, lr=lr,
                         arch_lr=arch_lr, weight_decay=weight_decay,
                         arch_decay=arch_decay, dataset=dataset, unrolled=unrolled)


class GDAS(Differentiable):
    """GDAS: one op per edge sampled by the hard Gumbel-softmax, temperature annealed."""

    name = "gdas"
    method = "gdas"
    summary = ("Gumbel-softmax differentiable search (cell spaces nb201, darts): one sampled op "
               "per edge, temperature annealed; one search per trial.")
    paper = "Dong & Yang 2019, Searching for a Robust Neural Architecture in Four GPU Hours (CVPR)"
    options: ClassVar[tuple[Option, ...]] = (
        *_common(),
        Option("tau_max", 10.0, float, "Gumbel-softmax temperature of the first epoch",
               minimum=1e-3, maximum=1e3),
        Option("tau_min", 0.1, float, "temperature of the last epoch (linear in between)",
               minimum=1e-3, maximum=1e3),
    )

    def __init__(self, space: Space, seed: int = 0, epochs: int = 10, steps: int | None = None,
                 batch_size: int = 64, lr: float = 0.025, arch_lr: float = 3e-4,
                 weight_decay: float = 3e-4, arch_decay: float = 1e-3,
                 dataset: str | None = None, tau_max: float = 10.0, tau_min: float = 0.1) -> None:
        if tau_min > tau_max:
            raise StrategyError(f"strategy 'gdas': tau_min={tau_min:g} is above "
                                f"tau_max={tau_max:g}; allowed: tau_min <= tau_max (the "
                                "temperature falls)")
        super().__init__(space, seed, epochs=epochs, steps=steps, batch_size=batch_size, lr=lr,
                         arch_lr=arch_lr, weight_decay=weight_decay,
                         arch_decay=arch_decay, dataset=dataset, tau_max=tau_max,
                         tau_min=tau_min)
