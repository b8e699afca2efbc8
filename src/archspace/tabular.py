"""The NAS-Bench-201 table shipped with archspace (no torch).

NAS-Bench-201 (Dong & Yang, "NAS-Bench-201: Extending the Scope of Reproducible Neural
Architecture Search", ICLR 2020), extended as the topology search space of NATS-Bench (Dong et
al., TPAMI 2021), trained all 15,625 cells of its space and published their accuracies (MIT
license; see ``data/NASBENCH201_LICENSE.md``). ``data/nasbench201.npz`` re-tabulates the means
of those accuracies, one row per benchmark id:

* ``arch``: the six op indices of each cell as one base-5 number (``uint16``); digit ``k``
  (most significant first) is the op on the ``k``-th edge of the benchmark string
  ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, numbered in :data:`NB201_OPS` order;
* ``columns``: the metric names, those of the CSV the file was built from;
* ``values``: every metric times :data:`SCALE` as ``int32`` (one row per metric). Every
  published value has at most four decimals, so ``values / SCALE`` gives back exactly the
  floats the CSV holds.

:func:`build_nb201_npz` rebuilds the file from the CSV (``index,arch,<metrics...>``).
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from archspace.errors import ArchError, ArchspaceError

__all__ = ["CELL_FORMAT", "NB201_OPS", "SCALE", "NB201Table", "build_nb201_npz", "decode_arch",
           "encode_arch", "load_nb201", "ops_to_str", "parse_cell"]

#: The benchmark's op names, in its own order (its search space ``NAS_BENCH_201``).
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: Metric values are stored as integers in units of 1/SCALE.
SCALE = 10_000
_EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (node, input) in string order
_FILE = "nasbench201.npz"
#: The benchmark's cell string, with ``op`` one of :data:`NB201_OPS`.
CELL_FORMAT = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"


def encode_arch(ops: Sequence[int]) -> int:
    """Base-5 code of the six edge ops (indices into :data:`NB201_OPS`, string order)."""
    code = 0
    for k in ops:
        code = code * len(NB201_OPS) + k
    return code


def decode_arch(code: int) -> tuple[int, ...]:
    """Inverse of :func:`encode_arch`."""
    out = []
    for _ in _EDGES:
        code, k = divmod(code, len(NB201_OPS))
        out.append(k)
    return tuple(reversed(out))


def ops_to_str(ops: Sequence[int]) -> str:
    """The benchmark string of a cell given its six op indices (string order)."""
    names = [f"{NB201_OPS[k]}~{j}" for k, (_, j) in zip(ops, _EDGES, strict=True)]
    return "|" + "|+|".join("|".join(names[a:b]) for a, b in ((0, 1), (1, 3), (3, 6))) + "|"


class NB201Table:
    """All 15,625 cells of NAS-Bench-201 and their published accuracies, by benchmark id."""

    def __init__(self, codes: npt.NDArray[np.uint16], columns: Sequence[str],
                 values: npt.NDArray[np.int32]) -> None:
        self._codes = codes
        self.columns: tuple[str, ...] = tuple(columns)
        self._values = values
        self._metrics: dict[str, npt.NDArray[np.float64]] = {}

    def __len__(self) -> int:
        return len(self._codes)

    @functools.cached_property
    def _id_of_code(self) -> npt.NDArray[np.int64]:
        ids = np.full(len(NB201_OPS) ** len(_EDGES), -1, dtype=np.int64)
        ids[self._codes] = np.arange(len(self._codes))
        return ids

    def _check_id(self, i: int) -> int:
        if not isinstance(i, int | np.integer) or not 0 <= i < len(self):
            raise ArchError(f"NAS-Bench-201 id {i!r} is out of range; allowed: 0..{len(self) - 1}")
        return int(i)

    def index_of(self, arch_str: str) -> int:
        """The benchmark id of a cell string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        return self.id_of_ops(parse_cell(arch_str))

    def id_of_ops(self, ops: Sequence[int]) -> int:
        """The benchmark id of the cell with these six op indices (string order)."""
        i = int(self._id_of_code[encode_arch(ops)])
        if i < 0:  # only with a table that lacks some cells
            raise ArchError(f"cell {ops_to_str(ops)} is not in the NAS-Bench-201 table")
        return i

    def arch_str(self, i: int) -> str:
        """The cell string of benchmark id ``i``."""
        return ops_to_str(self.ops(i))

    def ops(self, i: int) -> tuple[int, ...]:
        """The six op indices (string order) of benchmark id ``i``."""
        return decode_arch(int(self._codes[self._check_id(i)]))

    def metric(self, col: str) -> npt.NDArray[np.float64]:
        """Values of metric ``col`` indexed by benchmark id (a read-only array)."""
        if col not in self._metrics:
            if col not in self.columns:
                raise ArchspaceError(f"NAS-Bench-201 has no metric {col!r}; metrics: "
                                     f"{', '.join(self.columns)}")
            arr = self._values[self.columns.index(col)] / SCALE
            arr.flags.writeable = False
            self._metrics[col] = arr
        return self._metrics[col]

    def row(self, i: int) -> dict[str, float]:
        """Every metric of benchmark id ``i``."""
        i = self._check_id(i)
        return {c: float(self._values[k, i]) / SCALE for k, c in enumerate(self.columns)}


