"""What a study maximises: one estimator metric, a MnasNet reward, or several objectives.

* **Single objective** (default): the estimator's :attr:`~archspace.estimators.base.Estimator.metric`,
  maximised.
* **Soft-constraint reward** (Tan et al., "MnasNet: Platform-Aware Neural Architecture Search
  for Mobile", CVPR 2019, eq. 2): ``ACC * (COST / T) ** w``. Written ``METRIC:TARGET:W`` (e.g.
  ``macs:300M:-0.07``) or ``METRIC:TARGET:ALPHA:BETA`` for MnasNet's two-sided form, where
  ``w = ALPHA`` when ``COST <= T`` and ``w = BETA`` otherwise (``0:-1`` is a hard-ish penalty).
  ``METRIC`` is a cost metric (``macs``, ``params``, ``peak_sram``, ``flash``, ``latency@DEVICE``)
  with the units of :mod:`archspace.study.constraints` (``latency@pixel:10ms:-0.07`` is
  MnasNet's own latency reward, on a device's latency table).
* **Multi-objective**: several ``--objective`` names. A cost metric is minimised, anything else
  names an estimator metric and is maximised (``accuracy`` means the estimator's search metric).
  A name may end in ``:min`` or ``:max`` to force the direction. Strategies receive
  ``objectives`` as a tuple of values to maximise (minimised ones negated); the scalar score a
  single-objective strategy sees is the first objective's value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from archspace.cost.latency_store import check_device_name, devices
from archspace.errors import ArchspaceError
from archspace.study.constraints import COST_METRICS, LATENCY_METRIC, quantity

__all__ = ["Objective", "ObjectiveError", "Objectives", "Reward", "as_number", "dominates",
           "non_dominated_sort", "numeric_metrics", "pareto_front", "parse_reward"]


class ObjectiveError(ArchspaceError):
    """A malformed objective or reward."""


@dataclass(frozen=True)
class Objective:
    """One objective: ``source`` is ``"cost"`` or ``"metric"``; ``key`` the dict key read."""

    name: str
    key: str
    source: str
    maximise: bool
    device: str | None = None  # the latency table a ``latency@DEVICE`` objective reads

    def value(self, metrics: Mapping[str, float], cost: Mapping[str, float]) -> float:
        """The objective's raw value (not negated)."""
        table = cost if self.source == "cost" else metrics
        if self.key not in table:
            raise KeyError(f"objective {self.name!r} needs {self.source} {self.key!r}, which the "
                           f"trial lacks; it has {', '.join(table) or '(none)'}")
        return float(table[self.key])


def as_number(value: Any) -> float | None:
    """``value`` as a float if it is a real number (an int, a float, a numpy or 0-d torch
    scalar; NaN and infinities included), else None (a string, None, a list, ...)."""
    if isinstance(value, str | bytes) or not hasattr(type(value), "__float__"):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError, RuntimeError):
        return None


def numeric_metrics(metrics: Mapping[Any, Any]) -> tuple[dict[str, float], str | None]:
    """What an estimator returned as plain floats keyed by strings, and why the trial fails if
    some value is not a number (``None`` when all are): those values are named in the reason
    and left out of the metrics."""
    clean: dict[str, float] = {}
    bad: list[str] = []
    for key, value in metrics.items():
        number = as_number(value)
        if number is None:
            bad.append(f"{key}={_short(value)} ({type(value).__name__})")
        else:
            clean[str(key)] = number
    if not bad:
        return clean, None
    return clean, (f"non-numeric metric{'s' if len(bad) > 1 else ''} {', '.join(bad[:4])}; "
                   "allowed: numbers (an int or a float)")


def _short(value: Any) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= 40 else text[:37] + "..."


#: Bounds of a reward's target (base units) and exponents: ``(COST/TARGET)^W`` then stays a
#: finite float for any cost below 1e18 (MACs, parameters or bytes).
MAX_TARGET = 1e18
MAX_EXPONENT = 10.0


def _parse_quantity(text: str, metric: str, what: str) -> float:
    units = COST_METRICS[metric].units
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)(?:e([+-]?\d+))?\s*([A-Za-z]*)\s*", text)
    if not m or m.group(3) not in units:
        shown = ", ".join(u for u in units if u)
        raise ObjectiveError(f"{what}: bad target {text!r}; expected a positive number with an "
                             f"optional unit ({shown})")
    value = quantity(m.group(1), m.group(2), units[m.group(3)])
    if value is None or not 1 <= value <= MAX_TARGET:
        raise ObjectiveError(f"{what}: target must be a positive number in [1, {MAX_TARGET:g}] "
                             f"base units, got {text!r}")
    return value


