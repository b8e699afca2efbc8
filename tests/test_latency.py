"""Latency: layer signatures, the lookup-table predictor, calibration, and the CLI's latency
paths (profile --device/--latency, latency constraints, bad input). No timed asserts: measured
values are only checked to be positive numbers."""

from __future__ import annotations

import json
import random
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from archspace.cli import cli
from archspace.cost.latency_calibrate import CalibrationSettings, calibrate
from archspace.cost.latency_measure import layer_graph, machine_fingerprint, time_call
from archspace.cost.latency_store import devices, load_table, save_table
from archspace.cost.latency_table import (
    LatencyError,
    LatencyTable,
    Overhead,
    fit_fallback,
    fit_overhead,
    layer_class,
    node_signature,
    signature_key,
)
from archspace.ir.graph import Graph
from archspace.spaces import get_space
from archspace.study.constraints import ConstraintError, parse_constraint, with_device
from archspace.study.objectives import ObjectiveError, Objectives, parse_reward

TINY = "nb201:C=4:N=1"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder holding one table ``tiny``, calibrated on nb201 C=4 N=1 with few repeats."""
    root = tmp_path_factory.mktemp("latency-data")
    mp = pytest.MonkeyPatch()
    mp.setenv("ARCHSPACE_DATA_DIR", str(root))
    try:
        space = get_space("nb201", C=4, N=1)
        table = calibrate("tiny", [space], CalibrationSettings(archs=3, networks=3, warmup=0,
                                                                layer_repeats=1,
                                                                network_repeats=1))
        save_table(table)
    finally:
        mp.undo()
    return root


@pytest.fixture(autouse=True)
def _data_env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHSPACE_DATA_DIR", str(data_dir))


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def bad(*args: str) -> str:
    res = run(*args)
    assert res.exit_code == 2, (res.output, res.exception)
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("archspace: error: "), res.stderr
    assert "Traceback" not in res.output
    return lines[0]


def _same_table(table: LatencyTable, fast_parts: bool = True) -> LatencyTable:
    """A new table with ``table``'s latencies, overhead and fallback (none of its caches);
    ``fast_parts=False``: the lowering reference the fast paths are compared with."""
    copy = LatencyTable(table.device, table.layers, table.overhead, table.fallback)
    copy.fast_parts = fast_parts
    return copy


# -- signatures --------------------------------------------------------------------------
def _conv_graph(stride: int = 1, groups: int = 1) -> Graph:
    g = Graph()
    x = g.input((8, 16, 16))
    g.conv(x, 8, 3, stride=stride, groups=groups)
    return g


def test_signature_holds_op_shapes_and_attributes() -> None:
    g = _conv_graph()
    sig = node_signature(g.nodes[1], g.nodes)
    assert sig == ("conv", ((8, 16, 16),), (8, 16, 16), ((3, 3), 1, (1, 1), 1, 1, False))
    assert signature_key(sig) == "conv|8x16x16|8x16x16|3x3,1,1x1,1,1,0"
    s2 = node_signature(_conv_graph(stride=2).nodes[1], _conv_graph(stride=2).nodes)
    assert s2 != sig and signature_key(s2) != signature_key(sig)
    assert layer_class(sig) == "conv_kxk"
    dw = _conv_graph(groups=8)
    assert layer_class(node_signature(dw.nodes[1], dw.nodes)) == "conv_dw"


def test_same_layer_in_two_networks_has_one_signature() -> None:
    space = get_space("mobilenetv2", resolution=32)
    a, b = space.lower(space.sample(1)), space.lower(space.sample(2))
    sa = {node_signature(n, a.nodes) for n in a.nodes}
    sb = {node_signature(n, b.nodes) for n in b.nodes}
    assert sa & sb  # the fixed stem and head are shared


def test_layer_graph_is_the_layer_alone() -> None:
    g = Graph()
    x = g.input((4, 8, 8))
    y = g.relu(x)
    z = g.add(x, y)
    lg = layer_graph(z, g.nodes)
    assert [n.op for n in lg.nodes] == ["input", "input", "add"]
    assert node_signature(lg.nodes[-1], lg.nodes) == node_signature(z, g.nodes)


# -- the predictor -----------------------------------------------------------------------
def _table_for(graphs: list[Graph], ms: float = 0.5) -> LatencyTable:
    layers = {signature_key(node_signature(n, g.nodes)): ms
              for g in graphs for n in g.nodes if n.op != "input"}
    return LatencyTable("t", layers)


def test_prediction_is_the_sum_of_layers_with_the_overhead() -> None:
    space = get_space("mobilenetv2", resolution=32)
    g = space.lower(space.sample(0))
    n = sum(node.op != "input" for node in g.nodes)
    table = _table_for([g])
    assert table.predict_graph(g) == pytest.approx(0.5 * n)
    table.overhead = Overhead(2.0, 0.01, 1.0)
    assert table.predict_graph(g) == pytest.approx(2.0 * 0.5 * n + 0.01 * n + 1.0)
    assert table.misses == 0 and table.hits > 0


@pytest.mark.parametrize("name,params", [("mobilenetv2", {"resolution": 32}),
                                         ("nb201", {"C": 4, "N": 1}),
                                         ("darts", {"C": 4, "layers": 2}),
                                         ("nasnet", {"channels": 4, "cells": 1})])
def test_fast_paths_equal_the_full_graph(name: str, params: dict[str, int]) -> None:
    """Chain spaces block by block, segment spaces by template: the same number as summing
    the whole IR."""
    space = get_space(name, **params)
    rng = random.Random(0)
    archs = [space.sample(rng) for _ in range(5)]
    table = _table_for([space.lower(a) for a in archs[:2]], 0.25)
    table.fallback = {"conv_kxk": (0.1, 1e-6, 0.0, 0.0), "conv_1x1": (0.05, 1e-6, 0.0, 0.0)}
    table.overhead = Overhead(1.1, 0.002, 0.3)
    for a in archs:
        full = _same_table(table)
        assert table.predict(space, a) == full.predict_graph(space.lower(a))


def _irregular_table(graphs: list[Graph]) -> LatencyTable:
    """A table whose layers have unequal latencies (so the order of a sum shows in its last
    bits), with fallbacks for the layers it lacks and an overhead."""
    keys = {signature_key(node_signature(n, g.nodes)) for g in graphs for n in g.nodes
            if n.op != "input"}
    layers = {k: 0.01 + zlib.crc32(k.encode()) % 9973 / 997.0 for k in sorted(keys)[::2]}
    fallback = {c: (0.013, 1.7e-6, 3.1e-5, 0.0) for c in
                ("conv_kxk", "conv_1x1", "conv_dw", "conv_group", "add", "avgpool", "zero",
                 "identity", "relu", "bn", "concat", "maxpool")}
    return LatencyTable("t", layers, Overhead(1.13, 0.0021, 0.37), fallback)


@pytest.mark.parametrize("params", [{}, {"C": 8, "N": 2, "resolution": 16},
                                    {"C": 4, "N": 1, "num_classes": 3}])
def test_nb201_cells_from_parts_equal_the_lowered_cells(params: dict[str, int]) -> None:
    """A cell predicted from its edge ops and sums (``latency_parts``) gives exactly (==, not
    approximately) the number of lowering the cell, for sampled archs, fresh and repeated."""
    space = get_space("nb201", **params)
    rng = random.Random(7)
    archs = [space.sample(rng) for _ in range(40)]
    table = _irregular_table([space.lower(a) for a in archs[:2]])
    ref = _same_table(table, fast_parts=False)
    for a in archs + archs[:5]:
        assert table.predict(space, a) == ref.predict(space, a)
    assert table._parts and not ref._parts  # the fast path was taken, the reference lowered
    assert table.misses > 0  # the fallback path was exercised too


@pytest.mark.parametrize("name,params", [
    ("darts", {}), ("darts", {"C": 8, "layers": 5, "resolution": 20}),
    ("nasnet", {}), ("nasnet", {"B": 3, "cells": 2, "channels": 8, "resolution": 24}),
    ("nasnet", {"M": 4, "N": 1, "B": 2})])
def test_cell_spaces_from_pieces_equal_the_lowered_network(name: str,
                                                           params: dict[str, int]) -> None:
    """``latency_terms`` (each op, sum and concatenation looked up, not lowered) gives exactly
    (==) the number of lowering the arch into a SegmentGraph, for sampled archs."""
    space = get_space(name, **params)
    rng = random.Random(11)
    archs = [space.sample(rng) for _ in range(40)]
    table = _irregular_table([space.lower(a) for a in archs[:2]])
    ref = _same_table(table, fast_parts=False)
    for a in archs:
        assert table.predict(space, a) == ref.predict(space, a)
    assert table._calls and not ref._calls


def test_restricted_space_does_not_reuse_the_parents_predictions() -> None:
    space = get_space("nb201", C=4, N=1)
    table = _irregular_table([space.lower(space.sample(0))])
    arch = space.make({name: "none" for name in space.names})
    table.predict(space, arch)
    sub = space.restrict({"*": ["nor_conv_3x3"]})
    with pytest.raises(Exception, match="none"):
        table.predict(sub, arch)


def test_missing_layer_uses_its_class_model() -> None:
    rows = [("conv_1x1", (m, 0.0, 0.0), 0.01 + 2e-7 * m) for m in (1e4, 1e5, 1e6)]
    fb = fit_fallback(rows)
    assert fb["conv_1x1"][0] == pytest.approx(0.01)
    assert fb["conv_1x1"][1] == pytest.approx(2e-7)
    g = _conv_graph()
    table = LatencyTable("t", {"unrelated": 1.0}, fallback={"conv_kxk": (0.02, 1e-7, 0.0, 0.0)})
    macs = 8 * 8 * 9 * 16 * 16
    assert table.predict_graph(g) == pytest.approx(0.02 + 1e-7 * macs)
    assert table.misses == 1


def test_overhead_fit_recovers_a_linear_overhead() -> None:
    rng = np.random.default_rng(0)
    sums = rng.uniform(1, 20, 12)
    counts = rng.integers(50, 300, 12)
    measured = 1.2 * sums + 0.01 * counts + 0.5
    ov, form = fit_overhead(sums.tolist(), counts.tolist(), measured.tolist())
    assert form == "linear"
    assert (ov.a, ov.b, ov.c) == pytest.approx((1.2, 0.01, 0.5), rel=1e-6)
    ov, form = fit_overhead([1.0, 2.0, 3.0], [10, 10, 10], [1.0, 2.0, 3.0])
    assert form == "sum" and ov(2.0, 10) == pytest.approx(2.0)


def test_time_call_reports_a_median_and_quartiles() -> None:
    t = time_call(lambda: sum(range(100)), warmup=1, repeats=5, clock="thread")
    assert t.repeats == 5 and 0 < t.q1_ms <= t.median_ms <= t.q3_ms


# -- the stored table --------------------------------------------------------------------
def test_calibrated_table_round_trips(data_dir: Path) -> None:
    assert devices() == ["tiny"]
    table = load_table("tiny")
    assert table.layers and all(v >= 0 for v in table.layers.values())
    assert table.fingerprint == machine_fingerprint()
    assert {"torch_version", "threads", "clock", "overhead_form"} <= set(table.meta)
    again = LatencyTable.from_json(json.loads(json.dumps(table.to_json())), "x")
    assert again.layers == table.layers and again.overhead == table.overhead
    space = get_space("nb201", C=4, N=1)
    assert table.predict(space, space.sample(3)) > 0


def _write(data_dir: Path, name: str, obj: object) -> None:
    (data_dir / "latency" / f"{name}.json").write_text(
        obj if isinstance(obj, str) else json.dumps(obj))


@pytest.fixture
def tiny_json(data_dir: Path) -> dict[str, object]:
    return json.loads((data_dir / "latency" / "tiny.json").read_text())


def test_damaged_tables_are_refused(data_dir: Path, tiny_json: dict[str, object]) -> None:
    cases = {
        "notjson": "{not json",
        "wrongkind": {"kind": "something else"},
        "schema": {**tiny_json, "device": "schema", "schema": 99},
        "badlayer": {**tiny_json, "device": "badlayer", "layers": {"conv|x": "fast"}},
        "nolayers": {**tiny_json, "device": "nolayers", "layers": {}},
        "badoverhead": {**tiny_json, "device": "badoverhead", "overhead": {"a": 1}},
    }
    try:
        for name, obj in cases.items():
            _write(data_dir, name, obj)
            with pytest.raises(LatencyError, match="damaged"):
                load_table(name)
            line = bad("profile", "nb201", "-p", "C=4", "-p", "N=1", "--sample", "1",
                       "--device", name)
            assert "damaged" in line and name in line
    finally:
        for name in cases:
            (data_dir / "latency" / f"{name}.json").unlink()


def test_table_of_another_device_or_machine_is_refused(data_dir: Path,
                                                       tiny_json: dict[str, object]) -> None:
    try:
        _write(data_dir, "copy", tiny_json)  # a file named copy.json holding device 'tiny'
        line = bad("profile", "nb201", "--sample", "1", "--device", "copy")
        assert "calibrated for device 'tiny'" in line
        _write(data_dir, "other", {**tiny_json, "device": "other", "fingerprint": "0" * 16})
        line = bad("profile", "nb201", "--sample", "1", "--device", "other")
        assert "another machine" in line and "recalibrate" in line
    finally:
        for name in ("copy", "other"):
            (data_dir / "latency" / f"{name}.json").unlink()


# -- the CLI -------------------------------------------------------------------------------
def test_profile_with_device_adds_latency_ms() -> None:
    res = run("profile", "nb201", "-p", "C=4", "-p", "N=1", "--sample", "2", "--seed", "0",
              "--device", "tiny", "--json")
    assert res.exit_code == 0, res.output
    recs = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(recs) == 2 and all(r["latency_ms"] > 0 and r["latency_device"] == "tiny"
                                  for r in recs)


def test_profile_latency_measures_the_network() -> None:
    res = run("profile", "nb201", "-p", "C=4", "-p", "N=1", "--sample", "1", "--seed", "0",
              "--device", "tiny", "--latency", "--repeats", "2", "--no-onnx", "--json")
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)
    m = rec["latency"]
    assert rec["latency_ms"] == pytest.approx(m["torch"]["median_ms"], rel=1e-3)
    assert rec["predicted_latency_ms"] > 0
    assert m["threads"] == 1 and m["onnxruntime"] is None
    assert m["torch"]["iqr_ms"] >= 0 and m["torch"]["noise_floor"] >= 0


def test_calibrate_cli_writes_a_table(data_dir: Path) -> None:
    try:
        res = run("latency", "calibrate", "--device", "cli-made", "--space", TINY, "--archs", "2",
                  "--networks", "2", "--repeats", "1", "--warmup", "0", "--json")
        assert res.exit_code == 0, res.output
        summary = json.loads(res.stdout)
        assert summary["device"] == "cli-made" and summary["layers"] > 0
        assert "cli-made" in run("latency", "devices").stdout
        line = bad("latency", "calibrate", "--device", "cli-made", "--space", TINY)
        assert "--force" in line
    finally:
        (data_dir / "latency" / "cli-made.json").unlink(missing_ok=True)


def test_latency_constraints_parse() -> None:
    c = parse_constraint("latency@tiny<=12ms")
    assert (c.metric, c.device, c.limit, c.key) == ("latency", "tiny", 12.0, "latency_ms")
    assert parse_constraint("latency@tiny<0.5s").limit == 500.0
    assert with_device(["latency<=12ms,macs<=3M"], "tiny") == ("latency@tiny<=12ms", "macs<=3M")
    with pytest.raises(ConstraintError, match="needs a device"):
        parse_constraint("latency<=12ms")
    with pytest.raises(ConstraintError, match="unknown unit 'kB' for latency"):
        parse_constraint("latency@tiny<=12kB")
    r = parse_reward("latency@tiny:10ms:-0.07")
    assert (r.metric, r.device, r.target) == ("latency", "tiny", 10.0)
    assert r(0.8, {"latency_ms": 20.0}) == pytest.approx(0.8 * 2 ** -0.07)
    with pytest.raises(ObjectiveError, match="needs a device"):
        Objectives.build("acc", ["accuracy", "latency"])


def test_search_with_a_latency_constraint_records_latency(tmp_path: Path) -> None:
    study = tmp_path / "s.db"
    res = run("search", "--space", "nb201", "--estimator", "nasbench201", "--strategy", "random",
              "--budget", "3", "--study", str(study), "--device", "tiny", "-c", "latency<=10s",
              "-o", "accuracy", "-o", "latency", "--no-progress", "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["best"]["cost"]["latency_ms"] > 0
    assert summary["objectives"][1].startswith("-latency")


@pytest.mark.parametrize("args,needle", [
    (("profile", "nb201", "--sample", "1", "--device", "nope"), "unknown device 'nope'"),
    (("profile", "nb201", "--sample", "1", "--device", "../x"), "bad device name"),
    (("search", "--space", "nb201", "--estimator", "nasbench201", "--strategy", "random",
      "--budget", "2", "--study", "{tmp}/a.db", "-c", "latency<=12ms"), "needs a device"),
    (("search", "--space", "nb201", "--estimator", "nasbench201", "--strategy", "random",
      "--budget", "2", "--study", "{tmp}/a.db", "--device", "nope", "-c", "latency<=12ms"),
     "unknown device 'nope'"),
    (("search", "--space", "nb201", "--estimator", "nasbench201", "--strategy", "random",
      "--budget", "2", "--study", "{tmp}/a.db", "-o", "accuracy", "-o", "latency"),
     "needs a device"),
    (("search", "--space", "nb201", "--estimator", "nasbench201", "--strategy", "random",
      "--budget", "2", "--study", "{tmp}/a.db", "--reward", "latency:10ms:-0.07"),
     "needs a device"),
    (("analyze", "flops", "--space", "nb201", "--samples", "5", "--constraint",
      "latency<=12ms", "-o", "{tmp}/out"), "needs a device"),
    (("analyze", "flops", "--space", "nb201", "--samples", "5", "--device", "nope",
      "-o", "{tmp}/out"), "unknown device"),
])
def test_bad_latency_input_is_one_line(args: tuple[str, ...], needle: str, tmp_path: Path) -> None:
    line = bad(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert needle in line
    if "unknown device" in needle:
        assert "calibrated: tiny" in line
    assert not (tmp_path / "a.db").exists()


def test_analyze_flops_with_a_device_reports_latency(tmp_path: Path) -> None:
    res = run("analyze", "flops", "--space", "nb201", "-p", "N=1", "--grid", "C=4,8",
              "--samples", "10", "--min-count", "1", "--device", "tiny", "--constraint",
              "latency<=10s", "-o", str(tmp_path / "out"), "--json")
    assert res.exit_code == 0, res.output
    study = json.loads(res.stdout)
    assert study["device"] == "tiny" and study["constraints"] == ["latency@tiny<=10s"]
    for row in study["spaces"]:
        assert row["n_ok"] == 10 and 0 < row["median_latency_ms"] <= row["p90_latency_ms"]


@settings(max_examples=60, deadline=None)
@given(field=st.sampled_from(["schema", "kind", "device", "layers", "overhead", "fallback",
                              "fingerprint", "machine", "meta"]),
       value=st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                          max_leaves=6))
def test_any_damaged_field_is_a_latency_error_or_a_table(field: str, value: object) -> None:
    table = LatencyTable("t", {"conv|1x2x2|1x2x2|1x1,1,0x0,1,1,0": 0.1},
                         fallback={"conv_1x1": (0.0, 1e-6, 0.0, 0.0)}, fingerprint="f")
    obj = {**table.to_json(), field: value}
    try:
        loaded = LatencyTable.from_json(obj, "x")
    except LatencyError as e:
        assert "damaged" in str(e) and "\n" not in str(e)
    else:
        assert loaded.layers and loaded.device


def test_cell_caches_are_not_reused_across_tables_params_or_shapes() -> None:
    """One table predicting nasnet at two widths and two resolutions, and darts, then a second
    table with other latencies on the same spaces: every prediction equals (==) a fresh
    lowering reference, so no block sum cached for one table, width or input shape is used for
    another."""
    spaces = [get_space("nasnet", channels=4, cells=1), get_space("nasnet", channels=8, cells=2),
              get_space("darts", C=4, layers=3)]
    rng = random.Random(5)
    archs = [[sp.sample(rng) for _ in range(12)] for sp in spaces]
    graphs = [sp.lower(a[0]) for sp, a in zip(spaces, archs, strict=True)]
    first = _irregular_table(graphs)
    second = _irregular_table(graphs)
    second.layers = {k: v * 1.37 + 0.011 for k, v in second.layers.items()}
    for table in (first, second):
        ref = _same_table(table, fast_parts=False)
        for r in (32, 24):
            for sp, aa in zip(spaces, archs, strict=True):
                for a in aa:
                    assert table.predict(sp, a, r) == ref.predict(sp, a, r)
        assert table._memos and not ref._memos
    assert first.predict(spaces[0], archs[0][0]) != second.predict(spaces[0], archs[0][0])


@pytest.mark.parametrize("name,params", [
    ("anynet", {}), ("anynet", {"variant": "E", "resolution": 64, "num_classes": 10}),
    ("regnet", {}), ("regnet", {"resolution": 96}),
    ("nasfpn", {}), ("nasfpn", {"head": "fcos", "stacks": 2, "cells": 6, "head_convs": 2,
                                "resolution": 128, "num_classes": 3}),
    ("trilevel", {}), ("trilevel", {"layers": 6, "nodes": 3, "scale": 3, "resolution": 16}),
    ("trilevel", {"nodes": 1, "levels": 1}),
    ("macro", {}), ("macro", {"layers": 12, "channels": 8}), ("macro", {"layers": 1}),
    ("autodeeplab", {}), ("autodeeplab", {"layers": 5, "filter_multiplier": 4,
                                          "block_multiplier": 2, "resolution": 64}),
    ("mnasnet", {}), ("mnasnet", {"base": "mobilenetv2", "resolution": 96, "num_classes": 7})])
def test_stage_spaces_from_pieces_equal_the_lowered_network(name: str,
                                                            params: dict[str, object]) -> None:
    """``latency_terms`` of the spaces that gained one for speed (block sums kept per input
    shape and parameters, built from looked-up pieces) gives exactly (==) the number of
    lowering the arch block by block and of summing its full IR, for sampled archs."""
    space = get_space(name, **params)
    rng = random.Random(13)
    archs = [space.sample(rng) for _ in range(30)]
    table = _irregular_table([space.lower(a) for a in archs[:2]])
    ref = _same_table(table, fast_parts=False)
    for a in archs + archs[:3]:
        assert table.predict(space, a) == ref.predict(space, a)
    for a in archs[:4]:
        full = _same_table(table)
        assert table.predict(space, a) == full.predict_graph(space.lower(a))
    assert table._calls and not ref._calls and table.misses > 0  # both paths taken


def test_stage_caches_are_not_reused_across_tables_spaces_or_shapes() -> None:
    """anynet and regnet share one X-block memo per table; nasfpn, trilevel and mnasnet keep
    theirs. Predicting each at two resolutions with one table, then with a second table of
    other latencies, every prediction equals (==) a fresh lowering reference."""
    spaces = [(get_space("anynet", variant="C", num_classes=10), (64, 96)),
              (get_space("regnet"), (64, 96)), (get_space("nasfpn", cells=5), (128, 256)),
              (get_space("trilevel"), (24, 16)), (get_space("mnasnet"), (64, 96))]
    rng = random.Random(17)
    archs = [[sp.sample(rng) for _ in range(8)] for sp, _ in spaces]
    graphs = [sp.lower(a[0], rs[0]) for (sp, rs), a in zip(spaces, archs, strict=True)]
    first = _irregular_table(graphs)
    second = _irregular_table(graphs)
    second.layers = {k: v * 1.37 + 0.011 for k, v in second.layers.items()}
    for table in (first, second):
        ref = _same_table(table, fast_parts=False)
        for k in (0, 1):
            for (sp, rs), aa in zip(spaces, archs, strict=True):
                for a in aa:
                    assert table.predict(sp, a, rs[k]) == ref.predict(sp, a, rs[k])
        assert len(table._memos) == 4 and not ref._memos
    assert first.predict(spaces[0][0], archs[0][0], 64) != second.predict(spaces[0][0],
                                                                         archs[0][0], 64)


def test_signature_keys_match_the_generic_format() -> None:
    """The table's remembered shape and attribute texts give the same keys as formatting each
    signature afresh, on every layer of sampled archs of several spaces."""
    def generic(v: object) -> str:
        if isinstance(v, bool):
            return str(int(v))
        if isinstance(v, tuple):
            return "x".join(generic(x) for x in v)
        return str(v)

    texts: tuple[dict[object, str], dict[object, str]] = ({}, {})
    for name in ("anynet", "nasnet", "mnasnet", "nasfpn"):
        space = get_space(name)
        g = space.lower(space.sample(1))
        for node in g.nodes:
            op, ins, out, attrs = sig = node_signature(node, g.nodes)
            want = "|".join((op, "+".join(generic(s) for s in ins), generic(out),
                             ",".join(generic(a) for a in attrs)))
            assert signature_key(sig) == want == signature_key(sig, texts)


def test_a_subclass_that_builds_another_network_is_not_predicted_from_the_parents_terms() -> None:
    """A subclass of a space with ``latency_terms`` that overrides how the network is built
    (here: an extra block before the head) is predicted from its own network, not from the
    parent's pieces."""
    from archspace.ir.blocks import ConvBNAct
    from archspace.spaces.anynet import AnyNetSpace

    class Extra(AnyNetSpace):
        def named_blocks(self, arch, resolution):  # type: ignore[no-untyped-def]
            *body, head = super().named_blocks(arch, resolution)
            return [*body, ("extra", ConvBNAct(64, 1, 1, "relu")), head]

        def blocks(self, arch, resolution):  # type: ignore[no-untyped-def]
            return [b for _, b in self.named_blocks(arch, resolution)]

    parent, child = AnyNetSpace(num_classes=10), Extra(num_classes=10)
    arch = parent.sample(3)
    table = _irregular_table([child.lower(arch, 64)])
    ref = _same_table(table, fast_parts=False)
    assert table.predict(child, arch, 64) == ref.predict(child, arch, 64)
    assert not table._calls  # the parent's pieces were not used
    assert table.predict(parent, arch, 64) != table.predict(child, arch, 64)
    assert table._calls


