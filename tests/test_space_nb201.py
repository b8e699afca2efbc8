"""NAS-Bench-201: the shipped table, the benchmark's strings and ids, and its published costs."""

from __future__ import annotations

import csv
import itertools
import random
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from archspace import ArchError, ArchspaceError, get_space
from archspace.spaces.nb201 import EDGES, NB201Space, cell_signature
from archspace.tabular import (
    NB201_OPS,
    build_nb201_npz,
    load_nb201,
    ops_to_str,
    parse_cell,
)

CSV = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "nasbench201.csv"
needs_csv = pytest.mark.skipif(not CSV.exists(), reason="benchmark CSV not present")
RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


@pytest.fixture(scope="module")
def space() -> NB201Space:
    s = get_space("nb201")
    assert isinstance(s, NB201Space)
    return s


def _uniform(space: NB201Space, op: str):  # type: ignore[no-untyped-def]
    return space.make({n: op for n in space.names})


# -- the table ---------------------------------------------------------------------------------
@needs_csv
def test_table_reproduces_the_csv_exactly() -> None:
    table = load_nb201()
    with open(CSV, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(table) == len(rows) == 15625
    header = list(rows[0])
    assert table.columns == tuple(header[2:])
    cols = {c: table.metric(c) for c in table.columns}
    for r in rows:
        i = int(r["index"])
        assert table.arch_str(i) == r["arch"]
        assert table.index_of(r["arch"]) == i
        for c, arr in cols.items():
            assert arr[i] == float(r[c])
    assert table.row(123) == {c: float(rows[123][c]) for c in table.columns}


@needs_csv
def test_shipped_file_is_what_the_builder_makes(tmp_path: Path) -> None:
    out = tmp_path / "t.npz"
    build_nb201_npz(CSV, out)
    with np.load(out) as built, np.load(Path(__file__).resolve().parents[1] / "src" / "archspace"
                                        / "data" / "nasbench201.npz") as shipped:
        for key in ("arch", "columns", "values"):
            assert np.array_equal(built[key], shipped[key])


def test_readme_facts() -> None:
    table = load_nb201()
    test200 = table.metric("cifar10_test_200ep")
    assert test200.max() == 94.3733
    best_valid = int(np.argmax(table.metric("cifar10_valid_12ep")))
    assert test200[best_valid] == 94.3733
    assert table.row(11472)["cifar10_test_200ep"] == 93.91


def test_loading_is_fast_and_cached() -> None:
    load_nb201.cache_clear()
    t = time.perf_counter()
    table = load_nb201()
    table.index_of(RESNET)
    assert time.perf_counter() - t < 0.3
    assert load_nb201() is table


def test_table_errors_name_the_problem() -> None:
    table = load_nb201()
    with pytest.raises(ArchspaceError, match=r"no metric 'acc'.*cifar10_valid_12ep"):
        table.metric("acc")
    with pytest.raises(ArchError, match=r"out of range; allowed: 0\.\.15624"):
        table.arch_str(15625)
    with pytest.raises(ArchError, match="unknown op"):
        table.index_of(RESNET.replace("none", "zero", 1))
    assert not table.metric("cifar10_test_12ep").flags.writeable


# -- ids and strings ---------------------------------------------------------------------------
def test_size_and_ids_map_every_cell_both_ways(space: NB201Space) -> None:
    assert space.size() == 5**6 == 15625
    table = load_nb201()
    seen = set()
    for i in range(len(table)):
        arch = space.from_index(i)
        assert space.index_of(arch) == i
        assert space.format_arch(arch) == table.arch_str(i)
        seen.add(arch)
    assert seen == set(space.enumerate())


def test_named_archs(space: NB201Space) -> None:
    named = space.named_archs()
    assert space.format_arch(named["resnet"]) == RESNET
    assert space.index_of(named["resnet"]) == 11472
    best = named["best_cifar10_valid_12ep"]
    valid = load_nb201().metric("cifar10_valid_12ep")
    assert valid[space.index_of(best)] == valid.max() == 84.892


op_lists = st.lists(st.sampled_from(NB201_OPS), min_size=6, max_size=6)


@settings(max_examples=200, deadline=None)
@given(op_lists)
def test_benchmark_string_round_trips(ops: list[str]) -> None:
    space = get_space("nb201")
    text = ops_to_str([NB201_OPS.index(o) for o in ops])
    arch = space.parse_arch(text)
    assert list(arch.values) == ops
    assert space.format_arch(arch) == text
    assert space.parse_arch(f"  {text}\n") == arch


@settings(max_examples=300, deadline=None)
@given(op_lists, st.data())
def test_mangled_strings_are_rejected(ops: list[str], data: st.DataObject) -> None:
    space = get_space("nb201")
    text = ops_to_str([NB201_OPS.index(o) for o in ops])
    pos = data.draw(st.integers(0, len(text) - 1))
    if data.draw(st.booleans()):
        bad = text[:pos] + text[pos + 1:]
    else:
        bad = text[:pos] + data.draw(st.sampled_from("|~+x0123_")) + text[pos:]
    with pytest.raises(ArchError):
        space.parse_arch(bad)


@pytest.mark.parametrize(("text", "msg"), [
    ("|none~0|+|none~0|none~1|", "2 node\\(s\\) separated by '\\+', not 3"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 .* has 1 edge\\(s\\), not 2"),
    ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
     "unknown op 'conv'.*allowed ops: none, skip_connect, nor_conv_1x1, nor_conv_3x3, "
     "avg_pool_3x3"),
    ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "must read none~0"),
    ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "not enclosed in '\\|'"),
])
def test_parse_errors_name_the_problem(text: str, msg: str) -> None:
    with pytest.raises(ArchError, match=msg):
        parse_cell(text)
    with pytest.raises(ArchError, match=msg):
        get_space("nb201").parse_arch(text)


