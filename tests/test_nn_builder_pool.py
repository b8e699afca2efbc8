"""GraphModule's average pooling without autograd on the CPU (a channels_last copy pooled)
computes what ``F.avg_pool2d`` computes, bit for bit; training pools the NCHW input as before."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from archspace.nn import builder  # noqa: E402
from archspace.nn.builder import _avg_pool, build_module  # noqa: E402
from archspace.space import Arch  # noqa: E402
from archspace.spaces import get_space  # noqa: E402


@pytest.mark.parametrize(("shape", "kernel", "stride", "padding"), [
    ((5, 8, 16, 16), 3, 1, 1), ((3, 16, 8, 8), 3, 1, 1), ((4, 32, 4, 4), 3, 1, 1),
    ((2, 64, 7, 9), 3, 1, 1), ((3, 16, 8, 8), 2, 2, 0), ((2, 3, 11, 10), 3, 2, 1),
    ((2, 20, 6, 6), 5, 1, 2),
])
@pytest.mark.parametrize("count_include_pad", [False, True])
def test_same_bits_as_nchw_pooling(shape, kernel, stride, padding, count_include_pad):
    torch.manual_seed(0)
    x = torch.randn(shape) * 3
    want = F.avg_pool2d(x, kernel, stride, padding, count_include_pad=count_include_pad)
    for ctx in (torch.inference_mode, torch.no_grad):
        with ctx():
            got = _avg_pool(x, kernel, stride, padding, count_include_pad)
        assert got.shape == want.shape
        assert got.is_contiguous()  # NCHW again, as the layers after it expect
        assert torch.equal(got, want)


def _pool_inputs(monkeypatch):
    seen = []
    real = F.avg_pool2d

    def spy(x, *args, **kwargs):
        seen.append(x.is_contiguous(memory_format=torch.channels_last) and x.shape[1] > 1)
        return real(x, *args, **kwargs)

    monkeypatch.setattr(builder.F, "avg_pool2d", spy)
    return seen


def test_nb201_cell_eval_same_outputs_training_path_unchanged(monkeypatch):
    space = get_space("nb201", C=8, N=1)
    ops = ("avg_pool_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "none",
           "avg_pool_3x3")
    torch.manual_seed(0)
    m = build_module(space.lower(space.validate(Arch(space.names, ops)), 16))
    x = torch.randn(6, 3, 16, 16)
    m.train()
    m(x).sum().backward()  # some batch-norm statistics, so that eval is not the identity
    m.eval()
    seen = _pool_inputs(monkeypatch)
    with torch.enable_grad():  # autograd on: the NCHW path, as before
        want = m(x)
    assert seen and not any(seen)
    seen.clear()
    with torch.inference_mode():
        got = m(x)
    assert seen and all(seen)  # the channels_last path was taken
    assert torch.equal(got, want)
    seen.clear()
    m.train()
    m(x).sum().backward()  # training: NCHW input to the pooling, gradients as before
    assert seen and not any(seen)
