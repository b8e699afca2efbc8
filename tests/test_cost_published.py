"""Published cost figures of the catalog's reference networks, at 224x224 with 1000 classes.

* MobileNetV2 1.0 (Sandler et al. 2018): 3,504,872 parameters (torchvision's count), about 300M
  multiply-adds, and the 1,372 KiB peak SRAM MCUNet (Lin et al. 2020) quotes for it.
* ProxylessNAS-Mobile (Cai et al. 2019): 4.1M parameters and 320M MACs. The released network
  widens the first searched stage to 32 channels; with those widths our count is 4,080,512, the
  parameter count of the released model, and 320.4M MACs. In the search backbone's default
  widths (24 there) the same choices give 4,073,520 and 304.2M.
* MnasNet-A1 (Tan et al. 2019): 3.9M parameters and 312M MACs; ours are 3,887,038 and 311.6M,
  with squeeze-and-excitation reducing to ``int(0.25 * block input channels)`` as the MnasNet code
  does.
"""

from __future__ import annotations

import torch

from archspace import get_space
from archspace.cost import Profile
from archspace.space import Space


def _named(space: Space, name: str) -> Profile:
    return space.profile(space.named(name))


def _flash_from_module(space: Space, name: str) -> int:
    """int8 conv/linear weights + an int32 bias per output channel with a bias or folded BN."""
    total = 0
    for m in space.build(space.named(name)).modules():
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
            total += m.weight.numel() + (4 * m.bias.numel() if m.bias is not None else 0)
        elif isinstance(m, torch.nn.BatchNorm2d):
            total += 4 * m.num_features
    return total


def _close(value: int, published: float, tol: float) -> bool:
    return abs(value / published - 1) <= tol


def test_mobilenetv2() -> None:
    space = get_space("mobilenetv2")
    p = _named(space, "mobilenetv2")
    assert p.params == 3_504_872
    assert p.macs == 300_774_272 and _close(p.macs, 300e6, 0.005)
    assert p.peak_sram_bytes == 1_404_928 == 1372 * 1024 == (16 + 96) * 112 * 112
    assert p.flash_bytes == 3_541_984 == _flash_from_module(space, "mobilenetv2")


def test_proxylessnas_mobile() -> None:
    released = get_space("proxyless", stage_widths=(32, 40, 80, 96, 192, 320))
    p = _named(released, "proxylessnas-mobile")
    assert p.params == 4_080_512 and _close(p.params, 4.1e6, 0.01)
    assert p.macs == 320_427_584 and _close(p.macs, 320e6, 0.005)
    assert p.flash_bytes == _flash_from_module(released, "proxylessnas-mobile")
    search = _named(get_space("proxyless"), "proxylessnas-mobile")
    assert search.params == 4_073_520 and search.macs == 304_227_008
    # the difference is exactly the 24 -> 32 widening of the first searched stage
    assert p.params - search.params == 6992


def test_mnasnet_a1() -> None:
    space = get_space("mnasnet")
    p = _named(space, "mnasnet-a1")
    assert p.params == 3_887_038 and _close(p.params, 3.9e6, 0.005)
    assert p.macs == 311_579_072 and _close(p.macs, 312e6, 0.005)
    assert p.flash_bytes == _flash_from_module(space, "mnasnet-a1")


def test_mnasnet_reference_point_is_mobilenetv2() -> None:
    ref = _named(get_space("mnasnet", base="mobilenetv2"), "mobilenetv2")
    mbv2 = _named(get_space("mobilenetv2"), "mobilenetv2")
    assert ref == mbv2  # ReLU for ReLU6 changes no count