def test_generic_name_value_form_still_parses(space: NB201Space) -> None:
    arch = space.named("resnet")
    generic = ",".join(f"{n}={v}" for n, v in arch.items())
    assert space.parse_arch(generic) == arch


# -- equivalent cells --------------------------------------------------------------------------
def _evaluate(ops: tuple[str, ...], x: float, coef: tuple[float, ...]) -> float:
    """The cell run on a number, edge k's op getting its own weight ``coef[k]``; every op is
    zero at zero, like an op on a zero input."""
    nodes = [x, 0.0, 0.0, 0.0]
    for k, ((i, j), op) in enumerate(zip(EDGES, ops, strict=True)):
        v, c = nodes[j], coef[k]
        nodes[i] += {"none": 0.0, "skip_connect": v, "nor_conv_1x1": np.tanh(c * v) + c * v * v,
                     "nor_conv_3x3": np.sin(c * v) - 0.3 * c * v**3,
                     "avg_pool_3x3": v * np.exp(-v)}[op]
    return float(nodes[3])


_XS = (0.37, -1.21, 0.83)


def _same_up_to_renaming(a: tuple[str, ...], b: tuple[str, ...], rng: random.Random) -> bool:
    """Whether some renaming of a's edges makes it compute what b computes (random weights)."""
    coef = tuple(rng.uniform(0.5, 2.0) for _ in EDGES)
    want = [_evaluate(b, x, coef) for x in _XS]
    for perm in itertools.permutations(range(len(EDGES))):
        mine = tuple(coef[p] for p in perm)
        if all(abs(_evaluate(a, x, mine) - w) < 1e-9 for x, w in zip(_XS, want, strict=True)):
            return True
    return False


def test_classes_are_cells_computing_the_same_function(space: NB201Space) -> None:
    classes: dict[object, list[tuple[str, ...]]] = {}
    shared: dict[object, set[tuple[float, ...]]] = {}  # every conv of a kind sharing one weight
    for a in space.enumerate():
        ops = tuple(str(v) for v in a.values)
        rep = space.canonical(a)
        classes.setdefault(rep, []).append(ops)
        shared.setdefault(rep, set()).add(tuple(round(_evaluate(ops, x, (1.3,) * 6), 9)
                                                for x in _XS))
    assert len(classes) == space.distinct_size() == 5260
    assert all(len(v) == 1 for v in shared.values())
    rng = random.Random(0)
    members = [m for m in classes.values() if len(m) > 1]
    for group in rng.sample(members, 40):  # same class: equal after renaming the edges
        a, b = rng.sample(group, 2)
        assert _same_up_to_renaming(a, b, rng), (a, b)
    by_value: dict[tuple[float, ...], list[object]] = {}
    for rep, values in shared.items():
        by_value.setdefault(next(iter(values)), []).append(rep)
    close = [reps for reps in by_value.values() if len(reps) > 1]
    assert len(close) > 100  # classes that shared weights could not tell apart
    for reps in rng.sample(close, 40):  # different classes: no renaming makes them equal
        a, b = (classes[r][0] for r in rng.sample(reps, 2))
        assert not _same_up_to_renaming(a, b, rng), (a, b)


