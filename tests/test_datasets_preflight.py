"""Bad dataset files on the command line: ``archspace search`` refuses each in one line, exit
status 2, before any network is trained and before the study file is written (the dataset is
loaded when the study's pieces are built: archspace.study.preflight). The datasets layer's own
tests (test_datasets_cifar.py, test_datasets_imagefolder.py) check the wording in detail."""

from __future__ import annotations

import io
import re
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from _dataset_files import png_bytes, tree, write_cifar, write_tree
from archspace.cli import cli
from archspace.estimators.train import TrainEstimator


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHSPACE_CACHE_DIR", str(tmp_path / "cache"))


def _tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


TWO_CLASSES = tree({"": {"a": 2, "b": 2}})


def _missing_cifar(tmp: Path) -> list[str]:
    return ["dataset=cifar10", f"root={tmp / 'empty'}"]


def _corrupt_cifar_batch(tmp: Path) -> list[str]:
    write_cifar(tmp / "data", "cifar10", replace={"data_batch_4": b"\x80\x02}q\x01(U\x04da"})
    return ["dataset=cifar10", f"root={tmp / 'data'}"]


def _cifar_batch_missing(tmp: Path) -> list[str]:
    (write_cifar(tmp / "data", "cifar100") / "test").unlink()
    return ["dataset=cifar100", f"root={tmp / 'data'}"]


def _corrupt_cifar_archive(tmp: Path) -> list[str]:
    (tmp / "data").mkdir()
    (tmp / "data" / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    return ["dataset=cifar10", f"root={tmp / 'data'}"]


def _no_class_folders(tmp: Path) -> list[str]:
    write_tree(tmp / "flat", {f"{i}.png": png_bytes(8, seed=i) for i in range(4)})
    return [f"dataset=imagefolder:{tmp / 'flat'}"]


def _one_class_folder(tmp: Path) -> list[str]:
    write_tree(tmp / "one", tree({"": {"a": 3}}))
    return [f"dataset=imagefolder:{tmp / 'one'}"]


def _tar_member_outside(tmp: Path) -> list[str]:
    _tar(tmp / "x.tar.gz", {**TWO_CLASSES, "../../evil.png": png_bytes(8)})
    return [f"dataset=imagefolder:{tmp / 'x.tar.gz'}"]


def _zip_member_absolute(tmp: Path) -> list[str]:
    _zip(tmp / "x.zip", {**TWO_CLASSES, "/etc/evil.png": png_bytes(8)})
    return [f"dataset=imagefolder:{tmp / 'x.zip'}"]


def _corrupt_image(tmp: Path) -> list[str]:
    write_tree(tmp / "t", {**TWO_CLASSES, "b/broken.png": b"\x89PNG\r\n\x1a\n broken"})
    return [f"dataset=imagefolder:{tmp / 't'}"]


def _missing_folder(tmp: Path) -> list[str]:
    return [f"dataset=imagefolder:{tmp / 'nowhere'}"]


CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "missing cifar": (_missing_cifar, r"dataset 'cifar10' not found: looked for .* allowed: "
                                      r"root=DIR"),
    "corrupt cifar batch": (_corrupt_cifar_batch, r"data_batch_4 is corrupt \(.*\); allowed: the "
                                                  r"official file"),
    "cifar batch missing": (_cifar_batch_missing, r"cifar-100-python lacks test; allowed: a "
                                                  r"folder with train, test, meta"),
    "corrupt cifar archive": (_corrupt_cifar_archive, r"cannot read archive .*"
                                                      r"cifar-10-python.tar.gz"),
    "no class folders": (_no_class_folders, r"has images but no class subfolders; allowed: one "
                                            r"subfolder of images per class"),
    "one class folder": (_one_class_folder, r"has 1 class folder\(s\) with images; need at "
                                            r"least 2"),
    "tar member outside": (_tar_member_outside, r"has a member '../../evil.png' outside its "
                                                r"root; allowed: relative paths"),
    "zip member absolute": (_zip_member_absolute, r"has a member '/etc/evil.png' outside its "
                                                  r"root"),
    "corrupt image": (_corrupt_image, r"cannot read image 'b/broken.png' in .*; allowed image "
                                      r"types: .png"),
    "missing folder": (_missing_folder, r"is not a directory or an archive; allowed: a folder "
                                        r"with one subfolder of images per class"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_dataset_is_one_line_before_any_training(case: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    make, message = CASES[case]
    options = make(tmp_path)
    monkeypatch.setattr(TrainEstimator, "train", lambda *a, **k: pytest.fail("trained"))
    study = tmp_path / "s.db"
    for estimator in ("train", "synflow"):  # and a data-dependent zero-cost proxy
        args = ["search", "--space", "nb201", "-p", "C=4", "-p", "N=1", "--estimator",
                estimator, "--strategy", "random", "--budget", "2", "--study", str(study),
                "--no-progress"]
        res = CliRunner().invoke(cli, [*args, *(a for o in options for a in ("-e", o))])
        assert res.exit_code == 2, res.output
        (line,) = res.stderr.splitlines()
        assert line.startswith("archspace: error: ") and "Traceback" not in res.output
        assert re.search(message, line), line
        assert not study.exists()
