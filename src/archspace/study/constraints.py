"""Hard resource constraints, checked with the analytic cost model before any evaluation.

A constraint is ``METRIC OP NUMBER[UNIT]``, e.g. ``peak_sram<=320kB``, ``macs<=60M``,
``params<1.5M``, ``flash<=1MB``. Metrics and their units:

* ``macs``, ``params`` (counts): no unit, ``k`` (1e3), ``M`` (1e6), ``G`` (1e9);
* ``peak_sram``, ``flash`` (bytes): ``B``; decimal ``kB``/``KB`` (1000), ``MB`` (1e6),
  ``GB`` (1e9); binary ``KiB`` (1024), ``MiB`` (1024**2), ``GiB`` (1024**3).
  MCUNet's "320kB SRAM, 1MB flash" budgets are quoted in decimal units here; write ``KiB`` /
  ``MiB`` for the binary sizes.

``latency`` (milliseconds at batch 1, predicted by a device's latency table, see
:mod:`archspace.cost.latency_table`): ``ms``, ``s``, ``us``. It must name its device after ``@``
(``latency@pixel<=12ms``); ``archspace search --device NAME`` writes ``latency<=12ms`` that way.
A study reads one device: constraints naming two are refused.

``peak_sram`` and ``flash`` may name a memory model of the cost model after ``@``:
``peak_sram@tinyengine<=320kB`` bounds TinyEngine's peak SRAM (its allocator and runtime
buffers) instead of MCUNet's convention (``@mcunet``, the default); ``archspace search
--memory-model tinyengine`` writes its ``peak_sram`` and ``flash`` constraints that way.

Costs are the analytic cost model's, of the network the estimator evaluates
(:meth:`Estimator.cost`: for ``train``, the space fitted to the dataset's classes at the
training resolution). A study refuses constraints that none of a seeded sample of archs meets
(:mod:`archspace.study.feasibility`).
Operators: ``<=``, ``<``, ``>=``, ``>``. Parsing is a regular expression, never ``eval``.
An architecture that violates a constraint is never evaluated: the study records it as
``infeasible`` with its cost and the violated constraint (the MCUNet / TinyNAS practice of
filtering by memory before training, Lin et al. 2020).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from archspace.cost.tinyengine import MEMORY_MODELS
from archspace.errors import ArchspaceError

__all__ = ["COST_METRICS", "LATENCY_METRIC", "MEMORY_METRICS", "Constraint", "ConstraintError",
           "latency_device", "memory_models", "model_costs", "parse_constraint",
           "parse_constraints", "quantity", "violated", "with_device", "with_memory_model"]


class ConstraintError(ArchspaceError):
    """A malformed resource constraint."""


@dataclass(frozen=True)
class _Metric:
    key: str  # key in a Profile.to_dict() / trial cost dict
    units: Mapping[str, float]


_COUNT_UNITS = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
_BYTE_UNITS = {"": 1.0, "B": 1.0, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9,
               "KiB": 1024.0, "MiB": 1024.0**2, "GiB": 1024.0**3}
_TIME_UNITS = {"": 1.0, "ms": 1.0, "s": 1e3, "us": 1e-3}

#: Constraint metric name -> (cost-dict key, allowed units). Add a row to support a new metric.
COST_METRICS: dict[str, _Metric] = {
    "macs": _Metric("macs", _COUNT_UNITS),
    "params": _Metric("params", _COUNT_UNITS),
    "peak_sram": _Metric("peak_sram_bytes", _BYTE_UNITS),
    "flash": _Metric("flash_bytes", _BYTE_UNITS),
    "latency": _Metric("latency_ms", _TIME_UNITS),
}

#: The metrics whose value depends on the memory model (``peak_sram@tinyengine``).
MEMORY_METRICS = ("peak_sram", "flash")
#: The metric read from a device's latency table (``latency@DEVICE``).
LATENCY_METRIC = "latency"

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
_NOT_FINITE = re.compile(r"^\s*[A-Za-z_]+(?:@[A-Za-z0-9_.-]*)?\s*(<=|>=|<|>)\s*[+-]?(inf|infinity|nan)\b",
                         re.IGNORECASE)
_LARGEST = 1e300
_PATTERN = re.compile(r"^\s*([A-Za-z_]+)(?:@([A-Za-z0-9_.-]*))?\s*(<=|>=|<|>)\s*"
                      r"(\d+(?:\.\d*)?|\.\d+)(?:e([+-]?\d+))?\s*([A-Za-z]*)\s*$")


@dataclass(frozen=True)
class Constraint:
    """``metric op limit`` with ``limit`` in base units (MACs, parameters, bytes or ms)."""

    metric: str
    op: str
    limit: float
    text: str
    memory_model: str = "mcunet"
    device: str | None = None  # the latency table a ``latency`` constraint reads

    @property
    def key(self) -> str:
        """The key of the cost dict this constraint reads (``peak_sram_bytes@tinyengine`` for
        another memory model than the default)."""
        key = COST_METRICS[self.metric].key
        return key if self.memory_model == "mcunet" else f"{key}@{self.memory_model}"

    def holds(self, cost: Mapping[str, float]) -> bool:
        """Whether ``cost`` (a :meth:`Profile.to_dict`-style mapping) satisfies it."""
        return _OPS[self.op](float(cost[self.key]), self.limit)

    def __str__(self) -> str:
        return self.text


def _allowed() -> str:
    return ", ".join(COST_METRICS)


def parse_constraint(text: str) -> Constraint:
    """Parse one constraint; raises :class:`ConstraintError` naming the bad piece."""
    m = _PATTERN.match(text)
    if not m:
        if _NOT_FINITE.match(text):
            raise ConstraintError(f"constraint {text!r}: the limit must be a finite number such "
                                  "as 60M or 320kB")
        head = re.match(r"^\s*([A-Za-z_]+)", text)
        if head and head.group(1) not in COST_METRICS:
            raise ConstraintError(f"constraint {text!r}: unknown metric {head.group(1)!r}; "
                                  f"allowed: {_allowed()}")
        raise ConstraintError(f"malformed constraint {text!r}; expected METRIC OP NUMBER[UNIT] "
                              f"such as 'peak_sram<=320kB' or 'macs<60M', with METRIC one of "
                              f"{_allowed()} and OP one of {', '.join(_OPS)}")
    name, model, op, number, exp, unit = m.groups()
    if name not in COST_METRICS:
        raise ConstraintError(f"constraint {text!r}: unknown metric {name!r}; allowed: {_allowed()}")
    if name == LATENCY_METRIC:
        device = _device_of(text, model)
        model = None
    else:
        device = None
    if model is not None and name not in MEMORY_METRICS:
        raise ConstraintError(f"constraint {text!r}: {name} has no memory model; only "
                              f"{' and '.join(MEMORY_METRICS)} take @MODEL")
    if model is not None and model not in MEMORY_MODELS:
        raise ConstraintError(f"constraint {text!r}: unknown memory model {model!r}; allowed: "
                              f"{', '.join(MEMORY_MODELS)}")
    units = COST_METRICS[name].units
    if unit not in units:
        shown = ", ".join(u for u in units if u) or "(none)"
        raise ConstraintError(f"constraint {text!r}: unknown unit {unit!r} for {name}; allowed: "
                              f"{shown} or no unit")
    value = quantity(number, exp, units[unit])
    if value is None:
        raise ConstraintError(f"constraint {text!r}: the limit is too large; allowed: a finite "
                              f"number below {_LARGEST:g} base units")
    return Constraint(name, op, value, text.strip().replace(" ", ""), model or "mcunet", device)


def _device_of(text: str, device: str | None) -> str:
    """The device a latency constraint names, checked as a name (the table is read later)."""
    from archspace.cost.latency_store import check_device_name, devices

    if not device:
        known = ", ".join(devices()) or "none (run 'archspace latency calibrate --device NAME')"
        raise ConstraintError(f"constraint {text!r}: latency needs a device's latency table; give "
                              f"--device NAME (or write latency@NAME); calibrated: {known}")
    try:
        return check_device_name(device)
    except ArchspaceError as e:
        raise ConstraintError(f"constraint {text!r}: {e}") from None


def quantity(number: str, exp: str | None, scale: float) -> float | None:
    """``NUMBER[eEXP]`` times ``scale`` as a float; None when it is not below ``1e300`` (an
    exponent such as ``1e999`` would overflow)."""
    value = float(f"{number}e{exp}" if exp else number) * scale
    return value if math.isfinite(value) and value < _LARGEST else None


def parse_constraints(texts: Iterable[str]) -> tuple[Constraint, ...]:
    """Parse several constraints (each may also hold several, comma separated)."""
    out: list[Constraint] = []
    for text in texts:
        out.extend(parse_constraint(t) for t in text.split(",") if t.strip())
    return tuple(out)


def violated(constraints: Sequence[Constraint], cost: Mapping[str, float]) -> list[Constraint]:
    """The constraints ``cost`` breaks, in the order given."""
    return [c for c in constraints if not c.holds(cost)]


def latency_device(constraints: Iterable[Constraint], *more: str | None) -> str | None:
    """The one device that latency ``constraints`` (and the devices in ``more``, None where
    nothing reads latency) read, or None; :class:`ConstraintError` if they name several."""
    found = sorted({c.device for c in constraints if c.device} | {d for d in more if d})
    if len(found) > 1:
        raise ConstraintError(f"latency is read on several devices ({', '.join(found)}); a study "
                              "predicts latency for one device: use one --device")
    return found[0] if found else None


def with_device(texts: Iterable[str], device: str | None) -> tuple[str, ...]:
    """``texts`` with every ``latency`` constraint without a device bound to ``device``
    (``latency<=12ms`` -> ``latency@pixel<=12ms``); the others as they are. With no
    ``device`` the texts are returned unchanged (a bare ``latency`` is refused when parsed)."""
    out = []
    for text in texts:
        for part in (t.strip() for t in text.split(",") if t.strip()):
            head = re.match(r"^\s*([A-Za-z_]+)(@?)", part)
            if device and head and head.group(1) == LATENCY_METRIC and not head.group(2):
                part = re.sub(r"^\s*([A-Za-z_]+)", rf"\1@{device}", part, count=1)
            out.append(part)
    return tuple(out)


def memory_models(constraints: Iterable[Constraint]) -> list[str]:
    """The memory models other than the default that ``constraints`` read, sorted."""
    return sorted({c.memory_model for c in constraints} - {"mcunet"})


def model_costs(profile: Any, memory_model: str) -> dict[str, float]:
    """The cost-dict entries of a profile made with ``memory_model``
    (``peak_sram_bytes@tinyengine``, ``flash_bytes@tinyengine``)."""
    return {f"{COST_METRICS[m].key}@{memory_model}": float(getattr(profile, COST_METRICS[m].key))
            for m in MEMORY_METRICS}


def with_memory_model(texts: Iterable[str], memory_model: str) -> tuple[str, ...]:
    """``texts`` with every unqualified ``peak_sram``/``flash`` constraint bound to
    ``memory_model`` (``peak_sram<=320kB`` -> ``peak_sram@tinyengine<=320kB``); the others as
    they are. Each is parsed, so a malformed one raises :class:`ConstraintError`."""
    if memory_model not in MEMORY_MODELS:
        raise ConstraintError(f"unknown memory model {memory_model!r}; allowed: "
                              f"{', '.join(MEMORY_MODELS)}")
    out = []
    for text in texts:
        for part in (t.strip() for t in text.split(",") if t.strip()):
            head = re.match(r"^\s*([A-Za-z_]+)", part)
            if head and head.group(1) == LATENCY_METRIC:  # bound by with_device, not here
                out.append(part)
                continue
            c = parse_constraint(part)
            if memory_model != "mcunet" and c.metric in MEMORY_METRICS and "@" not in part:
                part = re.sub(r"^\s*([A-Za-z_]+)", rf"\1@{memory_model}", part, count=1)
            out.append(part)
    return tuple(out)
