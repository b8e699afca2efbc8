"""End-to-end tests of the ``archspace`` command line (in process, and once as a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from archspace import get_space, list_spaces
from archspace.cli import cli
from archspace.spaces import CATALOG, space_class
from archspace.spaces._registry import SpaceEntry

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MBV2 = ("mobilenetv2", "--named", "mobilenetv2")


def _importable() -> list[str]:
    """Catalog spaces whose module exists (others are still being written)."""
    names = []
    for name in list_spaces():
        try:
            space_class(name)
        except ImportError:
            continue
        names.append(name)
    return names


IMPORTABLE = _importable()


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def ok(*args: str) -> str:
    res = run(*args)
    assert res.exit_code == 0, res.output
    return res.stdout


# -- spaces and size ---------------------------------------------------------------------------
def test_spaces_json_lists_every_catalog_entry() -> None:
    rows = json.loads(ok("spaces", "--json"))
    assert [r["name"] for r in rows] == list_spaces()
    for r in rows:
        if r["name"] in IMPORTABLE:
            space = get_space(r["name"])
            assert r["size"] == space.size() and r["kind"] == space.kind and r["paper"]
        else:
            assert "error" in r


def test_spaces_table_shows_a_broken_space_as_an_error_cell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(CATALOG, "broken", SpaceEntry("broken", "archspace.spaces.no_such:Space"))
    res = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["spaces"])
    assert res.exit_code == 0, res.output
    lines = {line.split("│")[1].strip(): line for line in res.stdout.splitlines() if "│" in line}
    assert set(list_spaces()) <= set(lines)
    assert "error" in lines["broken"] and "no_such" in lines["broken"]
    assert "2821109907456" in lines["mobilenetv2"] and "2.82e+12" in lines["mobilenetv2"]


def test_size_is_exact() -> None:
    # 16 searchable blocks, each 3 kernels x 2 expand ratios
    assert ok("size", "mobilenetv2") == f"{6**16}\n"
    assert ok("size", "mobilenetv2", "--param", "kernels=3,5") == f"{4**16}\n"


def test_distinct_size_counts_functionally_different_archs() -> None:
    assert ok("size", "nb201", "--distinct") == "5260\n"  # 15,625 cells, 5,260 functions
    assert ok("size", "mobilenetv2", "--distinct") == f"{6**16}\n"  # no equivalences known


@pytest.mark.skipif("nasnet" not in IMPORTABLE, reason="nasnet space not written yet")
def test_lecture_size_formula() -> None:
    out = ok("size", "nasnet", "--param", "M=5", "--param", "N=2", "--param", "B=5", "--formula", "lecture")
    assert out == "320000000000\n"


# -- sample ------------------------------------------------------------------------------------
def test_sample_is_deterministic_and_parses() -> None:
    space = get_space("mobilenetv2")
    a = ok("sample", "mobilenetv2", "-n", "5", "--seed", "3")
    assert a == ok("sample", "mobilenetv2", "-n", "5", "--seed", "3")
    assert a != ok("sample", "mobilenetv2", "-n", "5", "--seed", "4")
    lines = a.splitlines()
    assert len(lines) == 5 and len(set(lines)) == 5
    assert all(space.format_arch(space.parse_arch(s)) == s for s in lines)
    out = ok("sample", "mobilenetv2", "-n", "5", "--seed", "3", "--json")
    objs = [json.loads(s) for s in out.splitlines()]
    assert [o["arch"] for o in objs] == lines
    assert all(space.arch_from_json(o) == space.parse_arch(o["arch"]) for o in objs)


@pytest.mark.parametrize("name", IMPORTABLE)
def test_sample_every_space(name: str) -> None:
    lines = ok("sample", name, "-n", "2", "--seed", "0").splitlines()
    assert len(lines) == 2
    space = get_space(name)
    for s in lines:
        space.parse_arch(s)


# -- profile -----------------------------------------------------------------------------------
def _flash_from_module(space_name: str) -> int:
    """int8 conv/linear weights + int32 bias per output channel with a folded BN or bias."""
    import torch

    space = get_space(space_name)
    model = space.build(space.named(space_name))
    total = 0
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
            total += m.weight.numel() + (4 * m.bias.numel() if m.bias is not None else 0)
        elif isinstance(m, torch.nn.BatchNorm2d):
            total += 4 * m.num_features
    return total


def test_profile_json_keys_and_mobilenetv2_numbers() -> None:
    rec = json.loads(ok("profile", *MBV2, "--json"))
    assert set(rec) == {"arch", "resolution", "params", "macs", "peak_sram_bytes", "flash_bytes"}
    assert rec["resolution"] == 224
    assert rec["params"] == 3_504_872
    assert rec["macs"] == 300_774_272
    assert rec["peak_sram_bytes"] == 1_404_928 == 16 * 112 * 112 + 96 * 112 * 112
    assert rec["flash_bytes"] == _flash_from_module("mobilenetv2")
    space = get_space("mobilenetv2")
    assert space.parse_arch(rec["arch"]) == space.named("mobilenetv2")


def test_profile_table_and_detail() -> None:
    out = ok("profile", *MBV2)
    assert "3,504,872" in out and "300,774,272" in out and "1,404,928" in out
    rec = json.loads(ok("profile", *MBV2, "--resolution", "64", "--json", "--detail"))
    assert rec["resolution"] == 64
    layers = rec["layers"]
    assert sum(lc["params"] for lc in layers) == rec["params"] == 3_504_872
    assert sum(lc["macs"] for lc in layers) == rec["macs"]
    assert max(lc["sram_bytes"] for lc in layers) == rec["peak_sram_bytes"]
    assert "b1.dwconv" in ok("profile", *MBV2, "-r", "64", "--detail")


def test_profile_sample_and_arch_sources(tmp_path: Path) -> None:
    space = get_space("mobilenetv2")
    recs = [json.loads(s) for s in ok("profile", "mobilenetv2", "--sample", "3", "--seed", "1",
                                      "-r", "96", "--json").splitlines()]
    assert len(recs) == 3
    for rec in recs:
        prof = space.profile(space.parse_arch(rec["arch"]), 96)
        assert (rec["params"], rec["macs"], rec["peak_sram_bytes"]) == (prof.params, prof.macs,
                                                                        prof.peak_sram_bytes)
    jsonl = tmp_path / "archs.jsonl"
    jsonl.write_text(ok("sample", "mobilenetv2", "-n", "3", "--seed", "1", "--json"))
    from_file = [json.loads(s) for s in ok("profile", "mobilenetv2", "--arch", f"@{jsonl}", "-r", "96",
                                           "--json").splitlines()]
    assert from_file == recs
    arch = space.parse_arch(recs[0]["arch"])
    inline = json.loads(ok("profile", "mobilenetv2", "--arch", arch.to_json(), "-r", "96", "--json"))
    assert inline == recs[0]
    one = tmp_path / "one.json"
    one.write_text(json.dumps(space.arch_to_json(arch), indent=2))
    assert json.loads(ok("profile", "mobilenetv2", "--arch", f"@{one}", "-r", "96", "--json")) == recs[0]


def test_profile_json_from_another_parameterisation_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "half.json"
    f.write_text(ok("sample", "mobilenetv2", "--param", "width=0.5", "--seed", "0", "--json"))
    res = run("profile", "mobilenetv2", "--arch", f"@{f}")
    assert res.exit_code == 2 and "--param width=0.5" in res.stderr
    ok("profile", "mobilenetv2", "--param", "width=0.5", "--arch", f"@{f}")


# -- draw --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", IMPORTABLE)
def test_draw_writes_a_png_for_every_space(name: str, tmp_path: Path) -> None:
    out = tmp_path / f"{name}.png"
    assert ok("draw", name, "--sample", "--seed", "0", "-o", str(out)).strip() == str(out)
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 2000


def test_draw_named_arch_as_svg(tmp_path: Path) -> None:
    out = tmp_path / "mbv2.svg"
    ok("draw", *MBV2, "-o", str(out))
    assert "<svg" in out.read_text()[:2000]


# -- bad input ---------------------------------------------------------------------------------
BAD = {
    "unknown space": ("size", "nope"),
    "unknown parameter": ("size", "mobilenetv2", "--param", "depth=3"),
    "malformed parameter": ("size", "mobilenetv2", "--param", "width"),
    "bad parameter value": ("size", "mobilenetv2", "--param", "width=wide"),
    "unknown formula": ("size", "mobilenetv2", "--formula", "nope"),
    "distinct with a formula": ("size", "nb201", "--distinct", "--formula", "lecture"),
    "unknown op": ("profile", "mobilenetv2", "--arch", "b1.k=conv9x9"),
    "unknown decision": ("profile", "mobilenetv2", "--arch", "b99.k=3"),
    "outside choices": ("profile", "mobilenetv2", "--arch", "b1.e=9"),
    "malformed arch": ("profile", "mobilenetv2", "--arch", "b1.k"),
    "malformed json": ("profile", "mobilenetv2", "--arch", '{"b1.k": 3'),
    "json not an object": ("profile", "mobilenetv2", "--arch", "[1, 2]"),
    "missing arch file": ("profile", "mobilenetv2", "--arch", "@/no/such/arch.json"),
    "unknown named arch": ("profile", "mobilenetv2", "--named", "resnet50"),
    "resolution too small": ("profile", *MBV2, "--resolution", "16"),
    "negative resolution": ("profile", *MBV2, "--resolution", "-224"),
    "resolution not an int": ("profile", *MBV2, "--resolution", "big"),
    "no arch source": ("profile", "mobilenetv2"),
    "two arch sources": ("profile", *MBV2, "--sample", "2"),
    "seed without sample": ("profile", *MBV2, "--seed", "1"),
    "zero samples": ("sample", "mobilenetv2", "-n", "0"),
    "missing space": ("sample",),
    "unknown option": ("sample", "mobilenetv2", "--colour"),
    "unknown command": ("frobnicate",),
    "draw without output": ("draw", *MBV2),
    "draw to jpeg": ("draw", *MBV2, "-o", "arch.jpg"),
    "draw into missing dir": ("draw", *MBV2, "-o", "/no/such/dir/arch.png"),
    "draw sample count": ("draw", "mobilenetv2", "--sample", "3", "-o", "x.png"),
}


@pytest.mark.parametrize("args", BAD.values(), ids=BAD.keys())
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code == 2, (res.output, res.exception)
    assert res.exception is None or isinstance(res.exception, SystemExit)
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("archspace: error: "), res.stderr
    assert "Traceback" not in res.output and res.stdout == ""


def test_errors_name_what_is_allowed() -> None:
    assert "3, 5, 7" in run("profile", "mobilenetv2", "--arch", "b1.k=4").stderr
    assert "width" in run("size", "mobilenetv2", "--param", "depth=3").stderr
    assert "mobilenetv2" in run("size", "nope").stderr
    assert "32..8192" in run("profile", *MBV2, "-r", "16").stderr


# -- the installed console script --------------------------------------------------------------
def _script() -> str:
    path = Path(sys.executable).with_name("archspace")
    assert path.exists(), "the archspace console script is not installed (pip install -e .)"
    return str(path)


def test_console_script_end_to_end() -> None:
    done = subprocess.run([_script(), "profile", *MBV2, "--json"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["macs"] == 300_774_272
    bad = subprocess.run([_script(), "profile", "mobilenetv2", "--arch", "b1.k=4"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.splitlines() == [bad.stderr.strip()] and bad.stderr.startswith("archspace: error:")


# -- tables in an 80-column terminal -----------------------------------------------------------
def narrow(*args: str) -> list[str]:
    """The output lines of a command run with COLUMNS=80; every one fits (except the ``#i ARCH``
    lines of profile, printed whole so that they can be copied)."""
    res = CliRunner(env={"COLUMNS": "80"}).invoke(cli, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    too_long = [line for line in lines if len(line) > 80 and not line.startswith("#")]
    assert not too_long, too_long
    return lines


def cells(lines: list[str]) -> set[str]:
    """Every cell's text, line by line (a table cell never spans a column separator)."""
    return {c.strip() for line in lines for c in line.replace("┃", "│").split("│")}


