"""Regularized (aging) evolution.

Real, Aggarwal, Huang & Le, "Regularized Evolution for Image Classifier Architecture Search",
AAAI 2019 (Algorithm 1): the first ``population`` proposals are random; then each proposal
mutates the best of ``sample`` members drawn from the population, and every told result joins the
population while its oldest member dies. Mutation is :meth:`Space.mutate` (one active decision
changed). A failed or infeasible child (score None) still joins and ages out, but never wins a
tournament against a scored member. A child proposed before, or one that breaks the study's
hard constraints (:meth:`Strategy.constrain`), is re-mutated a few times, so the budget is not
spent on repeats or infeasible archs while others exist; random proposals meet the constraints.

Defaults (population 20, sample 5) suit tabular budgets of 25-300 trials; the paper's
large-budget settings are population 100, sample 25 (NASNet space, 20k trials).

With ``prior=synflow`` (any zero-cost proxy, or several joined by ``+``) the initial population
is the proxy's best of ``prior_pool`` random archs, the zero-cost warm-up of Abdelfattah et al.
("Zero-Cost Proxies for Lightweight NAS", ICLR 2021, Section 5; see
:mod:`archspace.strategies.prior_pool`), and with ``prior_mutations=K`` above 1 each child is
the proxy's best of K distinct mutations of its parent (their "zero-cost move proposal"). The
proxy's evaluations are not queries.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, ClassVar

from archspace.limits import MAX_BUDGET
from archspace.space import Arch, Space
from archspace.strategies.base import Strategy
from archspace.strategies.options import Option
from archspace.strategies.pieces import (
    Ledger,
    UniqueSampler,
    check_state,
    decode,
    encode,
    rng_from_state,
    rng_state,
)
from archspace.strategies.prior_pool import PRIOR_OPTIONS, PriorPool

__all__ = ["RegularizedEvolution", "fresh_mutation"]

_MUTATION_TRIES = 10


def fresh_mutation(space: Space, parent: Arch, strategy: Strategy, seen: Any) -> Arch:
    """A mutation of ``parent`` that ``seen`` does not reject, if a few tries find one, else
    the last."""
    child = space.mutate(parent, strategy.rng)
    for _ in range(_MUTATION_TRIES - 1):
        if not seen(child):
            break
        child = space.mutate(parent, strategy.rng)
    return child


class RegularizedEvolution(PriorPool, Strategy):
    """Aging evolution with tournament selection (Real et al. 2019); optionally a zero-cost
    warm-up of the initial population and proxy-chosen mutations (see the module docstring)."""

    name = "evolution"
    summary = "Regularized (aging) evolution: tournament selection, one-decision mutations."
    paper = "Real et al. 2019, Regularized Evolution for Image Classifier Architecture Search (AAAI)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("population", 20, int, "population size (also the number of random first trials)",
               minimum=2, maximum=MAX_BUDGET),
        Option("sample", 5, int, "tournament size: members drawn to pick each parent", minimum=1,
               maximum=MAX_BUDGET),
        *PRIOR_OPTIONS[:2],
        Option("prior_mutations", 1, int, "mutations of a parent scored by the prior, the best "
               "proposed (1: one random mutation, the prior only seeds the population)",
               minimum=1, maximum=1000),
        PRIOR_OPTIONS[2],
    )
    avoids_infeasible = True

    def __init__(self, space: Space, seed: int = 0, population: int = 20, sample: int = 5,
                 prior: str = "none", prior_pool: int = 100, prior_mutations: int = 1,
                 prior_dataset: str | None = None) -> None:
        super().__init__(space, seed)
        self.population_size = population
        self.sample_size = sample
        self.ledger = Ledger(space, feasible=self.is_feasible)
        self.sampler = UniqueSampler(space, self.ledger.skip)
        self.init_prior(prior, prior_pool, prior_dataset)
        self.prior_mutations = prior_mutations
        self.population: deque[tuple[Arch, float | None]] = deque(maxlen=population)
        self.n_asked = 0

    def _parent(self) -> Arch | None:
        pool = list(self.population)
        drawn = self.rng.sample(pool, min(self.sample_size, len(pool)))
        scored = [m for m in drawn if m[1] is not None]
        if not scored:
            return None
        return max(scored, key=lambda m: m[1])[0]  # type: ignore[arg-type, return-value]

    def _child(self, parent: Arch) -> Arch:
        """A mutation of ``parent``: with a prior and ``prior_mutations`` K above 1, the best by
        the prior of up to K distinct unseen mutations."""
        child = fresh_mutation(self.space, parent, self, self.ledger.skip)
        prior = self.prior
        if prior is None or self.prior_mutations < 2:
            return child
        children = [] if self.ledger.skip(child) else [child]
        for _ in range(_MUTATION_TRIES * self.prior_mutations):
            if len(children) == self.prior_mutations:
                break
            other = fresh_mutation(self.space, parent, self, self.ledger.skip)
            if other not in children and not self.ledger.skip(other):
                children.append(other)
        return self.best_first(prior, children)[0] if children else child

    def ask(self) -> Arch:
        warm_up = self.n_asked < self.population_size
        parent = self._parent() if not warm_up and self.population else None
        if parent is None:
            arch = self.warm_sample() if warm_up else self.sampler.sample(self.rng)
        else:
            arch = self._child(parent)
        self.n_asked += 1
        self.ledger.asked(arch)
        return arch

    def tell(self, arch: Arch, score: float | None, objectives: Sequence[float] = ()) -> None:
        self.ledger.told(arch, score, objectives)
        self.population.append((arch, None if score is None else float(score)))

    def state_dict(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng), "ledger": self.ledger.state_dict(),
                "population": [[encode(self.space, a), s] for a, s in self.population],
                "n_asked": self.n_asked, **self.warm_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_state(self.name, state, ("rng", "ledger", "population", "n_asked"))
        rng_from_state(self.rng, state["rng"])
        self.ledger.load_state_dict(state["ledger"])
        self.population.clear()
        self.population.extend((decode(self.space, a), s) for a, s in state["population"])
        self.n_asked = int(state["n_asked"])
        self.load_warm_state(state)
