"""MCUNet's model zoo as named archs of the ``mcunet`` space: the block lists of the released
configs (``../shared/mcunet_zoo``, skipped when absent), MACs and params as the mcunet README
prints them, and ``profile --named``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from archspace import ArchError, get_space
from archspace.cli import cli
from archspace.ir.blocks import ClassifierHead, ConvBNAct, MBConv
from archspace.spaces.mcunet_zoo import ZOO

SHARED = Path(__file__).resolve().parents[2] / "shared" / "mcunet_zoo"
NAMES = sorted(ZOO)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _config(name: str) -> dict[str, Any]:
    path = SHARED / ZOO[name].config
    if not path.is_file():
        pytest.skip(f"MCUNet's zoo configs are not here ({SHARED} is absent)")
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _zoo_space(name: str) -> Any:
    space = get_space("mcunet").named_space(name)
    return space, space.named(name)


def test_named_archs_are_the_zoo_and_need_their_member() -> None:
    space = get_space("mcunet")
    assert list(space.named_archs()) == ["mcunet-in0", "mcunet-in1", "mcunet-in2", "mcunet-in3",
                                        "mcunet-in4"]
    member = space.named_space("mcunet-in3")
    assert member.label == "mcunet(width=0.5,resolution=176,mix_layer=False)"
    assert space.named_params("mcunet-in4") == {"width": 1.0, "resolution": 160, "mix_layer": False}
    # a parameter the user set explicitly wins over the zoo's
    wide = get_space("mcunet", num_classes=10, resolution=64).named_space("mcunet-in3")
    assert wide.label == "mcunet(width=0.5,resolution=64,num_classes=10,mix_layer=False)"
    # spaces without per-arch parameters give themselves back
    mbv2 = get_space("mobilenetv2")
    assert mbv2.named_space("mobilenetv2") is mbv2
    with pytest.raises(ArchError, match=r"named archs: mcunet-in0, .*mcunet-in4"):
        space.named_params("mcunet-in9")


@pytest.mark.parametrize("name", NAMES)
def test_block_list_is_the_released_config(name: str) -> None:
    cfg = _config(name)
    space, arch = _zoo_space(name)
    assert space.default_resolution == cfg["resolution"]
    stem, *blocks, head = space.blocks(arch, cfg["resolution"])
    first = cfg["first_conv"]
    assert isinstance(stem, ConvBNAct)
    assert (stem.out_ch, stem.kernel, stem.stride) == (first["out_channels"], first["kernel_size"],
                                                       first["stride"])
    assert cfg["feature_mix_layer"] is None and all(isinstance(b, MBConv) for b in blocks)
    in_ch = first["out_channels"]
    ours = []
    for b in blocks:
        assert isinstance(b, MBConv) and b.act == "relu6" and b.se_ratio == 0
        ours.append({"in_channels": in_ch, "out_channels": b.out_ch, "kernel_size": b.kernel,
                     "stride": b.stride, "expand_ratio": b.expand,
                     "mid_channels": None if b.expand == 1 else round(in_ch * b.expand),
                     "shortcut": b.stride == 1 and in_ch == b.out_ch})
        in_ch = b.out_ch
    theirs = [{**{k: m[k] for k in ("in_channels", "out_channels", "kernel_size", "stride",
                                    "expand_ratio", "mid_channels")},
               "shortcut": blk["shortcut"] is not None}
              for blk in cfg["blocks"] for m in [blk["mobile_inverted_conv"]]]
    assert ours == theirs
    assert isinstance(head, ClassifierHead)
    assert (in_ch, head.num_classes) == (cfg["classifier"]["in_features"],
                                         cfg["classifier"]["out_features"])


def test_published_figures_are_the_shared_readme_table() -> None:
    readme = SHARED / "README.md"
    if not readme.is_file():
        pytest.skip(f"MCUNet's zoo README is not here ({SHARED} is absent)")
    rows = {}
    for line in readme.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 8 and cells[1].startswith("mcunet-in"):
            rows[cells[1]] = cells
    assert sorted(rows) == NAMES
    for name, net in ZOO.items():
        cells = rows[name]
        assert cells[0] == net.config
        assert (cells[2], cells[3]) == (f"{net.macs_m}M", f"{net.params_m}M")
        assert re.findall(r"\d+", cells[4] + " " + cells[5]) == [str(net.sram_kb), str(net.flash_kb)]


@pytest.mark.parametrize("name", NAMES)
def test_macs_and_params_round_to_the_readme(name: str) -> None:
    space, arch = _zoo_space(name)
    prof = space.profile(arch)
    net = ZOO[name]
    assert round(prof.macs / 1e6, 1) == net.macs_m
    assert round(prof.params / 1e6, 2) == net.params_m


def test_profile_named_uses_the_zoo_member() -> None:
    res = invoke("profile", "mcunet", "--named", "mcunet-in3", "--json")
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)
    assert rec["resolution"] == 176 and rec["arch"] == ZOO["mcunet-in3"].arch
    assert round(rec["macs"] / 1e6, 1) == 81.8 and "memory_model" not in rec
    res = invoke("profile", "mcunet", "--named", "mcunet-in3", "-r", "96", "--json")
    assert json.loads(res.stdout)["resolution"] == 96
    res = invoke("profile", "mcunet", "--named", "mcunet-in7")
    assert res.exit_code == 2 and "named archs: mcunet-in0" in res.stderr
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("archspace: error: ")
