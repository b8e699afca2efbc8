"""The contract every catalog space keeps: exact size, sampling, round-trips, moves, a module
that runs, and a cost model that agrees with the built module and with fvcore."""

from __future__ import annotations

import random

import pytest
import torch
from fvcore.nn import FlopCountAnalysis

from archspace import ArchError, get_space, list_spaces
from archspace.cost import profile_graph
from archspace.nn import build_module
from archspace.space import ChainSpace

SPACES = list_spaces()
N_FVCORE = 20  # per space: 14 spaces x 20 archs; fvcore (tracing) costs 8-15x a forward pass


@pytest.fixture(scope="module", params=SPACES)
def space(request):  # type: ignore[no-untyped-def]
    return get_space(request.param)


def test_size_is_exact_int(space) -> None:
    n = space.size()
    assert isinstance(n, int) and n > 1
    if n <= 20_000:
        assert sum(1 for _ in space.enumerate()) == n


def test_sample_is_deterministic_and_valid(space) -> None:
    a, b = space.sample(7), space.sample(7)
    assert a == b and hash(a) == hash(b)
    assert space.validate(a) == a
    assert len({space.sample(random.Random(i)) for i in range(20)}) > 1


def test_string_json_and_indices_round_trip(space) -> None:
    rng = random.Random(0)
    for _ in range(20):
        a = space.sample(rng)
        s = space.format_arch(a)
        assert "\n" not in s
        assert space.parse_arch(s) == a
        assert space.arch_from_json(space.arch_to_json(a)) == a
        assert space.arch_from_json(a.to_json()) == a
        assert space.from_indices(space.to_indices(a)) == a


def test_mutate_and_neighbours_move_one_decision(space) -> None:
    rng = random.Random(1)
    a = space.sample(rng)
    m = space.mutate(a, rng)
    assert space.validate(m) == m and m != a
    nbrs = space.neighbours(a)
    assert nbrs and a not in nbrs
    for nb in nbrs[:50]:
        space.validate(nb)


def test_canonical_picks_a_member_of_the_class(space) -> None:
    rng = random.Random(2)
    for _ in range(20):
        a = space.sample(rng)
        rep = space.canonical(a)
        assert space.validate(rep) == rep and space.canonical(rep) == rep
        prof_a, prof_rep = space.profile(a), space.profile(rep)
        assert prof_rep.params <= prof_a.params  # a representative drops dead parameters
        assert prof_rep.output_shape == prof_a.output_shape
    if not space.has_equivalences():
        assert space.canonical(a) is a and space.distinct_size() == space.size()


def test_validate_names_the_bad_decision(space) -> None:
    a = space.sample(3)
    name = next(n for n, v in a.items() if v is not None)
    bad = a.replace(**{name: "__bogus__"})
    with pytest.raises(ArchError, match=name.replace(".", r"\.")):
        space.validate(bad)


def test_restrict_shrinks_the_space(space) -> None:
    d = next(d for d in space.decisions if len(d.choices) > 1)
    sub = space.restrict({d.name: [d.choices[0]]})
    assert sub.size() < space.size()
    a = sub.sample(0)
    assert a[d.name] in (None, d.choices[0])
    space.validate(a)


def test_named_archs_are_members(space) -> None:
    for arch in space.named_archs().values():
        assert space.validate(arch) == arch


def test_built_module_runs_and_matches_profile(space) -> None:
    arch = space.sample(11)
    prof = space.profile(arch)
    model = space.build(arch).eval()
    assert sum(p.numel() for p in model.parameters()) == prof.params
    with torch.no_grad():
        y = model(torch.randn(1, *space.input_shape))
    assert tuple(y.shape[1:]) == prof.output_shape


def test_chain_fast_profile_equals_full_graph(space) -> None:
    if not isinstance(space, ChainSpace):
        pytest.skip("not a chain space")
    rng = random.Random(5)
    for _ in range(30):
        a = space.sample(rng)
        assert space.profile(a) == profile_graph(space.lower(a))


def _fvcore_conv_linear_macs(model: torch.nn.Module, shape: tuple[int, ...]) -> int:
    fca = FlopCountAnalysis(model, torch.zeros(1, *shape))
    fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_op = fca.by_operator()
    return sum(v for k, v in by_op.items() if k in ("conv", "linear", "addmm", "matmul"))


def test_cost_model_matches_fvcore_on_sampled_archs(space) -> None:
    rng = random.Random(2024)
    r = space.min_resolution
    for _ in range(N_FVCORE):
        arch = space.sample(rng)
        graph = space.lower(arch, resolution=r)
        prof = profile_graph(graph)
        model = build_module(graph).eval()
        assert prof.params == sum(p.numel() for p in model.parameters())
        assert prof.macs == _fvcore_conv_linear_macs(model, graph.inputs[0].shape)
