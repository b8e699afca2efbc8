"""Random search without repeats.

Uniform sampling over each active decision (:meth:`Space.sample`), never proposing an arch twice
until the space is exhausted. Random search is the baseline every NAS method must beat (Li &
Talwalkar, "Random Search and Reproducibility for Neural Architecture Search", UAI 2019;
Yu et al., "Evaluating the Search Phase of Neural Architecture Search", ICLR 2020).
Under hard constraints (:meth:`Strategy.constrain`) the draws are rejection-sampled, uniform
over the archs that meet them.

With ``prior=synflow`` (any zero-cost proxy, or several joined by ``+``) the draws come in pools
of ``prior_pool`` unseen archs scored by the proxy and proposed best first: random search with
the zero-cost warm-up of Abdelfattah et al. ("Zero-Cost Proxies for Lightweight NAS", ICLR 2021,
Section 5), which for a budget below the pool evaluates the proxy's top archs of a uniform
sample (:mod:`archspace.strategies.prior_pool`). The proxy's evaluations are not queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from archspace.space import Arch, Space
from archspace.strategies.base import Strategy
from archspace.strategies.options import Option
from archspace.strategies.pieces import Ledger, UniqueSampler, check_state, rng_from_state, rng_state
from archspace.strategies.prior_pool import PRIOR_OPTIONS, PriorPool

__all__ = ["RandomSearch"]


class RandomSearch(PriorPool, Strategy):
    """Uniform sampling without repeats (repeats only once every arch has been proposed);
    with a prior, pools of random archs evaluated best proxy score first."""

    name = "random"
    summary = "Uniform sampling without repeats (the baseline)."
    paper = "Li & Talwalkar 2019, Random Search and Reproducibility for NAS (UAI)"
    options: ClassVar[tuple[Option, ...]] = PRIOR_OPTIONS
    avoids_infeasible = True

    def __init__(self, space: Space, seed: int = 0, prior: str = "none", prior_pool: int = 100,
                 prior_dataset: str | None = None) -> None:
        super().__init__(space, seed)
        self.ledger = Ledger(space, feasible=self.is_feasible)
        self.sampler = UniqueSampler(space, self.ledger.skip)
        self.init_prior(prior, prior_pool, prior_dataset)

    def ask(self) -> Arch:
        arch = self.warm_sample()
        self.ledger.asked(arch)
        return arch

    def tell(self, arch: Arch, score: float | None, objectives: Sequence[float] = ()) -> None:
        self.ledger.told(arch, score, objectives)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng), "ledger": self.ledger.state_dict(),
                **self.warm_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_state(self.name, state, ("rng", "ledger"))
        rng_from_state(self.rng, state["rng"])
        self.ledger.load_state_dict(state["ledger"])
        self.load_warm_state(state)
