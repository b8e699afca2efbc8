"""FLOPs distributions of spaces under memory constraints: TinyNAS's space selection.

Lin et al., "MCUNet: Tiny Deep Learning on IoT Devices", NeurIPS 2020, section 3.1: before
searching, pick the search space (a width multiplier and an input resolution of one backbone)
by sampling models from each candidate, keeping those that fit the device's SRAM and flash,
and comparing the distribution of their FLOPs. "Under the same memory constraint, a model with
more FLOPs tends to be more accurate", so TinyNAS picks the space whose satisfying models have
the highest mean FLOPs. FLOPs here are MACs, as MCUNet counts them.

:func:`flops_distribution` returns a :class:`FlopsStudy`: for each space the share of sampled
models that satisfy every constraint and the sorted MACs of those (the CDF MCUNet plots), and
the pick with its reason. Spaces with fewer than ``min_count`` satisfying models are reported
but never picked (a mean over three models is noise).
"""

from __future__ import annotations

import itertools
import math
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from archspace.analysis.constraints import Constraints, as_constraints, satisfied
from archspace.analysis.sampling import SegmentCache, sample_costs
from archspace.cost.latency_store import load_table
from archspace.cost.tinyengine import check_memory_model
from archspace.errors import ArchspaceError, ParamError
from archspace.limits import MAX_GRID, MAX_PROFILED, check_int, check_seed
from archspace.space import Space
from archspace.study.constraints import latency_device

__all__ = ["FlopsStudy", "SpaceFlops", "derived_seed", "flops_distribution", "grid_label",
           "space_grid"]


def derived_seed(seed: int, label: str) -> int:
    """A per-space seed from the study's seed and the space's label (so a space gets the same
    sample whatever else is in the grid)."""
    return int(np.random.SeedSequence([seed, zlib.crc32(label.encode())]).generate_state(1)[0])


def grid_label(values: Mapping[str, Any]) -> str:
    """``w0.5-r144`` for width x resolution (MCUNet's notation), else ``k=v,k=v``."""
    if set(values) == {"width", "resolution"}:
        return f"w{values['width']:g}-r{values['resolution']}"
    return ",".join(f"{k}={v}" for k, v in values.items())


def space_grid(name: str, grid: Mapping[str, Sequence[Any]],
               fixed: Mapping[str, Any] | None = None) -> dict[str, Space]:
    """Every space ``name(**fixed, **point)`` for ``point`` in the product of ``grid``'s
    values, by :func:`grid_label` of the point. Without a grid: the space's ``family()`` if its
    class has one, else the single space."""
    from archspace.spaces import get_space, space_class

    fixed = dict(fixed or {})
    clash = sorted(set(grid) & set(fixed))
    if clash:
        raise ParamError(f"parameter {clash[0]!r} is both fixed and on the grid; give it once")
    if not grid:
        family = getattr(space_class(name), "family", None)
        if family is None:
            space = get_space(name, **fixed)
            return {space.label: space}
        return {_family_label(s): s for s in family(**fixed)}
    n = math.prod(len(v) for v in grid.values())
    if n > MAX_GRID:
        raise ParamError(f"the grid has {n} points ({' x '.join(str(len(v)) for v in grid.values())}"
                         f"); allowed: at most {MAX_GRID} spaces")
    out: dict[str, Space] = {}
    for point in itertools.product(*grid.values()):
        values = dict(zip(grid, point, strict=True))
        out[grid_label(values)] = get_space(name, **fixed, **values)
    return out


def _family_label(space: Space) -> str:
    width = getattr(space, "width", None)
    if width is None:
        return space.label
    return grid_label({"width": width, "resolution": space.default_resolution})


