"""GraphModule skips the zero terms of a sum (NAS-Bench-201's 'none' edges) without changing
what the network computes or its gradients."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from archspace.nn.builder import _apply, build_module  # noqa: E402
from archspace.space import Arch  # noqa: E402
from archspace.spaces import get_space  # noqa: E402


def _reference(module, x):  # every node, zeros included, as the graph says
    values = {module._input_ids[0]: x}
    for node, key in zip(module.nodes, module._keys, strict=True):
        if node.op == "input":
            continue
        mod = module.layers[key] if key is not None else None
        values[node.id] = _apply(node, mod, [values[i] for i in node.inputs], module.training)
    return values[module.nodes[-1].id]


@pytest.mark.parametrize(("ops", "skips"), [
    (("none", "nor_conv_3x3", "none", "avg_pool_3x3", "none", "skip_connect"), True),
    (("nor_conv_1x1", "none", "none", "none", "none", "nor_conv_3x3"), True),
    (("none",) * 6, False),  # every sum is of zeros only: nothing to skip
])
def test_zero_terms_skipped_same_output_and_gradients(ops, skips):
    space = get_space("nb201", C=4, N=1)
    arch = space.validate(Arch(space.names, ops))
    graph = space.lower(arch, 8)
    torch.manual_seed(0)
    m = build_module(graph)
    skipped = [n for n, run in zip(m.nodes, m._run, strict=True) if n.op == "zero" and not run]
    assert bool(skipped) == skips
    x = torch.randn(4, 3, 8, 8)
    m.train()
    out = m(x)
    out.square().sum().backward()
    grads = {k: p.grad.clone() for k, p in m.named_parameters() if p.grad is not None}
    m.zero_grad(set_to_none=True)
    torch.manual_seed(0)
    ref = _reference(m, x)
    ref.square().sum().backward()
    assert torch.equal(out, ref)
    for k, p in m.named_parameters():
        if k in grads:
            assert torch.equal(grads[k], p.grad), k
    m.eval()
    with torch.inference_mode():
        assert torch.equal(m(x), _reference(m, x))


def test_zero_kept_where_it_is_the_only_term():
    from archspace.ir.graph import Graph

    g = Graph()
    x = g.input((2, 4, 4))
    z = g.add(g.zero(x), g.zero(x))
    m = build_module(g)
    assert all(m._run[1:])
    assert m(torch.ones(1, 2, 4, 4)).abs().sum() == 0
    assert z.shape == (2, 4, 4)
