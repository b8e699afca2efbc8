"""Datasets: digits, the torchvision loaders (with a stand-in torchvision), image folders."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from _dataset_files import write_cifar
from archspace.datasets import DatasetError, load_dataset, native
from archspace.datasets.core import split_indices
from archspace.errors import ArchspaceError


def test_digits_split_is_stratified_fixed_and_standardised() -> None:
    d = native("digits")
    assert d.num_classes == 10 and d.in_channels == 1 and d.resolution == 8
    assert len(d.y_train) + len(d.y_val) == 1797
    assert len(d.y_val) == pytest.approx(0.2 * 1797, abs=10)
    counts = torch.bincount(d.y_val, minlength=10)
    assert int(counts.min()) >= 30
    assert abs(float(d.x_train.mean())) < 1e-4 and float(d.x_train.std()) == pytest.approx(1, abs=1e-3)
    assert native("digits") is d
    tr, va = split_indices(torch.arange(50) % 5, 0.2)
    assert len(va) == 10 and not set(tr.tolist()) & set(va.tolist())
    assert torch.equal(va, split_indices(torch.arange(50) % 5, 0.2)[1])


def test_resize_repeat_channels_and_cache() -> None:
    d = load_dataset("digits", resolution=20, channels=3)
    assert tuple(d.x_train.shape[1:]) == (3, 20, 20) and tuple(d.x_val.shape[1:]) == (3, 20, 20)
    assert torch.equal(d.x_train[:, 0], d.x_train[:, 2])
    assert load_dataset("digits", resolution=20, channels=3) is d
    assert d.y_train is native("digits").y_train
    small = load_dataset("digits", resolution=4)
    assert tuple(small.x_train.shape[1:]) == (1, 4, 4)


def test_unknown_dataset_lists_the_allowed() -> None:
    with pytest.raises(DatasetError, match="unknown dataset 'svhn'; allowed: digits, mnist, "
                                           "fashion-mnist, cifar10, cifar100, imagefolder:PATH"):
        native("svhn")
    with pytest.raises(DatasetError, match=r"val_fraction=1.5 must be a number in \(0, 1\)"):
        native("digits", val_fraction=1.5)
    assert issubclass(DatasetError, ArchspaceError)


def test_missing_torchvision_explains_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    with pytest.raises(DatasetError, match=r"needs torchvision.*pip install 'archspace\[vision\]'"):
        native("mnist", root="/nonexistent-a")


def _fake_torchvision(monkeypatch: pytest.MonkeyPatch, present: bool) -> list[dict[str, object]]:
    calls: list[dict[str, object]] = []

    class Fake:
        def __init__(self, root: str, train: bool, download: bool) -> None:
            calls.append({"cls": type(self).__name__, "root": root, "train": train,
                          "download": download})
            if type(self).__name__ == "CIFAR10":  # what torchvision's download leaves
                write_cifar(Path(root), "cifar10", archive=True)
                return
            if not present:
                raise RuntimeError("Dataset not found. You can use download=True to download it")
            n = 30
            self.targets = [i % 3 for i in range(n)]
            self.classes = ["a", "b", "c"]
            rng = np.random.default_rng(0)  # a uint8 tensor NHW, as torchvision keeps MNIST
            self.data = torch.from_numpy(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))

    mod = types.ModuleType("torchvision.datasets")
    mod.CIFAR10 = type("CIFAR10", (Fake,), {})  # type: ignore[attr-defined]
    mod.MNIST = type("MNIST", (Fake,), {})  # type: ignore[attr-defined]
    pkg = types.ModuleType("torchvision")
    pkg.datasets = mod  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchvision", pkg)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", mod)
    return calls


def test_torchvision_loading_code(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = _fake_torchvision(monkeypatch, present=True)
    mn = native("mnist", root=str(tmp_path))
    assert calls[-1] == {"cls": "MNIST", "root": str(tmp_path), "train": True, "download": False}
    assert mn.in_channels == 1 and mn.resolution == 28 and mn.classes == ("a", "b", "c")
    assert len(mn.y_train) == 24 and len(mn.y_val) == 6
    mn = load_dataset("mnist", resolution=16, channels=3, root=str(tmp_path))
    assert tuple(mn.x_train.shape[1:]) == (3, 16, 16)


def test_torchvision_missing_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_torchvision(monkeypatch, present=False)
    with pytest.raises(DatasetError, match=f"'mnist' not found under {tmp_path}.*download=true"):
        native("mnist", root=str(tmp_path))


def test_cifar_download_fetches_with_torchvision_and_reads_it_here(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARCHSPACE_CACHE_DIR", str(tmp_path / "cache"))
    calls = _fake_torchvision(monkeypatch, present=True)
    d = native("cifar10", root=str(tmp_path / "data"), download=True)
    assert calls == [{"cls": "CIFAR10", "root": str(tmp_path / "data"), "train": True,
                      "download": True}]
    assert d.num_classes == 10 and len(d.y_train) == 20
    native("cifar10", root=str(tmp_path / "data"), download=True, val_split="train")
    assert len(calls) == 1  # found: not downloaded again


def _write_images(root: Path, mode: str, sizes: dict[str, list[int]]) -> None:
    from PIL import Image

    rng = np.random.default_rng(1)
    for cls, sides in sizes.items():
        (root / cls).mkdir(parents=True)
        for k, side in enumerate(sides):
            shape = (side, side + 2) + ((3,) if mode == "RGB" else ())
            arr = rng.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(arr, mode).save(root / cls / f"{k}.png")


def test_imagefolder_reads_class_folders(tmp_path: Path) -> None:
    _write_images(tmp_path / "rgb", "RGB", {"cat": [10, 12, 12], "dog": [12, 14], "emu": [16, 12]})
    (tmp_path / "rgb" / "notes.txt").write_text("ignored")
    d = native(f"imagefolder:{tmp_path / 'rgb'}")
    assert d.classes == ("cat", "dog", "emu") and d.in_channels == 3 and d.resolution == 12
    assert len(d.y_train) + len(d.y_val) == 7 and sorted(set(d.y_val.tolist())) == [0, 1, 2]
    _write_images(tmp_path / "gray", "L", {"0": [8, 8], "1": [8, 8]})
    g = load_dataset("imagefolder", resolution=16, channels=3, root=str(tmp_path / "gray"))
    assert native("imagefolder", root=str(tmp_path / "gray")).in_channels == 1
    assert tuple(g.x_train.shape[1:]) == (3, 16, 16)


def test_imagefolder_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="is not a directory or an archive"):
        native(f"imagefolder:{tmp_path / 'missing'}")
    _write_images(tmp_path / "one", "L", {"only": [8, 8]})
    with pytest.raises(DatasetError, match=r"has 1 class folder.*need at least 2"):
        native(f"imagefolder:{tmp_path / 'one'}")
    with pytest.raises(DatasetError, match="needs a directory"):
        native("imagefolder")
    _write_images(tmp_path / "rgb", "RGB", {"a": [8, 8], "b": [8, 8]})
    with pytest.raises(DatasetError, match="3-channel images but the network takes 1"):
        load_dataset(f"imagefolder:{tmp_path / 'rgb'}", channels=1)