@dataclass(frozen=True)
class SpaceFlops:
    """One space's sample: how many models fit, and the MACs of those that do."""

    label: str
    space: str
    params: dict[str, Any]
    n: int
    n_ok: int
    eligible: bool
    macs: npt.NDArray[np.int64] = field(repr=False)
    #: Predicted latency (ms) of the satisfying models, sorted (with a device only).
    latency_ms: npt.NDArray[np.float64] | None = field(default=None, repr=False)

    @property
    def fraction(self) -> float:
        """Share of sampled models satisfying every constraint."""
        return self.n_ok / self.n if self.n else 0.0

    def stat(self, kind: str) -> float | None:
        """``mean``, ``median`` or ``p90`` of the satisfying models' MACs (None if none)."""
        if not self.n_ok:
            return None
        if kind == "mean":
            return float(self.macs.mean())
        return float(np.percentile(self.macs, {"median": 50, "p90": 90}[kind]))

    def summary(self) -> dict[str, Any]:
        """JSON-ready row (no per-model data)."""
        return {"label": self.label, "space": self.space, "params": self.params, "n": self.n,
                "n_ok": self.n_ok, "fraction": self.fraction, "eligible": self.eligible,
                "mean_macs": self.stat("mean"), "median_macs": self.stat("median"),
                "p90_macs": self.stat("p90"), **self._latency_stats()}

    def _latency_stats(self) -> dict[str, float | None]:
        if self.latency_ms is None:
            return {}
        lat = self.latency_ms
        have = len(lat) > 0
        return {"median_latency_ms": float(np.percentile(lat, 50)) if have else None,
                "p90_latency_ms": float(np.percentile(lat, 90)) if have else None}


@dataclass(frozen=True)
class FlopsStudy:
    """The FLOPs distributions of several spaces under constraints, and TinyNAS's pick."""

    spaces: tuple[SpaceFlops, ...]
    constraints: tuple[str, ...]
    samples: int
    seed: int
    min_count: int
    pick: str | None
    reason: str
    seconds: float
    #: How peak SRAM and flash were counted (``mcunet`` or ``tinyengine``).
    memory_model: str = "mcunet"
    #: The device whose latency table predicted ``latency_ms`` (None: no latency).
    device: str | None = None

    def __getitem__(self, label: str) -> SpaceFlops:
        for s in self.spaces:
            if s.label == label:
                return s
        raise KeyError(label)

    def ranking(self) -> list[SpaceFlops]:
        """Eligible spaces by decreasing mean MACs (ties: larger satisfying share first)."""
        ok = [s for s in self.spaces if s.eligible]
        return sorted(ok, key=lambda s: (-(s.stat("mean") or 0.0), -s.fraction))

    def to_dict(self, macs: bool = False) -> dict[str, Any]:
        """JSON form; with ``macs`` each space also lists its satisfying models' sorted MACs."""
        rows = []
        for s in self.spaces:
            row = s.summary()
            if macs:
                row["macs"] = s.macs.tolist()
            rows.append(row)
        return {"constraints": list(self.constraints), "samples": self.samples, "seed": self.seed,
                "min_count": self.min_count, "pick": self.pick, "reason": self.reason,
                "seconds": round(self.seconds, 3), "memory_model": self.memory_model,
                **({"device": self.device} if self.device else {}), "spaces": rows}


