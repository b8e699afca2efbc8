"""REINFORCE with an LSTM controller (NASNet / ENAS style).

Zoph & Le, "Neural Architecture Search with Reinforcement Learning", ICLR 2017; Zoph et al.,
"Learning Transferable Architectures for Scalable Image Recognition" (NASNet), CVPR 2018; Pham et
al., "Efficient Neural Architecture Search via Parameter Sharing" (ENAS), ICML 2018. An LSTM cell
emits the decisions one by one, in the space's order; each step feeds the embedding of the
previous choice, and a per-decision linear head (logits ``tanh_c * tanh(z / temperature)``, as in
ENAS) gives the choice distribution. Decisions that are inactive given the earlier choices are
skipped: they take no step and add nothing to the log-probability.

Training is REINFORCE with a moving-average baseline: after every ``batch`` results the
controller takes one Adam step on ``-(r - b) / s * log p(arch) - entropy * H``, where ``b`` is an
exponential moving average of the rewards and ``s`` one of their absolute deviation from it (so
the step does not depend on the score's units). A failed result is rewarded with the worst score
seen so far. A proposal that was made before is redrawn a few times, so the budget goes to new
archs while the policy still offers them. Under the study's hard constraints
(:meth:`Strategy.constrain`) a draw that breaks them is redrawn too, and the controller learns
from it at once as from a failed result, without spending a trial; when the redraws run out on
infeasible archs, a random feasible one is proposed.

Randomness comes from a private ``torch.Generator`` (initial weights uniform in +-0.1 as in ENAS,
and sampling), so the strategy is deterministic given its seed and never touches torch's global
random state.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from archspace.limits import MAX_BUDGET, MAX_HIDDEN
from archspace.space import Arch, Space
from archspace.strategies.base import Strategy
from archspace.strategies.options import Option
from archspace.strategies.pieces import (
    Ledger,
    UniqueSampler,
    active_index,
    check_state,
    rng_from_state,
    rng_state,
)

__all__ = ["Controller", "Reinforce"]

_REDRAWS = 10
_TANH_C, _TEMPERATURE = 2.5, 5.0


class Controller(nn.Module):
    """An LSTM cell that emits a space's decisions in order (see the module docstring)."""

    def __init__(self, space: Space, hidden: int) -> None:
        super().__init__()
        self.space = space
        sizes = [len(d.choices) for d in space.decisions]
        self.offsets = [sum(sizes[:i]) + 1 for i in range(len(sizes))]  # token 0: start
        self.embed = nn.Embedding(sum(sizes) + 1, hidden)
        self.cell = nn.LSTMCell(hidden, hidden)
        self.heads = nn.ModuleList(nn.Linear(hidden, n) for n in sizes)
        self.hidden = hidden

    def _logits(self, i: int, h: torch.Tensor) -> torch.Tensor:
        return _TANH_C * torch.tanh(self.heads[i](h) / _TEMPERATURE)

    def sample(self, generator: torch.Generator) -> list[int]:
        """Choice indices of one arch (-1 for inactive decisions)."""
        with torch.no_grad():
            return self._run(None, generator)[0]

    def log_prob(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probability and entropy of the arch with choice ``indices``."""
        _, logp, ent = self._run(indices, None)
        return logp, ent

    def _run(self, given: Sequence[int] | None,
             generator: torch.Generator | None) -> tuple[list[int], torch.Tensor, torch.Tensor]:
        h = c = torch.zeros(1, self.hidden)
        token = 0
        out: list[int] = []
        logp = ent = torch.zeros(())
        for i in range(len(self.space.decisions)):
            if not active_index(self.space, i, out):
                out.append(-1)
                continue
            h, c = self.cell(self.embed(torch.tensor([token])), (h, c))
            dist = torch.log_softmax(self._logits(i, h)[0], dim=-1)
            k = (int(torch.multinomial(dist.exp(), 1, generator=generator)) if given is None
                 else int(given[i]))
            out.append(k)
            logp = logp + dist[k]
            ent = ent - (dist.exp() * dist).sum()
            token = self.offsets[i] + k
        return out, logp, ent


class Reinforce(Strategy):
    """An LSTM controller trained with REINFORCE (see the module docstring)."""

    name = "reinforce"
    summary = "LSTM controller emitting the decisions, trained with REINFORCE and a baseline."
    paper = "Zoph & Le 2017, NAS with Reinforcement Learning (ICLR); Pham et al. 2018, ENAS (ICML)"
    options: ClassVar[tuple[Option, ...]] = (
        Option("lr", 0.01, float, "Adam learning rate of the controller", minimum=0.0),
        Option("batch", 1, int, "results per controller update", minimum=1, maximum=MAX_BUDGET),
        Option("baseline_decay", 0.9, float, "decay of the moving-average reward baseline",
               minimum=0.0, maximum=1.0),
        Option("entropy", 0.0001, float, "weight of the entropy bonus", minimum=0.0),
        Option("hidden", 64, int, "LSTM hidden size", minimum=1, maximum=MAX_HIDDEN),
    )
    avoids_infeasible = True

    def __init__(self, space: Space, seed: int = 0, lr: float = 0.01, batch: int = 1,
                 baseline_decay: float = 0.9, entropy: float = 0.0001, hidden: int = 64) -> None:
        super().__init__(space, seed)
        self.batch, self.decay, self.entropy = batch, baseline_decay, entropy
        self.ledger = Ledger(space, feasible=self.is_feasible)
        self.sampler = UniqueSampler(space, self.ledger.skip)
        self.generator = torch.Generator().manual_seed(seed)
        with torch.random.fork_rng(devices=[]):
            self.controller = Controller(space, hidden)
        with torch.no_grad():
            for p in self.controller.parameters():
                p.uniform_(-0.1, 0.1, generator=self.generator)
        self.optimizer = torch.optim.Adam(self.controller.parameters(), lr=lr)
        self.baseline: float | None = None
        self.spread = 0.0
        self.buffer: list[tuple[list[int], float]] = []

    def _draw(self) -> Arch:
        for _ in range(100):  # a space with cross-decision constraints may reject a draw
            try:
                return self.space.from_indices(self.controller.sample(self.generator))
            except ValueError:
                continue
        return self.sampler.sample(self.rng)

    def ask(self) -> Arch:
        arch = self._draw()
        for _ in range(_REDRAWS - 1):
            if not self.ledger.skip(arch):
                break
            if not self.is_feasible(arch):
                self._reward(arch, None)  # as if told infeasible, without a trial
            arch = self._draw()
        if not self.is_feasible(arch):
            arch = self.sampler.sample(self.rng)
        self.ledger.asked(arch)
        return arch

    def tell(self, arch: Arch, score: float | None, objectives: Sequence[float] = ()) -> None:
        self.ledger.told(arch, score, objectives)
        self._reward(arch, score)

    def _reward(self, arch: Arch, score: float | None) -> None:
        """Queue ``arch``'s reward (a failure: the worst score so far) and update when a batch
        is full."""
        done = [s for _, s in self.ledger.completed()]
        reward = score if score is not None else (min(done) if done else None)
        if reward is None:
            return
        self.buffer.append((list(self.space.to_indices(arch)), float(reward)))
        if len(self.buffer) >= self.batch:
            self._update()

    def _update(self) -> None:
        if self.baseline is None:
            self.baseline = self.buffer[0][1]
        loss = torch.zeros(())
        for indices, reward in self.buffer:
            advantage = (reward - self.baseline) / (self.spread or max(abs(reward), 1.0))
            logp, ent = self.controller.log_prob(indices)
            loss = loss - advantage * logp - self.entropy * ent
        self.optimizer.zero_grad()
        (loss / len(self.buffer)).backward()
        self.optimizer.step()
        for _, reward in self.buffer:
            self.spread = self.decay * self.spread + (1 - self.decay) * abs(reward - self.baseline)
            self.baseline = self.decay * self.baseline + (1 - self.decay) * reward
        self.buffer = []

    # -- state -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng), "ledger": self.ledger.state_dict(),
                "generator": self.generator.get_state().tolist(),
                "controller": _to_json(self.controller.state_dict()),
                "optimizer": _to_json(self.optimizer.state_dict()),
                "baseline": self.baseline, "spread": self.spread,
                "buffer": [[list(i), r] for i, r in self.buffer]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_state(self.name, state, ("rng", "ledger", "generator", "controller", "optimizer",
                                       "baseline", "spread", "buffer"))
        rng_from_state(self.rng, state["rng"])
        self.ledger.load_state_dict(state["ledger"])
        self.generator.set_state(torch.tensor(state["generator"], dtype=torch.uint8))
        self.controller.load_state_dict(_from_json(state["controller"]))
        self.optimizer.load_state_dict(_from_json(state["optimizer"]))
        self.baseline, self.spread = state["baseline"], float(state["spread"])
        self.buffer = [([int(k) for k in i], float(r)) for i, r in state["buffer"]]


def _to_json(obj: Any) -> Any:
    """Tensors (nested in dicts and lists) as ``{"tensor": values, "dtype": name}``."""
    if isinstance(obj, torch.Tensor):
        return {"tensor": obj.tolist(), "dtype": str(obj.dtype).removeprefix("torch.")}
    if isinstance(obj, dict):
        return {"keys": [_to_json(k) for k in obj], "values": [_to_json(v) for v in obj.values()]}
    if isinstance(obj, list | tuple):
        return [_to_json(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"float": repr(obj)}
    return obj


def _from_json(obj: Any) -> Any:
    """Inverse of :func:`_to_json`."""
    if isinstance(obj, dict) and "tensor" in obj:
        return torch.tensor(obj["tensor"], dtype=getattr(torch, obj["dtype"]))
    if isinstance(obj, dict) and "keys" in obj:
        return {_from_json(k): _from_json(v) for k, v in zip(obj["keys"], obj["values"], strict=True)}
    if isinstance(obj, dict) and "float" in obj:
        return float(obj["float"])
    if isinstance(obj, list):
        return [_from_json(v) for v in obj]
    return obj
