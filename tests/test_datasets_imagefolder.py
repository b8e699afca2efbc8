"""ImageFolder trees: folders, .tar/.tar.gz/.zip archives, splits, refusals, the shared CIFAR-10."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from _dataset_files import png_bytes, tree, write_tree
from archspace.datasets import DatasetError, native
from archspace.datasets import imagefolder as imf
from archspace.datasets.imagefolder import load_imagefolder

SHARED_CIFAR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / \
    "cifar10-jpeg.tar.gz"
SPLIT = tree({"train": {"cat": 3, "dog": 2, "emu": 2}, "test": {"cat": 1, "dog": 1, "emu": 1}})


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ARCHSPACE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _tar(path: Path, files: dict[str, bytes], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tar:
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


def test_split_folder_validates_on_its_test_split(tmp_path: Path) -> None:
    write_tree(tmp_path / "t", SPLIT)
    images = load_imagefolder(tmp_path / "t")
    assert images.classes == ("cat", "dog", "emu") and images.x.shape == (7, 3, 8, 8)
    assert images.y.tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert images.y_test is not None and images.y_test.tolist() == [0, 1, 2]
    d = native(f"imagefolder:{tmp_path / 't'}")
    assert len(d.y_train) == 7 and len(d.y_val) == 3
    with pytest.raises(DatasetError, match="no held-out split of its own"):
        write_tree(tmp_path / "single", tree({"": {"a": 2, "b": 2}}))
        native(f"imagefolder:{tmp_path / 'single'}", val_split="test")


def test_val_folder_is_preferred_to_test(tmp_path: Path) -> None:
    files = {**SPLIT, **tree({"val": {"cat": 2, "dog": 2}})}
    images = load_imagefolder(write_tree(tmp_path / "t", files))
    assert images.y_test is not None and images.y_test.tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".zip"])
def test_archives_read_as_the_folder(tmp_path: Path, suffix: str) -> None:
    folder = load_imagefolder(write_tree(tmp_path / "t", SPLIT))
    wrapped = {f"./mydata/{k}": v for k, v in SPLIT.items()}  # a wrapper folder is looked through
    path = tmp_path / f"data{suffix}"
    if suffix == ".zip":
        _zip(path, wrapped)
    else:
        _tar(path, wrapped, "w:gz" if suffix.endswith("gz") else "w")
    images = load_imagefolder(path)
    assert images.classes == folder.classes and np.array_equal(images.x, folder.x)
    assert images.x_test is not None and folder.x_test is not None
    assert np.array_equal(images.x_test, folder.x_test)


def test_single_tree_split_by_val_fraction_seeded_and_stratified(tmp_path: Path) -> None:
    path = _tar(tmp_path / "one.tar", tree({"": {"a": 10, "b": 10, "c": 5}}))
    d = native(f"imagefolder:{path}", val_fraction=0.2)
    assert sorted(d.y_val.tolist()) == [0, 0, 1, 1, 2]
    again = native(f"imagefolder:{path}", val_fraction=0.2, val_split="train")
    assert again is not d and np.array_equal(again.x_val.numpy(), d.x_val.numpy())


@pytest.mark.parametrize("name", ["../evil.png", "/abs/evil.png", "a/../../evil.png"])
def test_members_outside_the_root_are_refused(tmp_path: Path, name: str) -> None:
    files = {**tree({"": {"a": 2, "b": 2}}), name: png_bytes(8)}
    for path in (_tar(tmp_path / "x.tar", files), _zip(tmp_path / "x.zip", files)):
        with pytest.raises(DatasetError, match=f"has a member {name!r} outside its root; "
                                               "allowed: relative paths"):
            load_imagefolder(path)


def test_links_in_archives_are_refused(tmp_path: Path) -> None:
    for kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        path = tmp_path / f"link{kind!r}.tar"
        _tar(path, tree({"": {"a": 2, "b": 2}}))
        with tarfile.open(path, "a") as tar:
            info = tarfile.TarInfo("a/link.png")
            info.type, info.linkname = kind, "/etc/passwd"
            tar.addfile(info)
        with pytest.raises(DatasetError, match=r"member 'a/link.png' that is a link to "
                                               r"'/etc/passwd'; allowed: regular files"):
            load_imagefolder(path)
    path = _zip(tmp_path / "link.zip", tree({"": {"a": 2, "b": 2}}))
    with zipfile.ZipFile(path, "a") as z:
        info = zipfile.ZipInfo("b/link.png")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")
    with pytest.raises(DatasetError, match=r"member 'b/link.png' that is a symbolic link"):
        load_imagefolder(path)


def test_trees_without_class_subfolders_are_refused(tmp_path: Path) -> None:
    flat = {f"{i}.png": png_bytes(8, seed=i) for i in range(4)}
    for path in (write_tree(tmp_path / "flat", flat), _tar(tmp_path / "flat.tar", flat)):
        with pytest.raises(DatasetError, match="has images but no class subfolders; allowed: one "
                                               "subfolder of images per class"):
            load_imagefolder(path)
    loose = tree({"train": {"a": 2, "b": 2}}) | {f"test/{i}.png": png_bytes(8) for i in range(2)}
    with pytest.raises(DatasetError, match=r"/test' has images but no class subfolders"):
        load_imagefolder(_tar(tmp_path / "loose.tar", loose))
    extra = tree({"train": {"a": 2, "b": 2}, "test": {"a": 1, "zebra": 1}})
    with pytest.raises(DatasetError, match=r"test has class folder.s. zebra that .*train lacks"):
        load_imagefolder(_tar(tmp_path / "extra.tar", extra))


def test_corrupt_image_and_archive_are_named(tmp_path: Path) -> None:
    files = {**tree({"": {"a": 2, "b": 2}}), "b/broken.png": b"\x89PNG not really"}
    with pytest.raises(DatasetError, match=r"cannot read image 'b/broken.png' in .*x.tar"):
        load_imagefolder(_tar(tmp_path / "x.tar", files))
    (tmp_path / "bad.tar.gz").write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(DatasetError, match=r"cannot read archive .*bad.tar.gz"):
        load_imagefolder(tmp_path / "bad.tar.gz")
    with pytest.raises(DatasetError, match="is not a directory or an archive"):
        load_imagefolder(tmp_path / "absent.zip")


def test_differing_sizes_and_modes_are_made_uniform(tmp_path: Path) -> None:
    files = {"a/0.png": png_bytes(10, width=14), "a/1.png": png_bytes(12),
             "b/0.png": png_bytes(16, mode="L"), "b/1.png": png_bytes(12)}
    path = _zip(tmp_path / "mixed.zip", files)
    images = load_imagefolder(path)
    assert images.x.shape == (4, 3, 12, 12)  # the median shorter side; gray repeated to RGB
    assert np.array_equal(images.x[2, 0], images.x[2, 2])
    assert np.array_equal(images.x[1], load_imagefolder(write_tree(tmp_path / "f", files)).x[1])
    assert load_imagefolder(path, image_size=6).x.shape == (4, 3, 6, 6)
    gray = {"a/0.png": png_bytes(8, "L"), "b/0.png": png_bytes(8, "L", 1)}
    assert load_imagefolder(_zip(tmp_path / "g.zip", gray)).x.shape == (2, 1, 8, 8)


def test_decoded_once_per_content(tmp_path: Path, _cache: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_tree(tmp_path / "t", SPLIT)
    archive = _tar(tmp_path / "t.tar", SPLIT)
    first, first_tar = load_imagefolder(folder), load_imagefolder(archive)
    assert len(list((_cache / "datasets").iterdir())) == 2
    decoded: list[str] = []
    real = imf._decode_tree
    monkeypatch.setattr(imf, "_decode_tree", lambda *a: decoded.append(a[1]) or real(*a))
    assert np.array_equal(load_imagefolder(folder).x, first.x)
    assert np.array_equal(load_imagefolder(archive).x, first_tar.x) and decoded == []
    (folder / "train" / "cat" / "new.png").write_bytes(png_bytes(8, seed=7))
    assert load_imagefolder(folder).x.shape[0] == 8 and decoded == [str(folder)]
    # the entry of the folder as it is now (the newest; directory order is arbitrary)
    entry = max((_cache / "datasets").iterdir(), key=lambda p: p.stat().st_mtime_ns)
    (entry / "x.npy").write_bytes(b"damaged")  # a damaged entry is decoded again and replaced
    load_imagefolder(folder)
    load_imagefolder(archive)
    assert len(decoded) == 2


@pytest.mark.skipif(not SHARED_CIFAR.is_file(),
                    reason=f"the shared CIFAR-10 ({SHARED_CIFAR}) is absent in this checkout")
def test_shared_cifar10_loads_and_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    images = load_imagefolder(SHARED_CIFAR)
    assert images.x.shape == (50000, 3, 32, 32) and images.x.dtype == np.uint8
    assert images.x_test is not None and images.x_test.shape == (10000, 3, 32, 32)
    assert images.classes == ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                              "horse", "ship", "truck")
    assert np.bincount(images.y).tolist() == [5000] * 10
    monkeypatch.setattr(imf, "_decode_tree", lambda *a: pytest.fail("decoded again"))
    again = load_imagefolder(SHARED_CIFAR)
    assert np.array_equal(again.x_test, images.x_test)
