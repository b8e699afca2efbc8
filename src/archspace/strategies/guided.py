"""Surrogate-guided local search: the default strategy.

Local search is hard to beat on NAS benchmarks (White et al., "Local Search is State of the Art
for Neural Architecture Search Benchmarks", 2020), and predictors help most when they only have
to rank a few candidates (White et al., "BANANAS: Bayesian Optimization with Neural Architectures
for Neural Architecture Search", AAAI 2021). This strategy climbs like ``local`` with first
improvement, but proposes the unseen neighbour a Gaussian process ranks highest
(:class:`~archspace.strategies.surrogate.HammingGP`, refitted whenever results came in, its
targets clipped from below at a quantile). A climb whose head has failed to improve on
``patience`` neighbours in a row is suspended rather than finished (a space with large
neighbourhoods would otherwise spend most of its budget proving local optima): the strategy
resumes the suspended climb with the best head, or starts a new one from the best of ``restart``
random archs, and comes back to a suspended climb once the others stall below it.

In a space whose encoding is redundant (:meth:`Space.canonical`, e.g. NAS-Bench-201's dead
edges and interchangeable nodes), ``distinct`` proposes one arch per equivalence class and the
surrogate sees every arch as its class representative, so equivalent cells are one point of the
GP. On NAS-Bench-201 that alone is worth 0.05-0.09 points of test accuracy at 100 queries
(docs/benchmarks.md).

With ``prior=synflow`` (any zero-cost proxy, or several joined by ``+``) the random batches that
start climbs come from a zero-cost warm-up (Abdelfattah et al., "Zero-Cost Proxies for
Lightweight NAS", ICLR 2021, Section 5): ``prior_pool`` unseen archs are drawn, scored by the
proxy (:class:`~archspace.estimators.prior.ProxyPrior`) and proposed best first; a new pool is
drawn once one is used up. With a prior, the proxy also helps choose each move: by default
(``prior_weight=0.5``) the neighbour proposed is the one with the best mean of the surrogate's
rank and the proxy's rank among the candidate neighbours, so every candidate neighbour is scored
by the proxy too (Abdelfattah et al.'s "move proposal", applied to local search);
``prior_weight=0`` keeps the proxy to the warm-up only (the GP alone orders neighbours, fewer
proxy evaluations), ``prior_weight=1`` lets the proxy alone order them. On NAS-Bench-201 the
blend is what lifts ``guided -s prior=synflow`` from 94.03 to 94.29 at 25 queries (40 seeds,
docs/benchmarks.md). The proxy's evaluations are not queries: the study records them, and their
CPU seconds, apart from its trials.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from archspace.limits import MAX_BUDGET
from archspace.space import Arch, Space
from archspace.strategies.climbing import Climber, ClimbingStrategy
from archspace.strategies.options import Option
from archspace.strategies.prior_pool import PRIOR_OPTIONS, PriorPool
from archspace.strategies.surrogate import HammingGP, clip_below

__all__ = ["GuidedSearch"]

_PRIOR, _POOL, _DATASET = PRIOR_OPTIONS


class GuidedSearch(PriorPool, ClimbingStrategy):
    """Local search whose neighbour order comes from a GP surrogate (see the module docstring)."""

    name = "guided"
    summary = ("Local search that evaluates the neighbour a Gaussian-process surrogate ranks "
               "highest; stalled climbs are suspended, restarts from random batches (default).")
    paper = ("ours; after White et al. 2020 (local search) and White et al. 2021, BANANAS (AAAI): "
             "predictor-ranked candidates")
    options: ClassVar[tuple[Option, ...]] = (
        Option("init", 10, int, "random archs to start from", minimum=1, maximum=MAX_BUDGET),
        Option("restart", 5, int, "random archs drawn for each new climb", minimum=1, maximum=MAX_BUDGET),
        Option("patience", 8, int, "non-improving neighbours in a row before a climb is suspended",
               minimum=1, maximum=MAX_BUDGET),
        Option("clip", 0.7, float, "quantile under which scores are raised to it for the surrogate",
               minimum=0.0, maximum=1.0),
        Option("distinct", True, bool, "propose one arch per class of functionally equivalent "
               "archs (spaces that define them, e.g. nb201)"),
        replace(_PRIOR, help="zero-cost proxy ranking the archs that start climbs (e.g. "
                "synflow, synflow+naswot; none: random starts)"),
        _POOL,
        Option("prior_weight", 0.5, float, "with a prior: weight of its rank beside the "
               "surrogate's when choosing a neighbour (every candidate neighbour is scored by "
               "the proxy too; 0: warm-up only, the prior just picks the archs that start "
               "climbs); no effect without a prior", minimum=0.0, maximum=1.0),
        _DATASET,
    )

    def __init__(self, space: Space, seed: int = 0, init: int = 10, restart: int = 5,
                 patience: int = 8, clip: float = 0.7, distinct: bool = True,
                 prior: str = "none", prior_pool: int = 100, prior_weight: float = 0.5,
                 prior_dataset: str | None = None) -> None:
        super().__init__(space, seed, init, restart, "first", patience, distinct)
        self.init_prior(prior, prior_pool, prior_dataset)
        self.clip = clip
        self.prior_weight = prior_weight
        self._model: HammingGP | None = None
        self._model_at = -1

    def _sample(self, cid: int) -> Arch:
        return self.warm_sample()

    def _features(self, arch: Arch) -> tuple[int, ...]:
        """The surrogate's input: choice indices of the arch (or of its class representative)."""
        return self.space.to_indices(self.ledger.key(arch))

    def _surrogate(self) -> HammingGP | None:
        """The GP fitted on every scored result (refitted only when results came in)."""
        if self._model_at != len(self.ledger.results):
            done = self.ledger.completed()
            self._model_at = len(self.ledger.results)
            self._model = None
            if len(done) >= 2:
                x = np.array([self._features(a) for a, _ in done])
                y = clip_below(np.array([s for _, s in done]), self.clip)
                self._model = HammingGP().fit(x, y)
        return self._model

    def _choose(self, climber: Climber, candidates: list[Arch]) -> Arch:
        model = self._surrogate()
        if model is None:
            return self.rng.choice(candidates)
        mean, _ = model.predict(np.array([self._features(a) for a in candidates]))
        prior = self.prior
        if prior is None or self.prior_weight == 0:
            return candidates[int(np.argmax(mean))]
        from scipy.stats import rankdata

        blend = ((1 - self.prior_weight) * rankdata(mean)
                 + self.prior_weight * rankdata(prior.scores(candidates)))
        return candidates[int(np.argmax(blend))]

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), **self.warm_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict({k: v for k, v in state.items() if k != "warm"})
        self.load_warm_state(state)
        self._model, self._model_at = None, -1