@dataclass(frozen=True)
class Reward:
    """MnasNet's ``ACC * (COST/T)^w`` with ``w = alpha`` if ``COST <= T`` else ``beta``."""

    metric: str
    target: float
    alpha: float
    beta: float
    text: str
    device: str | None = None  # for ``latency@DEVICE:10ms:-0.07``

    def __call__(self, accuracy: float, cost: Mapping[str, float]) -> float:
        c = float(cost[COST_METRICS[self.metric].key])
        w = self.alpha if c <= self.target else self.beta
        return accuracy * (c / self.target) ** w if c > 0 else accuracy


def parse_reward(text: str) -> Reward:
    """Parse ``METRIC:TARGET:W`` or ``METRIC:TARGET:ALPHA:BETA`` (see the module docstring)."""
    parts = [p.strip() for p in text.split(":")]
    what = f"reward {text!r}"
    if len(parts) not in (3, 4):
        raise ObjectiveError(f"malformed {what}; expected METRIC:TARGET:W (e.g. macs:300M:-0.07) "
                             "or METRIC:TARGET:ALPHA:BETA")
    parts[0], device = _split_device(parts[0], what)
    if parts[0] not in COST_METRICS:
        raise ObjectiveError(f"{what}: unknown metric {parts[0]!r}; allowed: {', '.join(COST_METRICS)}")
    target = _parse_quantity(parts[1], parts[0], what)
    try:
        exps = [float(p) for p in parts[2:]]
    except ValueError:
        raise ObjectiveError(f"{what}: exponents must be numbers, got {':'.join(parts[2:])!r}") from None
    if not all(math.isfinite(e) and abs(e) <= MAX_EXPONENT for e in exps):
        raise ObjectiveError(f"{what}: exponents must be finite numbers in [-{MAX_EXPONENT:g}, "
                             f"{MAX_EXPONENT:g}], got {':'.join(parts[2:])!r}")
    alpha, beta = (exps[0], exps[0]) if len(exps) == 1 else (exps[0], exps[1])
    return Reward(parts[0], target, alpha, beta, text.strip(), device)


def _split_device(name: str, what: str) -> tuple[str, str | None]:
    """``latency@DEVICE`` -> (``latency``, DEVICE); a bare ``latency`` is refused (it needs a
    device's latency table), ``@`` on another metric too."""
    base, at, device = name.partition("@")
    if base != LATENCY_METRIC:
        if at:
            raise ObjectiveError(f"{what}: only latency takes @DEVICE, got {name!r}")
        return name, None
    if not device:
        known = ", ".join(devices()) or "none (run 'archspace latency calibrate --device NAME')"
        raise ObjectiveError(f"{what}: latency needs a device's latency table; give --device "
                             f"NAME (or write latency@NAME); calibrated: {known}")
    try:
        return base, check_device_name(device)
    except ArchspaceError as e:
        raise ObjectiveError(f"{what}: {e}") from None


def _parse_objective(text: str, metric: str, produces: Sequence[str] = (),
                     estimator: str = "") -> Objective:
    name, _, direction = text.strip().partition(":")
    if not name or direction not in ("", "min", "max"):
        raise ObjectiveError(f"malformed objective {text!r}; expected NAME, NAME:min or NAME:max, "
                             f"with NAME a cost metric ({', '.join(COST_METRICS)}) or an estimator "
                             "metric")
    if name.partition("@")[0] == LATENCY_METRIC:
        name, device = _split_device(name, f"objective {text!r}")
        return Objective(name, COST_METRICS[name].key, "cost", direction == "max", device)
    if name in COST_METRICS:
        return Objective(name, COST_METRICS[name].key, "cost", direction == "max")
    key = metric if name == "accuracy" else name
    if produces and key not in produces:
        others = [m for m in produces if m != metric and m not in COST_METRICS]
        raise ObjectiveError(
            f"objective {name!r} is not a metric of estimator {estimator or '(this one)'}; "
            f"allowed: accuracy (its search metric {metric!r}), "
            + "".join(f"{m}, " for m in (metric, *others))
            + f"or a cost ({', '.join(COST_METRICS)})")
    return Objective(name, key, "metric", direction != "min")