def test_cell_signature_examples(space: NB201Space) -> None:
    def rep(text: str) -> str:
        return space.format_arch(space.canonical(space.parse_arch(text)))

    # x + conv(conv(x)), written with the chain through node 2 alone: node 1 is unused
    assert rep(RESNET) == "|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    swapped = "|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|"
    plain = "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    assert rep(swapped) == rep(plain)
    dead = RESNET.replace("none~1|skip_connect~2", "avg_pool_3x3~1|none~2")
    assert rep(dead) != rep(RESNET)
    twice = "|nor_conv_1x1~0|+|none~0|skip_connect~1|+|none~0|skip_connect~1|skip_connect~2|"
    two = "|none~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|none~1|nor_conv_1x1~2|"
    assert rep(twice) != rep(two)  # 2 * conv(x) is not conv(x) + conv'(x)
    assert cell_signature(["none"] * 6) == ((), ())  # all zeros


def test_canonical_stays_in_the_space_and_drops_dead_weights(space: NB201Space) -> None:
    for a in random.Random(0).sample(list(space.enumerate()), 200):
        rep = space.canonical(a)
        assert space.canonical(rep) == rep
        assert cell_signature([str(v) for v in rep.values]) == cell_signature(
            [str(v) for v in a.values])
        assert space.profile(rep).params <= space.profile(a).params
    sub = space.restrict(exclude={"*": ["none"]})
    for a in random.Random(1).sample(list(sub.enumerate()), 100):
        assert "none" not in {str(v) for v in sub.canonical(a).values}
    assert sub.distinct_size() < sub.size() == 4**6
    with pytest.raises(ArchError):
        sub.canonical(space.parse_arch(RESNET))


# -- the benchmark's network and its published costs --------------------------------------------
def test_resnet_cell_has_the_benchmarks_params_and_flops(space: NB201Space) -> None:
    arch = space.named("resnet")
    prof = space.profile(arch)
    assert prof.params == 559_386  # 0.559386M, every parameter (BN included)
    flops = space.benchmark_flops(arch)
    assert round(flops / 1e6, 2) == 78.56
    assert flops == prof.macs + 10  # the classifier's bias adds one per output
    model = space.build(arch)
    assert sum(p.numel() for p in model.parameters()) == 559_386


def test_param_range_of_the_space(space: NB201Space) -> None:
    low = space.profile(_uniform(space, "none")).params
    high = space.profile(_uniform(space, "nor_conv_3x3")).params
    assert round(low / 1e6, 4) == 0.0733
    assert round(high / 1e6, 4) == 1.5315
    rng = random.Random(0)
    for _ in range(100):
        assert low <= space.profile(space.sample(rng)).params <= high


def test_built_module_runs_with_benchmark_layout(space: NB201Space) -> None:
    arch = space.named("best_cifar10_valid_12ep")
    g = space.lower(arch)
    shapes = {n.name: n.shape for n in g}
    assert shapes["stem.conv"] == (16, 32, 32)
    assert shapes["reduce1.shortcut"] == (32, 16, 16)
    assert shapes["s2c4.node3"] == (64, 8, 8)
    model = space.build(arch).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    small = get_space("nb201", num_classes=120, resolution=16)
    assert small.profile(arch).output_shape == (120,)


def test_diagram_is_the_cell_dag(space: NB201Space) -> None:
    d = space.diagram(space.named("resnet"))
    assert d.kind == "dag"
    assert [n.id for n in d.nodes] == ["0", "1", "2", "3"]
    assert {(e.src, e.dst, e.label) for e in d.edges} == {
        ("0", "1", "nor_conv_3x3"), ("1", "2", "nor_conv_3x3"), ("0", "3", "skip_connect"),
        ("2", "3", "skip_connect")}