def test_spaces_table_fits_80_columns_with_whole_sizes() -> None:
    lines = narrow("spaces")
    text = "\n".join(lines)
    for row in json.loads(ok("spaces", "--json")):
        assert any(str(row["size"]) in line.split() or str(row["size"]) in cells([line])
                   for line in lines), row["name"]  # on one line, never split
        assert row["name"] in text


def test_profile_detail_fits_80_columns_with_whole_numbers() -> None:
    rec = json.loads(ok("profile", *MBV2, "--json", "--detail"))
    rows = {line.split()[0]: line.split() for line in narrow("profile", *MBV2, "--detail")
            if line.split()}
    for layer in rec["layers"]:
        row = rows[layer["name"]]
        assert "x".join(map(str, layer["shape"])) in row, layer["name"]
        for key in ("params", "macs", "flash_bytes", "sram_bytes"):
            assert f"{layer[key]:,}" in row, (layer["name"], key)
    summary = cells(narrow("profile", *MBV2))
    assert {f"{rec[k]:,}" for k in ("params", "macs", "peak_sram_bytes", "flash_bytes")} <= summary


def test_profile_detail_of_a_cell_space_fits_80_columns() -> None:
    rec = json.loads(ok("profile", "autodeeplab", "--sample", "1", "--seed", "0", "--json",
                        "--detail"))
    words = {w for line in narrow("profile", "autodeeplab", "--sample", "1", "--seed", "0",
                                  "--detail") for w in line.split()}
    for layer in rec["layers"]:
        assert {f"{layer['macs']:,}", f"{layer['sram_bytes']:,}"} <= words, layer["name"]


@pytest.mark.parametrize("command", ["estimators", "strategies"])
def test_listings_fit_80_columns_with_whole_options(command: str) -> None:
    found = cells(narrow(command))
    for row in json.loads(ok(command, "--json")):
        assert row["name"] in found
        for o in row.get("options", ()):
            assert f"{o['name']}={o['default']}" in found, (row["name"], o["name"])
