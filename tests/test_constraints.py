"""Constraint parsing: units, operators, and one-line errors for malformed input."""

from __future__ import annotations

import pytest

from archspace import ArchspaceError
from archspace.study.constraints import (
    ConstraintError,
    parse_constraint,
    parse_constraints,
    violated,
)


@pytest.mark.parametrize(("text", "metric", "op", "limit"), [
    ("peak_sram<=320kB", "peak_sram", "<=", 320_000),
    ("peak_sram <= 320KiB", "peak_sram", "<=", 320 * 1024),
    ("peak_sram<320KB", "peak_sram", "<", 320_000),
    ("flash<=1MB", "flash", "<=", 1_000_000),
    ("flash<=1MiB", "flash", "<=", 1024 * 1024),
    ("flash<=2GiB", "flash", "<=", 2 * 1024**3),
    ("flash<=512B", "flash", "<=", 512),
    ("macs<=60M", "macs", "<=", 60_000_000),
    ("macs>=1.5G", "macs", ">=", 1_500_000_000),
    ("params<1.5M", "params", "<", 1_500_000),
    ("params>250k", "params", ">", 250_000),
    ("params<=1e6", "params", "<=", 1_000_000),
    ("macs<.5M", "macs", "<", 500_000),
    ("params<=1000", "params", "<=", 1000),
])
def test_valid_constraints(text: str, metric: str, op: str, limit: float) -> None:
    c = parse_constraint(text)
    assert (c.metric, c.op) == (metric, op)
    assert c.limit == pytest.approx(limit)


@pytest.mark.parametrize(("text", "needle"), [
    ("latency<=5ms", "latency needs a device"),
    ("sram<=320kB", "unknown metric 'sram'"),
    ("macs<=60MB", "unknown unit 'MB' for macs"),
    ("peak_sram<=320M", "unknown unit 'M' for peak_sram"),
    ("flash<=1mb", "unknown unit 'mb'"),
    ("macs=60M", "malformed constraint"),
    ("macs<=", "malformed constraint"),
    ("macs<=-5M", "malformed constraint"),
    ("macs<=__import__('os')", "malformed constraint"),
    ("", "malformed constraint"),
    ("<=5", "malformed constraint"),
    ("macs<=5M;params<=1M", "malformed constraint"),
])
def test_malformed_constraints_name_the_problem(text: str, needle: str) -> None:
    with pytest.raises(ConstraintError, match=needle) as info:
        parse_constraint(text)
    msg = str(info.value)
    assert isinstance(info.value, ArchspaceError) and "\n" not in msg
    assert "peak_sram" in msg or "unit" in msg or "--device" in msg  # says what is allowed


def test_units_listed_for_bad_unit() -> None:
    with pytest.raises(ConstraintError, match="KiB") as info:
        parse_constraint("flash<=3XB")
    assert "kB" in str(info.value)


def test_several_and_checking() -> None:
    cs = parse_constraints(["macs<=60M,params<1.5M", "peak_sram<=320kB"])
    assert [c.metric for c in cs] == ["macs", "params", "peak_sram"]
    cost = {"macs": 60e6, "params": 1.5e6, "peak_sram_bytes": 100_000, "flash_bytes": 0}
    assert [c.text for c in violated(cs, cost)] == ["params<1.5M"]
    assert violated(cs, {**cost, "params": 1_499_999}) == []
    assert violated(parse_constraints(["flash>1kB"]), cost)[0].key == "flash_bytes"