def flops_distribution(spaces: Sequence[Space] | Mapping[str, Space],
                       constraints: Constraints, samples: int = 1000, seed: int = 0,
                       min_count: int = 20, memory_model: str = "mcunet",
                       device: str | None = None) -> FlopsStudy:
    """Sample ``samples`` models from each space, keep those satisfying every constraint, and
    pick the space whose kept models have the highest mean MACs (TinyNAS's rule).

    ``spaces`` is a list (e.g. ``MCUNetSpace.family()``, labelled ``w0.5-r144`` for members
    with a width and a resolution, else by ``space.label``) or a mapping label -> space;
    ``constraints`` are strings such as ``"peak_sram<=320kB"`` or parsed constraints;
    ``memory_model`` (``mcunet`` or ``tinyengine``) says how peak SRAM and flash are counted.
    ``device`` names a latency table (``archspace latency calibrate``): each sampled model's
    latency is predicted, ``latency@DEVICE`` constraints read it, and each space reports its
    satisfying models' latency distribution (``median_latency_ms``, ``p90_latency_ms``).
    """
    check_memory_model(memory_model)
    check_int(samples, "samples", 1, MAX_PROFILED)
    check_int(min_count, "min_count", 1, MAX_PROFILED)
    check_seed(seed)
    labelled = dict(spaces) if isinstance(spaces, Mapping) else _labelled(spaces)
    if not labelled:
        raise ArchspaceError("no spaces to compare; give at least one")
    parsed = as_constraints(constraints)
    for c in parsed:
        if c.memory_model not in ("mcunet", memory_model):
            raise ArchspaceError(f"constraint {c} reads the {c.memory_model} memory model but "
                                 f"the analysis uses {memory_model}; give memory_model="
                                 f"{c.memory_model!r} (--memory-model {c.memory_model})")
    wanted = latency_device(parsed, device)
    if wanted is not None and device is None:
        raise ArchspaceError(f"constraint latency@{wanted} needs the analysis to predict latency; "
                             f"give device={wanted!r} (--device {wanted})")
    table = load_table(device) if device is not None else None
    t0 = time.perf_counter()
    rows = []
    cache = SegmentCache()
    for label, space in labelled.items():
        costs = sample_costs(space, samples, derived_seed(seed, label), cache, memory_model, table)
        arrays = costs.as_dict()
        arrays.update({f"{k}@{memory_model}": arrays[k] for k in ("peak_sram_bytes", "flash_bytes")})
        ok = satisfied(parsed, arrays)
        macs = np.sort(costs.macs[ok])
        lat = None if costs.latency_ms is None else np.sort(costs.latency_ms[ok])
        rows.append(SpaceFlops(label, space.label, dict(space.params), samples, int(ok.sum()),
                               int(ok.sum()) >= min_count, macs, lat))
    seconds = time.perf_counter() - t0
    pick, reason = _pick(rows, [str(c) for c in parsed], min_count)
    return FlopsStudy(tuple(rows), tuple(str(c) for c in parsed), samples, seed, min_count, pick,
                      reason, seconds, memory_model, device)


def _labelled(spaces: Sequence[Space]) -> dict[str, Space]:
    """Family members by ``w0.5-r144`` labels when those are unique, else by ``space.label``."""
    short = [_family_label(s) for s in spaces]
    if len(set(short)) == len(short):
        return dict(zip(short, spaces, strict=True))
    full = {s.label: s for s in spaces}
    if len(full) != len(spaces):
        raise ArchspaceError("two of the spaces have the same label; pass a mapping "
                             "label -> space")
    return full


def _pick(rows: list[SpaceFlops], constraints: list[str], min_count: int) -> tuple[str | None, str]:
    under = " and ".join(constraints) or "no constraints"
    ok = sorted((s for s in rows if s.eligible), key=lambda s: (-(s.stat("mean") or 0.0),
                                                               -s.fraction))
    if not ok:
        best = max(rows, key=lambda s: s.n_ok)
        return None, (f"no space has at least {min_count} of its sampled models satisfying "
                      f"{under} (most: {best.label}, {best.n_ok}/{best.n}); relax the "
                      "constraints, sample more, or lower min_count")
    top = ok[0]
    reason = (f"{top.label}: the highest mean MACs of models satisfying {under} "
              f"({_m(top.stat('mean'))}, {top.n_ok}/{top.n} satisfying)")
    if len(ok) > 1:
        reason += f"; runner-up {ok[1].label} ({_m(ok[1].stat('mean'))})"
    skipped = len(rows) - len(ok)
    if skipped:
        reason += f"; {skipped} space(s) had fewer than {min_count} satisfying models"
    return top.label, reason


def _m(x: float | None) -> str:
    return "-" if x is None else f"{x / 1e6:.1f}M MACs"