@pytest.mark.parametrize(("name", "params", "resolutions"), [
    ("anynet", {}, (224, 37)), ("anynet", {"variant": "E", "num_classes": 10}, (32, 65)),
    ("anynet", {"variant": "C", "max_width": 64, "stages": 6}, (32, 51)),
    ("regnet", {}, (224, 45)), ("regnet", {"stages": 0, "num_classes": 3}, (33, 96))])
def test_xblocks_from_signatures_equal_the_lowered_network(
        name: str, params: dict[str, object], resolutions: tuple[int, int]) -> None:
    """anynet and regnet write an X block's layer signatures without the IR: on many sampled
    archs at even and odd resolutions (odd stage sizes, spatial sizes down to 1), with a table
    that holds some of their layers and falls back for the others, the prediction equals (==)
    the lowering reference, and no block was lowered (the only pieces are stems and heads)."""
    from archspace.spaces.anynet import _block_part

    space = get_space(name, **params)
    rng = random.Random(29)
    archs = list(dict.fromkeys(space.sample(rng) for _ in range(120)))
    table = _irregular_table([space.lower(a, r) for a in archs[:3] for r in resolutions])
    ref = _same_table(table, fast_parts=False)
    for r in resolutions:
        for a in archs:
            assert table.predict(space, a, r) == ref.predict(space, a, r)
    assert table.hits > 0 and table.misses > 0
    assert table._calls and all(fn is _block_part for fn, _, _ in table._calls)
    pieces = _same_table(table)
    for a in archs[:10]:  # without ``layer``: each piece lowered (by ``part``)
        terms = space.latency_terms(a, resolutions[1], pieces.part, pieces.memo)
        want = space.latency_terms(a, resolutions[1], table.part, table.memo,
                                   layer=table.layer)
        assert terms == want
    assert any(fn is not _block_part for fn, _, _ in pieces._calls)


