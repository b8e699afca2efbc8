"""CIFAR-10/100 from the official python-format files, read without torchvision."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from _dataset_files import cifar_batch, py2_pickle, write_cifar
from archspace.cli import cli
from archspace.datasets import DatasetError, native
from archspace.datasets.cifar import load_cifar


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ARCHSPACE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _no_torchvision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)


@pytest.mark.parametrize("archive", [False, True])
def test_cifar10_reads_the_official_files(tmp_path: Path, archive: bool,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _no_torchvision(monkeypatch)
    write_cifar(tmp_path / "data", "cifar10", archive=archive)
    images = load_cifar("cifar10", tmp_path / "data")
    assert images.x.shape == (20, 3, 32, 32) and images.x.dtype == np.uint8
    assert images.x_test is not None and images.x_test.shape == (4, 3, 32, 32)
    assert images.classes == tuple(f"c{i}" for i in range(10))
    # row-major 3x32x32 per row: the first 1024 bytes are the red plane
    raw = np.random.default_rng(1).integers(0, 256, (4, 3072), dtype=np.uint8)
    assert np.array_equal(images.x[:4].reshape(4, -1), raw)
    assert images.y.tolist()[:5] == [0, 1, 2, 3, 0]
    d = native("cifar10", root=str(tmp_path / "data"))
    assert (d.in_channels, d.resolution, d.num_classes) == (3, 32, 10)
    assert len(d.y_train) == 20 and len(d.y_val) == 4  # validated on the test batch
    held = native("cifar10", root=str(tmp_path / "data"), val_split="train", val_fraction=0.25)
    assert len(held.y_train) + len(held.y_val) == 20


def test_cifar100_fine_labels_and_root_naming_the_folder(tmp_path: Path) -> None:
    folder = write_cifar(tmp_path, "cifar100")
    for root in (tmp_path, folder):
        images = load_cifar("cifar100", root)
        assert len(images.classes) == 100 and images.classes[7] == "f7"
        assert images.x.shape == (20, 3, 32, 32) and images.y.tolist()[:3] == [0, 1, 2]


def test_tampered_pickle_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (exec, (f"open({str(marker)!r}, 'w').write('ran')",))

    batch = cifar_batch(4, 10, 1)
    batch[b"labels"] = Evil()  # type: ignore[assignment]
    write_cifar(tmp_path / "data", "cifar10", replace={"data_batch_3": py2_pickle(batch)})
    assert not marker.exists()
    pickle.loads(py2_pickle(Evil()))  # the test's own check: the payload works when unrestricted
    assert marker.exists()
    marker.unlink()
    with pytest.raises(DatasetError, match=r"data_batch_3 is not a CIFAR data file: it names "
                                           r"(__builtin__|builtins)\.exec, refused unrun"):
        load_cifar("cifar10", tmp_path / "data")
    assert not marker.exists()


def test_cli_refuses_a_tampered_file_in_one_line(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str, str]]:
            return (open, (str(marker), "w"))

    write_cifar(tmp_path / "data", "cifar10", replace={"batches.meta": py2_pickle(Evil())})
    res = CliRunner().invoke(cli, ["search", "--space", "nb201", "-p", "C=4", "-p", "N=1",
                                   "--estimator", "train", "-e", "dataset=cifar10", "-e",
                                   f"root={tmp_path / 'data'}", "--strategy", "random",
                                   "--budget", "1", "--study", str(tmp_path / "s.db")])
    assert res.exit_code == 2, res.output
    (line,) = res.stderr.splitlines()
    assert line.startswith("archspace: error: dataset 'cifar10': ")
    assert "Traceback" not in res.output
    assert "batches.meta is not a CIFAR data file: it names io.open, refused unrun" in line
    assert not marker.exists() and not (tmp_path / "s.db").exists()


def test_corrupt_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"'cifar10' not found: looked for .*cifar-10-batches-py "
                                           r"or .*cifar-10-python.tar.gz; allowed: root=DIR"):
        load_cifar("cifar10", tmp_path / "empty")
    folder = write_cifar(tmp_path / "a", "cifar10", replace={"test_batch": b"\x80\x02}q\x01(U"})
    with pytest.raises(DatasetError, match=r"test_batch is corrupt \("):
        load_cifar("cifar10", tmp_path / "a")
    (folder / "data_batch_2").unlink()
    with pytest.raises(DatasetError, match=r"lacks data_batch_2"):
        load_cifar("cifar10", tmp_path / "a")
    bad = cifar_batch(4, 10, 1)
    bad[b"labels"] = [0, 1, 2, 11]
    write_cifar(tmp_path / "b", "cifar10", replace={"data_batch_1": py2_pickle(bad)})
    with pytest.raises(DatasetError, match=r"data_batch_1: 'labels' is not one label in \[0, 10\)"):
        load_cifar("cifar10", tmp_path / "b")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "cifar-10-python.tar.gz").write_bytes(b"not a gzip file")
    with pytest.raises(DatasetError, match=r"cannot read archive .*cifar-10-python.tar.gz"):
        load_cifar("cifar10", tmp_path / "c")


def test_decoded_once_then_read_from_the_cache(tmp_path: Path, _cache: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from archspace.datasets import cifar

    write_cifar(tmp_path / "data", "cifar10", archive=True)
    first = load_cifar("cifar10", tmp_path / "data")
    (entry,) = (_cache / "datasets").iterdir()
    assert sorted(p.name for p in entry.iterdir()) == ["meta.json", "x.npy", "x_test.npy",
                                                       "y.npy", "y_test.npy"]
    monkeypatch.setattr(cifar, "_assemble", lambda *a: pytest.fail("decoded again"))
    again = load_cifar("cifar10", tmp_path / "data")
    assert np.array_equal(first.x, again.x) and again.classes == first.classes
    assert torch.equal(torch.from_numpy(first.y_test), torch.from_numpy(again.y_test))
