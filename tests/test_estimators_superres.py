"""The ``superres`` estimator: Y-channel PSNR/SSIM, the SR patch sources (bundled photos,
DIV2K, a folder of HR images), training, and the CLI end to end (search, resume, report,
export, bad input)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from PIL import Image

from archspace import get_space
from archspace.cli import cli
from archspace.datasets import DatasetError
from archspace.datasets.superres import load_superres
from archspace.estimators import EstimatorError, get_estimator
from archspace.estimators.sr_metrics import MAX_PSNR, bicubic, rgb_to_y, sr_scores
from archspace.estimators.superres import flip_pairs
from archspace.report.data import gather, trained_network

TINY = {"lr_patch": 8, "train_patches": 16, "val_patches": 4, "epochs": 0.5, "batch_size": 8,
        "device": "cpu"}
SPACE = ["--space", "trilevel", "-p", "channels=4", "-p", "layers=2"]
TINY_CLI = [x for k, v in TINY.items() for x in ("-e", f"{k}={v}")]


def _png(path: Path, size: tuple[int, int], seed: int, value: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w, h = size
    a = rng.integers(0, 256, (h, w, 3), dtype=np.uint8) if value is None else \
        np.full((h, w, 3), value, np.uint8)
    Image.fromarray(a).save(path)


# -- metrics ---------------------------------------------------------------------------------
def test_y_channel_is_bt601() -> None:
    x = torch.zeros(1, 3, 1, 1)
    assert float(rgb_to_y(x)) == pytest.approx(16.0)
    x[:, :, :, :] = 1.0
    assert float(rgb_to_y(x)) == pytest.approx(235.0)
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    assert float(rgb_to_y(red)) == pytest.approx(16 + 65.481)


def test_psnr_is_pooled_and_shaves_the_border() -> None:
    gen = torch.Generator().manual_seed(0)
    hr = torch.rand(3, 3, 20, 20, generator=gen)
    assert sr_scores(hr, hr, 2) == (MAX_PSNR, pytest.approx(1.0))
    sr = hr.clone()
    sr[..., :2, :] = 0.0  # damage only the shaved border
    assert sr_scores(sr, hr, 2)[0] == MAX_PSNR
    noisy = (hr + 0.05 * torch.randn(hr.shape, generator=gen)).clamp(0, 1)
    a, b = rgb_to_y(noisy.double())[..., 2:-2, 2:-2], rgb_to_y(hr.double())[..., 2:-2, 2:-2]
    want = 10 * math.log10(255.0 ** 2 / float(((a - b) ** 2).mean()))
    psnr, ssim = sr_scores(noisy, hr, 2)
    assert psnr == pytest.approx(want, abs=1e-4) and 0 < ssim < 1


def test_flips_move_lr_and_hr_together() -> None:
    lr = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4)
    hr = F.interpolate(lr, scale_factor=2, mode="nearest")
    a, b = flip_pairs(lr, hr, torch.Generator().manual_seed(3))
    assert torch.equal(F.interpolate(a, scale_factor=2, mode="nearest"), b)


# -- data ------------------------------------------------------------------------------------
def test_photos_patches_validate_on_regions_never_trained() -> None:
    d = load_superres("photos", 2, 8, 12, 6)
    assert d.lr_train.shape == (12, 3, 8, 8) and d.hr_train.shape == (12, 3, 16, 16)
    assert d.lr_val.shape == (6, 3, 8, 8) and d.hr_val.shape == (6, 3, 16, 16)
    assert float(d.hr_train.min()) >= 0.0 and float(d.hr_train.max()) <= 1.0
    again = load_superres("photos", 2, 8, 12, 6, seed=0)
    assert again is d  # cached in memory
    assert not any(torch.equal(v, t) for v in d.hr_val for t in d.hr_train)


def test_lr_is_the_bicubic_downsampling_of_hr(tmp_path: Path) -> None:
    for k in range(3):
        _png(tmp_path / "hr" / f"{k}.png", (40, 36), k)
    d = load_superres(f"srfolder:{tmp_path / 'hr'}", 2, 8, 4, 2)
    hr = (d.hr_train[0] * 255).round().to(torch.uint8).numpy().transpose(1, 2, 0)
    lr = np.asarray(Image.fromarray(hr).resize((8, 8), Image.Resampling.BICUBIC))
    assert np.array_equal((d.lr_train[0] * 255).round().to(torch.uint8).numpy(),
                          lr.transpose(2, 0, 1))


def test_srfolder_with_train_and_val_folders(tmp_path: Path) -> None:
    _png(tmp_path / "train" / "a.png", (24, 24), 0)
    _png(tmp_path / "train" / "b.png", (30, 24), 1)
    _png(tmp_path / "val" / "c.png", (24, 24), 2, value=7)
    d = load_superres(f"srfolder:{tmp_path}", 3, 8, 6, 2)
    assert d.hr_train.shape == (6, 3, 24, 24)
    assert torch.all((d.hr_val * 255).round() == 7)  # the val image only


def test_div2k_uses_the_official_lr_images(tmp_path: Path) -> None:
    for part, k in (("train", "0001"), ("train", "0002"), ("valid", "0801")):
        _png(tmp_path / f"DIV2K_{part}_HR" / f"{k}.png", (32, 32), int(k))
        _png(tmp_path / f"DIV2K_{part}_LR_bicubic" / "X2" / f"{k}x2.png", (16, 16), 0, value=99)
    d = load_superres(f"div2k:{tmp_path}", 2, 8, 4, 2)
    assert torch.all((d.lr_train * 255).round() == 99) and torch.all((d.lr_val * 255).round() == 99)
    d4 = load_superres(f"div2k:{tmp_path}", 4, 4, 4, 2)  # no X4 folder: degraded here
    assert not torch.all((d4.lr_train * 255).round() == 99)


def test_bad_sources_are_named(tmp_path: Path) -> None:
    _png(tmp_path / "small" / "a.png", (12, 40), 0)
    _png(tmp_path / "small" / "b.png", (40, 40), 1)
    with pytest.raises(DatasetError, match=r"HR image .*12x40.* smaller than the 16x16"):
        load_superres(f"srfolder:{tmp_path / 'small'}", 2, 8, 4, 2)
    with pytest.raises(DatasetError, match="unknown super-resolution dataset"):
        load_superres("set5")
    with pytest.raises(DatasetError, match="DIV2K_train_HR"):
        load_superres(f"div2k:{tmp_path}")
    _png(tmp_path / "one" / "a.png", (40, 40), 0)
    with pytest.raises(DatasetError, match="at least 2"):
        load_superres(f"srfolder:{tmp_path / 'one'}", 2, 8)


# -- the estimator ---------------------------------------------------------------------------
def test_evaluate_scores_psnr_and_the_gain_over_bicubic() -> None:
    space = get_space("trilevel", channels=4, layers=2)
    est = get_estimator("superres", **TINY)
    est.check_space(space)
    arch = space.sample(0)
    m = est.evaluate(space, arch, 0)
    assert m["psnr_gain"] == pytest.approx(m["psnr_y"] - m["bicubic_psnr_y"])
    data = est.patches(2)
    assert (m["bicubic_psnr_y"], m["bicubic_ssim_y"]) == \
        sr_scores(bicubic(data.lr_val, 2), data.hr_val, 2)
    assert m["scale"] == 2 and m["resolution"] == 8 and m["steps"] == 1
    assert m["params"] == space.profile(arch, 8).params
    again = est.evaluate(space, arch, 0)  # deterministic on the CPU
    assert {k: v for k, v in again.items() if k != "train_seconds"} == \
        {k: v for k, v in m.items() if k != "train_seconds"}


def test_scale_option_refits_the_space() -> None:
    space = get_space("trilevel", channels=4, layers=2)
    est = get_estimator("superres", **{**TINY, "scale": 3})
    fitted, r = est.adapted(space)
    assert fitted.scale == 3 and r == 8  # type: ignore[attr-defined]
    est.check_space(space)
    with pytest.raises(EstimatorError, match="2, 3 or 4"):
        get_estimator("superres", scale=5)


def test_a_space_without_an_sr_head_is_refused() -> None:
    est = get_estimator("superres", **TINY)
    with pytest.raises(EstimatorError, match="no super-resolution head"):
        est.check_space(get_space("nb201"))
    small = get_space("trilevel", levels=1, channels=4)
    small.min_resolution = 4  # a space taking tiny inputs: the HR patch must hold SSIM's window
    with pytest.raises(EstimatorError, match="lr_patch >= 8"):
        get_estimator("superres", **{**TINY, "lr_patch": 5}).check_space(small)


# -- end to end ------------------------------------------------------------------------------
def test_cli_search_resume_report_export(tmp_path: Path) -> None:
    db, runner = tmp_path / "s.db", CliRunner()
    r = runner.invoke(cli, ["search", *SPACE, "--estimator", "superres", *TINY_CLI,
                            "--strategy", "evolution", "--budget", "2", "--seed", "0",
                            "--study", str(db), "--constraint", "macs<=2e6"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["resume", str(db), "--budget", "3"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["report", str(db), "-o", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "rep" / "sr_crops.png").read_bytes().startswith(b"\x89PNG")
    assert "sr_crops.png" in (tmp_path / "rep" / "index.html").read_text()
    assert "x2 super-resolution, 8x8 input" in trained_network(gather(db)).description
    r = runner.invoke(cli, ["export", str(db), "-o", str(tmp_path / "ex")])
    assert r.exit_code == 0, r.output
    info = json.loads((tmp_path / "ex" / "arch.json").read_text())
    assert info["network"]["weights"] == "trained"
    assert info["network"]["output_shape"] == [3, 16, 16]
    assert "no standardisation" in info["network"]["input"] and "preprocessing" not in info["network"]


@pytest.mark.parametrize(("args", "words"), [
    (["--space", "nb201"], "no super-resolution head"),
    ([*SPACE, "-e", "dataset=set14"], "photos, div2k:PATH or srfolder:PATH"),
    ([*SPACE, "-e", "lr_patch=400"], "smaller than the 800x800 HR patch"),
])
def test_cli_bad_input_is_one_line(tmp_path: Path, args: list[str], words: str) -> None:
    r = CliRunner().invoke(cli, ["search", *args, "--estimator", "superres", "--strategy",
                                 "random", "--budget", "1", "--study", str(tmp_path / "b.db")])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("archspace: error:") and words in lines[0]


def test_cli_srfolder_with_a_small_hr_image_is_one_line(tmp_path: Path) -> None:
    _png(tmp_path / "hr" / "a.png", (40, 40), 0)
    _png(tmp_path / "hr" / "b.png", (40, 12), 1)
    r = CliRunner().invoke(cli, ["search", *SPACE, "--estimator", "superres", *TINY_CLI, "-e",
                                 f"dataset=srfolder:{tmp_path / 'hr'}", "--strategy", "random",
                                 "--budget", "1", "--study", str(tmp_path / "b.db")])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("archspace: error:"), r.output
    assert "HR image b.png is 40x12, smaller than the 16x16 HR patch" in lines[0]


def test_a_continued_run_equals_a_straight_one(tmp_path: Path) -> None:
    space = get_space("trilevel", channels=4, layers=2)
    est = get_estimator("superres", **{**TINY, "horizon": 2.0})
    arch = space.sample(1)
    est.evaluate_at(space, arch, 0, 1.0, checkpoint=tmp_path / "a.pt")
    resumed = est.evaluate_at(space, arch, 0, 2.0, warm_start=tmp_path / "a.pt")
    straight = est.evaluate_at(space, arch, 0, 2.0)
    assert resumed["resumed_from"] == 1.0 and resumed["psnr_y"] == straight["psnr_y"]
    other = get_estimator("superres", **{**TINY, "horizon": 2.0, "lr_patch": 12})
    with pytest.raises(EstimatorError, match="lr_patch"):
        other.evaluate_at(space, arch, 0, 2.0, warm_start=tmp_path / "a.pt")
