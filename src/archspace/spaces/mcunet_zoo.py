"""MCUNet's model zoo: the released ImageNet networks as points of the ``mcunet`` space.

Derived from the network configs MCUNet released (Lin et al., "MCUNet: Tiny Deep Learning on IoT
Devices", NeurIPS 2020; mit-han-lab/mcunet, ``assets/configs/*.json`` at commit a889f956, MIT
licence, Copyright (c) 2020 MIT HAN Lab). Each config's stem and first block widths and its
per-stage channels are the ``mcunet`` space's at the config's width multiplier; the blocks after
the fixed first one are read stage by stage as ``k<kernel>e<expand>`` (the last, the 320-channel
block at width 1.0, after the final ``/``). None has a feature-mix layer.

Published costs: MACs and params as the mcunet README prints them; peak SRAM and flash as
TinyEngine measured them on an STM32H743 (the tinyengine README's newest-engine column), in kB
of 1024 bytes. ``tests/test_mcunet_zoo.py`` checks the arch strings against the configs (when
``../shared/mcunet_zoo`` is present) and the costs against these figures.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ZOO", "ZooNet"]


@dataclass(frozen=True)
class ZooNet:
    """One released network: its config file, space member, arch and published costs."""

    config: str
    width: float
    resolution: int
    arch: str
    macs_m: float
    params_m: float
    sram_kb: int | None
    flash_kb: int | None


ZOO: dict[str, ZooNet] = {
    "mcunet-in0": ZooNet("mcunet-10fps_imagenet.json", 0.6, 48,
                         "k5e4-k3e3-k3e4/k7e5-k5e4-k5e5/k7e5-k5e4/k3e5-k5e4-k3e5/k3e6-k5e4/k3e6",
                         6.4, 0.75, 49, 842),
    "mcunet-in1": ZooNet("mcunet-5fps_imagenet.json", 0.5, 96,
                         "k3e4-k3e3/k7e3-k3e5/k3e5-k7e4/k5e4-k3e3-k3e4/k7e5-k5e4-k5e4/k3e6",
                         12.8, 0.64, 96, 727),
    "mcunet-in2": ZooNet("mcunet-256kb-1mb_imagenet.json", 0.5, 160,
                         "k5e3-k7e6-k3e5-k5e5/k3e5-k7e6-k5e6/k7e4-k5e5/k3e5-k5e5-k3e4/"
                         "k5e6-k5e4-k5e3-k3e4/k5e5", 67.3, 0.73, 215, 830),
    "mcunet-in3": ZooNet("mcunet-320kb-1mb_imagenet.json", 0.5, 176,
                         "k7e3-k3e5-k7e5-k5e4/k5e5-k5e5-k5e5/k3e5-k7e6-k5e4/k5e5-k7e5-k3e5/"
                         "k3e6-k7e5-k3e4/k7e5", 81.8, 0.74, 260, 835),
    "mcunet-in4": ZooNet("mcunet-512kb-2mb_imagenet.json", 1.0, 160,
                         "k7e3-k3e5-k5e4/k7e5-k3e4-k7e4/k7e3-k3e3-k7e3/k3e4-k5e3-k5e3/"
                         "k7e4-k7e3-k5e3/k5e4", 125.9, 1.73, 416, 1825),
}