@dataclass(frozen=True)
class Objectives:
    """How a trial's metrics and cost become ``(score, objectives)`` for the strategy."""

    items: tuple[Objective, ...]
    reward: Reward | None = None

    @classmethod
    def build(cls, metric: str, names: Sequence[str] = (), reward: str | None = None,
              produces: Sequence[str] = (), estimator: str = "") -> Objectives:
        """From the estimator's search ``metric``, ``--objective`` names and ``--reward``. With
        ``produces`` (the metrics the estimator ``estimator`` declares, see
        :meth:`~archspace.estimators.base.Estimator.produces`) an objective naming another
        metric is refused here, before any trial."""
        if reward is not None and not reward.strip():
            raise ObjectiveError("--reward is empty; expected METRIC:TARGET:W (e.g. "
                                 "macs:300M:-0.07) or leave it out")
        if reward and len(names) > 1:
            raise ObjectiveError("--reward combines with a single objective; got "
                                 f"{len(names)} objectives")
        items = tuple(_parse_objective(n, metric, produces, estimator) for n in names) or (
            Objective(metric, metric, "metric", True),)
        dup = {o.name for o in items if [p.name for p in items].count(o.name) > 1}
        if dup:
            raise ObjectiveError(f"objective {sorted(dup)[0]!r} given twice")
        if reward and items[0].source == "cost":
            raise ObjectiveError("--reward scales an estimator metric, not cost "
                                 f"{items[0].name!r}")
        return cls(items, parse_reward(reward) if reward else None)

    @property
    def multi(self) -> bool:
        """More than one objective."""
        return len(self.items) > 1

    @property
    def devices(self) -> tuple[str | None, ...]:
        """The devices whose latency the objectives and the reward read (None for the rest)."""
        return (*(o.device for o in self.items), self.reward.device if self.reward else None)

    def evaluate(self, metrics: Mapping[str, float],
                 cost: Mapping[str, float]) -> tuple[float, tuple[float, ...]]:
        """``(score, objectives)``, both maximised; raises KeyError on a missing value."""
        raw = [o.value(metrics, cost) for o in self.items]
        values = tuple(v if o.maximise else -v for o, v in zip(self.items, raw, strict=True))
        score = values[0]
        if self.reward is not None:
            score = self.reward(score, cost)
            values = (score, *values[1:])
        return score, values


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """``a`` Pareto-dominates ``b`` (maximising every coordinate)."""
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(
        x > y for x, y in zip(a, b, strict=True))


def non_dominated_sort(points: Sequence[Sequence[float]]) -> list[list[int]]:
    """Indices of ``points`` in successive Pareto fronts (Deb et al. 2002, NSGA-II's fast
    non-dominated sort), each front in input order."""
    n = len(points)
    dominated_by: list[list[int]] = [[] for _ in range(n)]
    count = [0] * n
    for i in range(n):
        for j in range(i + 1, n):
            if dominates(points[i], points[j]):
                dominated_by[i].append(j)
                count[j] += 1
            elif dominates(points[j], points[i]):
                dominated_by[j].append(i)
                count[i] += 1
    fronts: list[list[int]] = []
    current = [i for i in range(n) if count[i] == 0]
    while current:
        fronts.append(sorted(current))
        nxt = []
        for i in current:
            for j in dominated_by[i]:
                count[j] -= 1
                if count[j] == 0:
                    nxt.append(j)
        current = nxt
    return fronts


def pareto_front(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the non-dominated ``points`` (maximising), in input order.

    The first front of :func:`non_dominated_sort` without the rest: points are visited in
    decreasing lexicographic order, where anything dominating a point comes before it, and each
    is compared with the front found so far only (O(n log n + n * front size)).
    """
    if not len(points):
        return []
    if len({len(x) for x in points}) != 1:
        raise ValueError("pareto_front needs points with the same number of objectives")
    p = np.asarray(points, dtype=np.float64).reshape(len(points), len(points[0]))
    if p.shape[1] == 0:  # no objective: nothing dominates anything
        return list(range(len(points)))
    order = np.lexsort(-p.T[::-1])  # by the first objective, ties by the next, decreasing
    front: list[int] = []
    kept = np.empty_like(p)
    for i in order:
        x, f = p[i], kept[:len(front)]
        if not np.any(np.all(f >= x, axis=1) & np.any(f > x, axis=1)):
            kept[len(front)] = x
            front.append(int(i))
    return sorted(front)
