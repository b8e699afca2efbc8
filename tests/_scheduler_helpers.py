"""A toy estimator with a resource for the scheduler tests. It lives in a module of its own (not
a test module) so worker processes can unpickle it by name; torch-free, so they start fast."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

from archspace import Arch, Space
from test_study_support import ToyEstimator


class FidelityEstimator(ToyEstimator):
    """The toy accuracy of an arch at ``resource`` epochs: it grows with the resource, and the
    archs' order changes between low and high resources (the first width helps early, the last
    late), so promotions matter. A checkpoint is a JSON file of what was trained; a warm start
    reads it (``resumed_from``). ``log``: a file each evaluation appends ``arch|epochs`` to."""

    name = "fidelity"
    resource: ClassVar[str | None] = "epochs"

    def __init__(self, log: str | None = None, **toy: Any) -> None:
        super().__init__(**toy)
        self.log = log

    def evaluate(self, space: Space, arch: Arch, seed: int = 0) -> dict[str, float]:
        return self.evaluate_at(space, arch, seed, resource=9)

    def evaluate_at(self, space: Space, arch: Arch, seed: int = 0, resource: float | None = None,
                    *, warm_start: str | os.PathLike[str] | None = None,
                    checkpoint: str | os.PathLike[str] | None = None) -> dict[str, float]:
        r = float(resource if resource is not None else 9)
        text = space.format_arch(arch)
        self.calls.append(f"{text}|{r:g}")
        if len(self.calls) - 1 == self.interrupt_at:
            raise KeyboardInterrupt
        if text in self.fail:
            raise ValueError("boom")
        start = 0.0
        if warm_start is not None:
            state = json.loads(Path(warm_start).read_text())
            if state["arch"] != text or state["epochs"] >= r:
                raise ValueError(f"bad warm start {state}")
            start = float(state["epochs"])
        if self.log is not None:
            with open(self.log, "a") as f:
                f.write(f"{text}|{r:g}\n")
        v = [d.choices.index(x) + 1 if x in d.choices else 0
             for d, x in zip(space.decisions, arch.values, strict=True)]
        early, late = v[0] * 3 + sum(v), v[-1] * 3 + sum(v)
        acc = 40.0 + (early * 9 + late * r) / (9 + r) + r + (seed % 7) * 0.01
        if checkpoint is not None:
            Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
            Path(checkpoint).write_text(json.dumps({"arch": text, "epochs": r}))
        return {"acc": acc, "epochs": r, "resumed_from": start}