def _read(path: Any) -> NB201Table:
    with np.load(path, allow_pickle=False) as z:
        return NB201Table(z["arch"], [str(c) for c in z["columns"]], z["values"])


@functools.cache
def load_nb201() -> NB201Table:
    """The shipped NAS-Bench-201 table (loaded once, then cached)."""
    with resources.as_file(resources.files("archspace") / "data" / _FILE) as path:
        return _read(path)


def parse_cell(text: str) -> tuple[int, ...]:
    """The six op indices (string order) of a benchmark cell string; :class:`ArchError` names
    what is wrong with a malformed one."""
    hint = f"expected {CELL_FORMAT} with op in {', '.join(NB201_OPS)}"
    groups = text.strip().split("+")
    if len(groups) != 3:
        raise ArchError(f"NAS-Bench-201 cell {text!r} has {len(groups)} node(s) separated by "
                        f"'+', not 3; {hint}")
    ops: list[int] = []
    for i, grp in enumerate(groups, 1):
        if len(grp) < 2 or grp[0] != "|" or grp[-1] != "|":
            raise ArchError(f"node {i} of NAS-Bench-201 cell {text!r} is {grp!r}, not enclosed "
                            f"in '|'; {hint}")
        edges = grp[1:-1].split("|")
        if len(edges) != i:
            raise ArchError(f"node {i} of NAS-Bench-201 cell {text!r} has {len(edges)} edge(s), "
                            f"not {i}; {hint}")
        for j, tok in enumerate(edges):
            op, sep, src = tok.partition("~")
            if op not in NB201_OPS:
                raise ArchError(f"unknown op {op!r} on edge {j}->{i} of NAS-Bench-201 cell "
                                f"{text!r}; allowed ops: {', '.join(NB201_OPS)}")
            if not sep or src != str(j):
                raise ArchError(f"edge {tok!r} of node {i} in NAS-Bench-201 cell {text!r} must "
                                f"read {op}~{j}; {hint}")
            ops.append(NB201_OPS.index(op))
    return tuple(ops)


def build_nb201_npz(csv_path: str | Path, out_path: str | Path) -> None:
    """Write the compact table from the benchmark CSV (``index,arch,<metric columns>``)."""
    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    if header[:2] != ["index", "arch"]:
        raise ArchspaceError(f"{csv_path}: expected columns index,arch,...; got {header[:2]}")
    if [int(r[0]) for r in rows] != list(range(len(rows))):
        raise ArchspaceError(f"{csv_path}: rows must be sorted by index 0..{len(rows) - 1}")
    codes = np.array([encode_arch(parse_cell(r[1])) for r in rows], dtype=np.uint16)
    values = np.array([[round(float(v) * SCALE) for v in r[2:]] for r in rows], dtype=np.int64).T
    for k, col in enumerate(header[2:]):
        back = values[k] / SCALE
        if any(float(r[2 + k]) != b for r, b in zip(rows, back, strict=True)):
            raise ArchspaceError(f"{csv_path}: column {col} has more than 4 decimals")
    np.savez_compressed(out_path, arch=codes, columns=np.array(header[2:]),
                        values=values.astype(np.int32))
