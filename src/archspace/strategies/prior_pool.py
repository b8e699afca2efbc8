"""Zero-cost warm-up pools for any strategy: a proxy picks which random archs are evaluated.

Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021, Section 5 ("zero-cost
warmup"): score N random archs by a zero-cost proxy, far more than the study can train, and let
the search start from the best of them: random search evaluates them best first, aging evolution
takes the best as its initial population, local search starts its climbs from them. The same
section's "move proposal" lets the proxy choose among several mutations of a parent
(``evolution -s prior_mutations=K``); ``guided`` blends the proxy's rank with its surrogate's
when choosing each neighbour (``prior_weight``, 0.5 by default, 0 for the warm-up only).

:class:`PriorPool` is the part every such strategy shares: the ``prior``, ``prior_pool`` and
``prior_dataset`` options (:data:`PRIOR_OPTIONS`), the scorer
(:class:`~archspace.estimators.prior.ProxyPrior`, which a study fits to its estimator's data and
passes in with :meth:`PriorPool.use_prior`), and the pool: ``prior_pool`` distinct unseen archs
drawn with the strategy's generator, scored, proposed best first, and a new pool drawn once one
is used up. The proxy's evaluations are never queries: the study records their count and CPU
seconds apart from its trials (``study/prior_record.py``). Without a prior
(``prior=none``, the default) a strategy draws exactly as it did before.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from archspace.estimators.base import EstimatorError
from archspace.estimators.prior import parse_prior, prior_requirement
from archspace.limits import MAX_BUDGET
from archspace.space import Arch, Space
from archspace.strategies.base import StrategyError
from archspace.strategies.options import Option
from archspace.strategies.pieces import Ledger, UniqueSampler, decode, encode

if TYPE_CHECKING:
    from archspace.estimators.prior import ProxyPrior

__all__ = ["PRIOR_OPTIONS", "PRIOR_REQUIREMENT", "PriorPool"]

#: What option ``prior`` allows, in words.
PRIOR_REQUIREMENT = prior_requirement()


def _valid_prior(text: str) -> bool:
    try:
        parse_prior(text)
    except EstimatorError:
        return False
    return True


#: The options of a strategy with a zero-cost warm-up (``prior`` off by default).
PRIOR_OPTIONS: tuple[Option, ...] = (
    Option("prior", "none", str, "zero-cost proxy ranking pools of random archs, best "
           "evaluated first (e.g. synflow, synflow+naswot; none: plain random draws)",
           check=_valid_prior, requirement=PRIOR_REQUIREMENT),
    Option("prior_pool", 100, int, "archs drawn and scored by the prior per warm-up pool",
           minimum=1, maximum=MAX_BUDGET),
    Option("prior_dataset", None, str, "dataset the prior scores (default: the estimator's, "
           "else digits at the space's resolution)"),
)


class PriorPool:
    """The zero-cost warm-up a strategy shares (see the module docstring). A mixin for
    strategies that have ``space``, ``rng``, ``ledger`` and ``sampler``; call
    :meth:`init_prior` in ``__init__``."""

    space: Space
    rng: random.Random
    ledger: Ledger
    sampler: UniqueSampler
    name: ClassVar[str]

    def init_prior(self, prior: str, prior_pool: int, prior_dataset: str | None) -> None:
        """Parse the options (a bad proxy name raises :class:`StrategyError`)."""
        try:
            self.prior_names = parse_prior(prior)
        except EstimatorError as e:
            raise StrategyError(f"strategy {self.name!r}: {e}") from None
        self.prior_pool, self.prior_dataset = prior_pool, prior_dataset
        self._prior: ProxyPrior | None = None
        self._warm: list[Arch] = []  # the current pool, best first

    def use_prior(self, prior: ProxyPrior) -> None:
        """Score with ``prior`` (a study passes one fitted to its estimator's data)."""
        self._prior = prior

    @property
    def prior(self) -> ProxyPrior | None:
        """The prior's scorer (built on first use when none was given); None without prior."""
        if not self.prior_names:
            return None
        if self._prior is None:
            from archspace.estimators.prior import ProxyPrior

            self._prior = ProxyPrior.for_estimator(self.prior_names, self.space, None,
                                                   self.prior_dataset)
        return self._prior

    def warm_sample(self) -> Arch:
        """The next arch of the warm-up: the best unproposed arch of the current pool (a new
        pool once it is used up), or a plain unseen random arch without a prior."""
        prior = self.prior
        if prior is None:
            return self.sampler.sample(self.rng)
        for _ in range(2):
            while self._warm:
                arch = self._warm.pop(0)
                if not self.ledger.skip(arch):
                    return arch
            self._warm = self._warm_pool(prior)
        return self.sampler.sample(self.rng)

    def _warm_pool(self, prior: ProxyPrior) -> list[Arch]:
        """``prior_pool`` distinct unseen archs, best proxy score first (draw order on ties)."""
        pool: list[Arch] = []
        keys: set[Arch] = set()
        for _ in range(3 * self.prior_pool):
            if len(pool) == self.prior_pool:
                break
            arch = self.sampler.sample(self.rng)
            key = self.ledger.key(arch)
            if key not in keys and not self.ledger.skip(arch):
                keys.add(key)
                pool.append(arch)
        return self.best_first(prior, pool)

    @staticmethod
    def best_first(prior: ProxyPrior, archs: Sequence[Arch]) -> list[Arch]:
        """``archs`` ordered by the prior's score, best first (given order on ties)."""
        scores = prior.scores(list(archs))
        return [archs[i] for i in sorted(range(len(archs)), key=lambda i: -scores[i])]

    def warm_state(self) -> dict[str, Any]:
        """The pool's part of ``state_dict``."""
        return {"warm": [encode(self.space, a) for a in self._warm]}

    def load_warm_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`warm_state` returned (absent: an empty pool)."""
        self._warm = [decode(self.space, a) for a in state.get("warm", [])]