@pytest.mark.parametrize("shape", [(3, 1, 1), (8, 2, 3), (24, 7, 7), (48, 9, 5), (64, 14, 14)])
@pytest.mark.parametrize("stride", [1, 2])
def test_xblock_signatures_are_the_lowered_blocks(shape: tuple[int, int, int],
                                                  stride: int) -> None:
    """The signatures an X block is predicted from are exactly the signatures of its lowered
    layers, each counted as often (the sum of a distinct weight per signature), for widths,
    bottlenecks and group widths that need and need not a shortcut; the memo of pieces is
    shared between the blocks."""
    from archspace.spaces.anynet import XBlock, _xblock_layers

    pieces: dict[object, object] = {}
    for out_ch, wb, gw in [(shape[0], shape[0], 1), (shape[0], 4, 2), (16, 16, 4), (32, 8, 8),
                           (24, 12, 3), (shape[0], 6, 6)]:
        seen: list[tuple[object, ...]] = []

        def layer(sig: tuple[object, ...], seen: list[tuple[object, ...]] = seen) -> int:
            seen.append(sig)
            return zlib.crc32(repr(sig).encode())

        fresh: dict[object, object] = {}
        got = _xblock_layers(layer, fresh, shape, out_ch, wb, gw, stride)
        g = Graph()
        y = XBlock(out_ch, stride, wb, gw).lower(g, g.input(shape))
        want = [node_signature(n, g.nodes) for n in g.nodes if n.op != "input"]
        assert got is not None and set(seen) == set(want)  # (a repeated BN+ReLU priced once)
        assert got == (sum(zlib.crc32(repr(s).encode()) for s in want), len(want), y.shape)
        assert _xblock_layers(layer, pieces, shape, out_ch, wb, gw, stride) == got
        assert _xblock_layers(layer, pieces, shape, out_ch, wb, gw, stride) == got


def test_layer_of_int_signatures_equals_the_keyed_lookup() -> None:
    """``LatencyTable.layer`` (which skips formatting a key whose op and output shape no table
    key has) gives each signature of sampled networks of several spaces the latency of the
    keyed lookup, for signatures in the table and not; every key's (op, output) is in the set
    it checks, and a key that does not parse is ignored."""
    graphs = [get_space(n).lower(get_space(n).sample(s)) for n in ("anynet", "mnasnet", "nasnet",
                                                                   "regnet") for s in (1, 2)]
    table = _irregular_table(graphs[::2])
    table.layers["conv|1x2|3xQ|odd"] = 1.0
    table.layers["no-fields"] = 1.0
    ref = _same_table(table)
    sigs = {node_signature(n, g.nodes) for g in graphs for n in g.nodes if n.op != "input"}
    for sig in sorted(sigs, key=repr):
        assert table.layer(sig) == ref._layer_exact(sig) == table.layer(sig)
        if signature_key(sig) in table.layers:
            assert (sig[0], sig[2]) in table._outs
    assert 0 < table.hits < len(sigs) and table.hits + table.misses == len(sigs)
    assert (table.hits, table.misses) == (ref.hits, ref.misses)
