"""Small fakes for the study tests (a toy space, estimator and strategies) and the child process
the SIGKILL tests run. Kept free of torch so a child process starts fast."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from typing import Any

from archspace import Arch, Decision, Space
from archspace.estimators.base import Estimator
from archspace.ir.graph import Graph
from archspace.strategies.base import Strategy
from archspace.study import Factories, Study, StudyConfig


class ToySpace(Space):
    """Four stacked 3x3 convs whose widths (8 * choice) are searched: 256 archs."""

    name = "toy"
    default_resolution = 8

    def __init__(self, depth: int = 4) -> None:
        self._record_params(depth=depth)
        self._set_decisions(Decision.of(f"w{i}", (1, 2, 3, 4)) for i in range(depth))

    def _lower(self, arch: Arch, g: Graph, resolution: int) -> None:
        x = g.input((3, resolution, resolution))
        for v in arch.values:
            x = g.conv(x, 8 * int(v or 1), 3, padding=1)
        g.linear(g.flatten(g.gap(x)), 10)


class ToyEstimator(Estimator):
    """A deterministic 'accuracy' with knobs: a delay, archs that raise, give NaN, or OOM."""

    name = "toy"
    metric = "acc"

    def __init__(self, delay: float = 0.0, fail: Sequence[str] = (), nan: Sequence[str] = (),
                 oom: Sequence[str] = (), interrupt_at: int = -1) -> None:
        self.delay, self.fail, self.nan, self.oom = delay, set(fail), set(nan), set(oom)
        self.interrupt_at = interrupt_at
        self.calls: list[str] = []

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        text = space.format_arch(arch)
        self.calls.append(text)
        if len(self.calls) - 1 == self.interrupt_at:
            raise KeyboardInterrupt
        if self.delay:
            time.sleep(self.delay)
        if text in self.fail:
            raise ValueError("boom")
        if text in self.oom:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        vals = [int(v or 0) for v in arch.values]
        acc = 50.0 + sum(v * (i + 1) for i, v in enumerate(vals)) + (seed % 7) * 0.01
        return {"acc": math.nan if text in self.nan else acc, "other": float(vals[0])}


class GreedyStrategy(Strategy):
    """Mutate the best arch so far (sample with probability 0.3 or before any success): its
    proposals depend on what it was told, so a wrong replay shows."""

    name = "greedy"

    def __init__(self, space: Space, seed: int = 0) -> None:
        super().__init__(space, seed)
        self.best: tuple[float, Arch] | None = None
        self.told: list[tuple[Arch, float | None, tuple[float, ...]]] = []

    def ask(self) -> Arch:
        if self.best is None or self.rng.random() < 0.3:
            return self.space.sample(self.rng)
        return self.space.mutate(self.best[1], self.rng)

    def tell(self, arch: Arch, score: float | None, objectives: Sequence[float] = ()) -> None:
        self.told.append((arch, score, tuple(objectives)))
        if score is not None and (self.best is None or score > self.best[0]):
            self.best = (score, arch)


class UnseededStrategy(GreedyStrategy):
    """Ignores its seed: replay diverges."""

    name = "unseeded"

    def __init__(self, space: Space, seed: int = 0) -> None:
        super().__init__(space, seed)
        import random

        self.rng = random.Random()


class FixedStrategy(Strategy):
    """Proposes a given list of archs in order, then stops (StopIteration)."""

    name = "fixed"

    def __init__(self, space: Space, seed: int = 0, archs: Sequence[str] = ()) -> None:
        super().__init__(space, seed)
        self.archs = [space.parse_arch(a) for a in archs]
        self.i = 0
        self.told: list[tuple[Arch, float | None, tuple[float, ...]]] = []

    def ask(self) -> Arch:
        if self.i >= len(self.archs):
            raise StopIteration
        self.i += 1
        return self.archs[self.i - 1]

    def tell(self, arch: Arch, score: float | None, objectives: Sequence[float] = ()) -> None:
        self.told.append((arch, score, tuple(objectives)))


class SamplerStrategy(Strategy):
    """Seeded uniform samples whatever it is told: its proposals don't depend on the order
    results arrive in, so a parallel study is reproducible."""

    name = "sampler"

    def ask(self) -> Arch:
        return self.space.sample(self.rng)

    def tell(self, arch: Arch, score: float | None, objectives: Sequence[float] = ()) -> None:
        pass


STRATEGIES: dict[str, type[Strategy]] = {
    "greedy": GreedyStrategy, "unseeded": UnseededStrategy, "fixed": FixedStrategy,
    "sampler": SamplerStrategy}


def _strategy(name: str, space: Space, seed: int = 0, **options: Any) -> Strategy:
    return STRATEGIES[name](space, seed=seed, **options)  # type: ignore[call-arg]


FACTORIES = Factories(space=lambda name, **p: ToySpace(**p),
                      estimator=lambda name, **o: ToyEstimator(**o), strategy=_strategy)


def _unconstrained(name: str, space: Space, seed: int = 0, **options: Any) -> Strategy:
    from archspace.strategies import get_strategy

    strategy = get_strategy(name, space, seed=seed, **options)
    strategy.constrain = lambda feasible: None  # type: ignore[method-assign]
    return strategy


#: Catalog pieces, but the strategy never hears of the constraints: it proposes archs that
#: break them, which the study records as infeasible (every catalog strategy avoids them).
UNCONSTRAINED = Factories(strategy=_unconstrained)


def config(budget: int = 20, strategy: str = "greedy", seed: int = 0, delay: float = 0.0,
           **kw: Any) -> StudyConfig:
    """A toy study configuration."""
    est = {"delay": delay} if delay else {}
    est.update(kw.pop("estimator_options", {}))
    return StudyConfig(space="toy", space_params={}, estimator="toy", estimator_options=est,
                       strategy=strategy, strategy_options=kw.pop("strategy_options", {}),
                       seed=seed, budget=budget, **kw)


def comparable(study_path: str) -> list[tuple[Any, ...]]:
    """What must match between an interrupted-and-resumed study and an uninterrupted one."""
    from archspace.study import StudyStorage

    with StudyStorage.open(study_path) as s:
        return [(t.number, t.arch, t.status, t.metrics, t.cost, t.score, t.objectives, t.error,
                 t.tell_order) for t in s.trials()]


def child(path: str, budget: int, delay: float, resume: bool, executor: str = "",
          strategy: str = "greedy") -> None:
    """Run (or resume) a toy study in this process: the SIGKILL tests' child. With
    ``executor`` (a kind, 2 workers) the executor is chosen as the CLI does: given on
    creation, taken from the study file on resume."""
    from archspace.cli._executor import executor_settings, open_with_executor, stored_settings

    given = {"executor": executor, "workers": 2} if executor and not resume else {}
    settings = executor_settings(given, stored_settings(path) if resume else None)
    if resume:
        study = open_with_executor(lambda ex: Study.resume(path, FACTORIES, ex), settings)
        study.storage.set_meta("executor", settings)
    else:
        cfg = config(budget, strategy, delay=delay, constraints=("macs<=400k",))
        study = open_with_executor(lambda ex: Study.create(path, cfg, FACTORIES, ex,
                                                                  meta={"executor": settings}), settings)
    study.run()
    study.close()


if __name__ == "__main__":
    child(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "resume",
          *sys.argv[5:])
