"""TinyEngine's memory model: a hand-placed schedule, the zoo's published peak SRAM (within
1 kB), flash as the code generator's MODEL_SIZE, the CLI and Python options, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from archspace import ParamError, get_space
from archspace.analysis.sampling import sample_costs
from archspace.cli import cli
from archspace.cost import profile_graph, tinyengine_memory
from archspace.ir.blocks import Block, ClassifierHead, ConvBNAct, MBConv
from archspace.ir.graph import Graph
from archspace.spaces.mcunet_zoo import ZOO
from archspace.study.api import load_study
from archspace.study.constraints import ConstraintError, parse_constraint, with_memory_model

SHARED = Path(__file__).resolve().parents[2] / "shared" / "mcunet_zoo"
#: The zoo's other network with a published TinyEngine peak SRAM (kB of 1024 B, the tinyengine
#: README's STM32H743 column); its flash figure is marked suspect there (the same for r64 and
#: r176) and is not compared.
OTHERS = {"proxyless-w0.3-r176_imagenet.json": 259}


def _two_convs() -> Graph:
    g = Graph()
    x = g.input((4, 4, 4))
    g.conv(g.conv(x, 8, 1), 4, 1)
    return g


def test_a_two_layer_schedule_placed_by_hand() -> None:
    # tensors: input 64 B [0, 1), middle 128 B [0, 2), output 64 B [1, 2) (the output lives to
    # the end). Largest first: middle at 0; the input overlaps it -> 128; the output overlaps
    # the middle but not the input (whose life ended) -> 128. Arena 192 + im2col 8 ch * 4 = 32.
    te = tinyengine_memory(_two_convs().nodes)
    assert (te.arena_bytes, te.im2col_bytes, te.kernel_bytes) == (192, 32, 0)
    assert te.peak_sram_bytes == 224
    # int8 weights plus int32 bias and scale per output channel: (32 + 64) + (32 + 32)
    assert te.flash_bytes == 160


def test_tensors_are_4_byte_aligned_and_kxk_convs_keep_16_bit_weights() -> None:
    g = Graph()
    x = g.conv(g.input((3, 5, 5)), 2, 3)  # 75 B input -> 76; 50 B output -> 52
    te = tinyengine_memory(g.nodes)
    # one layer: input and output both live [0, 1), which firstFit's strict overlap tests do
    # not see as overlapping, so the engine puts both at address 0
    assert te.arena_bytes == 76
    assert te.im2col_bytes == 3 * 3 * 3 * 4 and te.kernel_bytes == 2 * 3 * 3 * 3 * 2
    g.conv(x, 3, 1)  # 75 B -> 76, lives [1, 2); the 52 B tensor now lives [0, 2)
    assert tinyengine_memory(g.nodes).arena_bytes == 76 + 52


def test_depthwise_is_in_place_with_its_padded_plane_buffer() -> None:
    g = Graph()
    x = g.input((8, 6, 6))
    g.dwconv(x, 5)
    te = tinyengine_memory(g.nodes)
    assert te.arena_bytes == 8 * 36  # the output is written over the input
    assert te.im2col_bytes == 2 * (6 + 4) * (6 + 4)
    assert te.flash_bytes == 25 * 8 + 8 * 8


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_peak_sram_within_1kB_of_tinyengine(name: str) -> None:
    space = get_space("mcunet").named_space(name)
    prof = space.profile(space.named(name), memory_model="tinyengine")
    assert abs(prof.peak_sram_bytes - ZOO[name].sram_kb * 1024) <= 1024  # type: ignore[operator]


def _flash_from_config(cfg: dict[str, Any]) -> int:
    """MODEL_SIZE straight from a released config: k*k*in*out (depthwise k*k*C) int8 weights
    plus 8 bytes (bias, scale) per output channel of every conv and the classifier."""
    fc = cfg["first_conv"]
    total = fc["kernel_size"] ** 2 * 3 * fc["out_channels"] + 8 * fc["out_channels"]
    for blk in cfg["blocks"]:
        m = blk["mobile_inverted_conv"]
        if m["name"] == "ZeroLayer":
            continue
        c_in, k = m["in_channels"], m["kernel_size"]
        mid = round(c_in * m["expand_ratio"])
        if m["expand_ratio"] != 1:
            total += c_in * mid + 8 * mid
        total += k * k * mid + 8 * mid + mid * m["out_channels"] + 8 * m["out_channels"]
    if cfg["feature_mix_layer"]:
        mix = cfg["feature_mix_layer"]
        total += mix["in_channels"] * mix["out_channels"] + 8 * mix["out_channels"]
    cls = cfg["classifier"]
    return int(total + cls["in_features"] * cls["out_features"] + 8 * cls["out_features"])


def _config(file: str) -> dict[str, Any]:
    path = SHARED / file
    if not path.is_file():
        pytest.skip(f"MCUNet's zoo configs are not here ({SHARED} is absent)")
    return json.loads(path.read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_flash_is_the_code_generators_model_size(name: str) -> None:
    cfg = _config(ZOO[name].config)
    space = get_space("mcunet").named_space(name)
    assert space.profile(space.named(name), memory_model="tinyengine").flash_bytes == \
        _flash_from_config(cfg)


@pytest.mark.xfail(strict=True, reason="the published flash is the board's binary: it adds the "
                   "compiled engine and generated code (about 64 kB), which TinyEngine's code "
                   "generator does not estimate (profileResult's code term is 0)")
def test_zoo_flash_within_1kB_of_tinyengine() -> None:
    for name, net in ZOO.items():
        space = get_space("mcunet").named_space(name)
        flash = space.profile(space.named(name), memory_model="tinyengine").flash_bytes
        assert abs(flash - net.flash_kb * 1024) <= 1024  # type: ignore[operator]


def _config_blocks(cfg: dict[str, Any]) -> list[Block]:
    fc = cfg["first_conv"]
    blocks: list[Block] = [ConvBNAct(fc["out_channels"], fc["kernel_size"], fc["stride"])]
    for blk in cfg["blocks"]:
        m = blk["mobile_inverted_conv"]
        if m["name"] != "ZeroLayer":
            blocks.append(MBConv(m["out_channels"], m["kernel_size"], m["expand_ratio"],
                                 m["stride"]))
    if cfg["feature_mix_layer"]:
        blocks.append(ConvBNAct(cfg["feature_mix_layer"]["out_channels"], 1, 1))
    return [*blocks, ClassifierHead(cfg["classifier"]["out_features"])]


@pytest.mark.parametrize("file", sorted(OTHERS))
def test_other_zoo_networks_within_1kB(file: str) -> None:
    cfg = _config(file)
    g = Graph()
    x = g.input((3, cfg["resolution"], cfg["resolution"]))
    for block in _config_blocks(cfg):
        x = block.lower(g, x)
    te = tinyengine_memory(g.nodes)
    assert abs(te.peak_sram_bytes - OTHERS[file] * 1024) <= 1024
    assert te.flash_bytes == _flash_from_config(cfg)


def test_detail_rows_peak_at_the_profile_and_default_is_mcunet() -> None:
    space = get_space("mcunet").named_space("mcunet-in1")
    arch = space.named("mcunet-in1")
    te = space.profile(arch, detail=True, memory_model="tinyengine")
    assert te.layers is not None
    assert max(lc.sram_bytes for lc in te.layers) == te.peak_sram_bytes
    assert sum(lc.flash_bytes for lc in te.layers) == te.flash_bytes
    assert te == space.profile(arch, memory_model="tinyengine")
    assert space.profile(arch) == profile_graph(space.lower(arch))  # mcunet by default
    mbv2 = get_space("mobilenetv2")
    assert mbv2.profile(mbv2.named("mobilenetv2")).peak_sram_bytes == 1_404_928


def test_sampled_costs_keep_the_archs_and_change_the_memory() -> None:
    space = get_space("mcunet", width=0.3, resolution=48, num_classes=10)
    mc = sample_costs(space, 12, 0)
    te = sample_costs(space, 12, 0, memory_model="tinyengine")
    assert te.path == "factorised+tinyengine"
    assert np.array_equal(mc.macs, te.macs) and np.array_equal(mc.params, te.params)
    assert (te.flash_bytes > mc.flash_bytes).all()  # a scale beside every bias


def test_unknown_memory_model_is_one_line_exit_2() -> None:
    space = get_space("mcunet", width=0.3, resolution=48)
    with pytest.raises(ParamError, match="unknown memory model 'tflm'; allowed: mcunet, tinyengine"):
        space.profile(space.sample(0), memory_model="tflm")
    for args in (["profile", "mcunet", "--named", "mcunet-in0", "--memory-model", "tflm"],
                 ["analyze", "flops", "--space", "mcunet", "--memory-model", "x", "-o", "out"]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 2, res.output
        assert res.stderr.startswith("archspace: error: ") and "'mcunet', 'tinyengine'" in res.stderr


def test_cli_profile_and_analyze_take_the_memory_model(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["profile", "mcunet", "--named", "mcunet-in0", "--json",
                                   "--memory-model", "tinyengine"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)
    assert rec["memory_model"] == "tinyengine" and abs(rec["peak_sram_bytes"] - 49 * 1024) <= 1024
    res = CliRunner().invoke(cli, ["analyze", "flops", "--space", "mcunet", "-p", "num_classes=10",
                                   "--widths", "0.3", "--resolutions", "48,64", "--samples", "10",
                                   "--min-count", "1", "--sram", "64kB", "--memory-model",
                                   "tinyengine", "-o", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["memory_model"] == "tinyengine"


def test_constraints_name_their_memory_model() -> None:
    c = parse_constraint("peak_sram@tinyengine<=320kB")
    assert (c.metric, c.memory_model, c.key, c.limit) == ("peak_sram", "tinyengine",
                                                          "peak_sram_bytes@tinyengine", 320e3)
    assert parse_constraint("flash<=1MB").key == "flash_bytes"
    assert parse_constraint("flash@mcunet<=1MB").key == "flash_bytes"
    assert with_memory_model(["peak_sram<=320kB,macs<=60M", "flash<=1MB"], "tinyengine") == (
        "peak_sram@tinyengine<=320kB", "macs<=60M", "flash@tinyengine<=1MB")
    assert with_memory_model(["peak_sram<=1MB"], "mcunet") == ("peak_sram<=1MB",)
    for bad, msg in [("macs@tinyengine<=3M", "macs has no memory model"),
                     ("peak_sram@tflm<=3kB", "unknown memory model 'tflm'; allowed: mcunet, tinyengine")]:
        with pytest.raises(ConstraintError, match=msg):
            parse_constraint(bad)


def test_search_screens_with_tinyengines_peak(tmp_path: Path) -> None:
    # nb201's cells add residuals into new tensors in TinyEngine (not in place) and keep im2col
    # buffers: 141,568 or 157,952 B against MCUNet's convention's 65,536 or 81,920 B
    path = tmp_path / "s.db"
    res = CliRunner().invoke(cli, ["search", "--space", "nb201", "--estimator", "nasbench201",
                                   "--strategy", "random", "--budget", "12", "--study", str(path),
                                   "-c", "peak_sram<=150kB", "--memory-model", "tinyengine",
                                   "--no-progress", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["constraints"] == ["peak_sram@tinyengine<=150kB"]
    study = load_study(path)
    space = get_space("nb201")
    trials = study.trials
    assert len(trials) == 12
    for t in trials:  # strategies propose only archs that pass the screen
        te = space.profile(space.parse_arch(t.arch), memory_model="tinyengine")
        assert t.cost is not None and t.cost["peak_sram_bytes@tinyengine"] == te.peak_sram_bytes
        assert t.status == "complete" and te.peak_sram_bytes <= 150e3
    # ... which the screen had to do: uniform draws break it about half the time
    drawn = [space.profile(space.sample(i), memory_model="tinyengine").peak_sram_bytes
             for i in range(20)]
    assert any(p > 150e3 for p in drawn) and all(
        space.profile(space.sample(i)).peak_sram_bytes <= 150e3 for i in range(20))
