"""``archspace datasets``: what is looked for where, what is found and in what form, what the
cache holds; text in 80 columns and JSON. The datasets are tiny fakes in the official formats
(tests/_dataset_files.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from _dataset_files import tree, write_cifar, write_tree
from archspace.cli import cli
from archspace.datasets import native
from archspace.datasets.cache import cache_entries


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ROOT ($ARCHSPACE_DATA) with CIFAR-10 as its folder and CIFAR-100 as its archive; an empty
    cache ($ARCHSPACE_CACHE_DIR)."""
    monkeypatch.setenv("ARCHSPACE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ARCHSPACE_DATA", str(tmp_path / "data"))
    write_cifar(tmp_path / "data", "cifar10")
    write_cifar(tmp_path / "data", "cifar100", archive=True)
    return tmp_path / "data"


def _run(*args: str) -> Result:
    res = CliRunner(env={"COLUMNS": "80"}).invoke(cli, ["datasets", *args],
                                                  catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


class _Text(str):
    """Printed text where ``phrase in text`` ignores whitespace: lines wrap anywhere in a long
    path (a temporary folder's), between words elsewhere."""

    def __contains__(self, phrase: object) -> bool:
        return "".join(str(phrase).split()) in "".join(self.split())


def _text(*args: str) -> _Text:
    out = _run(*args).stdout
    too_long = [line for line in out.splitlines() if len(line) > 80]
    assert not too_long, too_long
    return _Text(out)


def _json(*args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(_run(*args, "--json").stdout)
    return out


def _by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in report["datasets"]}


def test_lists_every_dataset_where_it_is_looked_for_and_what_is_found(data: Path) -> None:
    text = _text()
    names = [line.split()[0] for line in text.splitlines() if line[:1].isalpha()]
    assert names[1:8] == ["digits", "mnist", "fashion-mnist", "cifar10", "cifar100",
                          "imagefolder:PATH", "ROOT"]
    assert "bundled: 1,797 training images (no held-out split" in text
    assert "found: folder ROOT/cifar-10-batches-py" in text
    assert "found: archive ROOT/cifar-100-python.tar.gz" in text
    assert "not decoded yet: the first training run (or --load) decodes and caches it" in text
    assert "looked for ROOT/MNIST" in text
    assert f"ROOT is {data} (-e root=DIR; default $ARCHSPACE_DATA" in text
    assert f"cache {data.parent / 'cache' / 'datasets'} ($ARCHSPACE_CACHE_DIR" in text
    assert "0 decoded dataset(s)" in text

    report = _by_name(_json())
    assert report["cifar10"]["found"] and report["cifar10"]["form"] == "folder"
    assert report["cifar10"]["looked_for"] == [str(data / "cifar-10-batches-py"),
                                               str(data / "cifar-10-python.tar.gz"), str(data)]
    assert report["cifar10"]["train"] is None and report["cifar10"]["cached"] is False
    assert report["cifar100"]["form"] == "archive"
    assert report["digits"] | {"looked_for": None} == {
        "name": "digits", "summary": report["digits"]["summary"], "form": "bundled",
        "path": None, "looked_for": None, "problem": None, "train": 1797, "test": None,
        "classes": 10, "resolution": 8, "channels": 1, "cached": None, "found": True}
    assert not report["mnist"]["found"] and not report["imagefolder:PATH"]["found"]


def test_load_decodes_and_caches_what_is_found(data: Path) -> None:
    text = _text("--load")
    assert "20 training + 4 held-out images, 10 classes, 32x32, 3 channels" in text
    assert "20 training + 4 held-out images, 100 classes, 32x32, 3 channels" in text
    assert "2 decoded dataset(s)" in text
    report = _json()  # now read from the cache, not decoded
    found = _by_name(report)
    assert found["cifar10"]["cached"] is True and found["cifar10"]["train"] == 20
    assert found["cifar100"] | {"summary": "", "looked_for": []} == {
        "name": "cifar100", "summary": "", "form": "archive",
        "path": str(data / "cifar-100-python.tar.gz"), "looked_for": [], "problem": None,
        "train": 20, "test": 4, "classes": 100, "resolution": 32, "channels": 3,
        "cached": True, "found": True}
    sources = sorted((e["loader"], e["source"]) for e in report["cache"]["entries"])
    assert sources == [("cifar10", str(data / "cifar-10-batches-py")),
                       ("cifar100", str(data / "cifar-100-python.tar.gz"))]
    assert report["cache"]["bytes"] == sum(e.bytes for e in cache_entries()) > 20 * 3072


def test_a_training_run_fills_the_cache_the_listing_reads(data: Path) -> None:
    native("cifar10", root=str(data))
    text = _text("cifar10")
    assert "(decoded, cached)" in text and "20 training + 4 held-out images" in text
    assert "- cifar10: 20 + 4 held-out images, 10 classes, 32x32x3" in text


def test_named_image_folders_and_another_root(data: Path, tmp_path: Path) -> None:
    good = write_tree(tmp_path / "pets", tree({"train": {"cat": 3, "dog": 2},
                                               "test": {"cat": 1, "dog": 1}}))
    flat = write_tree(tmp_path / "flat", {f"{i}.png": v for i, v in
                                          enumerate(tree({"": {"a": 2}}).values())})
    report = _by_name(_json(f"imagefolder:{good}", f"imagefolder:{flat}",
                            f"imagefolder:{tmp_path / 'nowhere.zip'}", "--load"))
    pets = report[f"imagefolder:{good}"]
    assert (pets["form"], pets["train"], pets["test"], pets["classes"], pets["resolution"]) == \
        ("folder", 5, 2, 2, 8)
    assert "has images but no class subfolders" in report[f"imagefolder:{flat}"]["problem"]
    assert not report[f"imagefolder:{tmp_path / 'nowhere.zip'}"]["found"]
    text = _text(f"imagefolder:{flat}")
    assert "problem: imagefolder:" in text and "has images but no class subfolders" in text
    other = _by_name(_json("--root", str(tmp_path / "elsewhere")))
    assert not other["cifar10"]["found"]
    assert other["cifar10"]["looked_for"][0] == str(tmp_path / "elsewhere" / "cifar-10-batches-py")


def test_an_unknown_name_is_one_line(data: Path) -> None:
    res = CliRunner().invoke(cli, ["datasets", "svhn"])
    assert res.exit_code == 2
    assert res.stderr.startswith("archspace: error: unknown dataset 'svhn'; allowed: digits")
    assert res.stderr.count("\n") == 1


def test_lists_the_dense_and_superres_sources_and_where_each_is_looked_for(
        data: Path, tmp_path: Path) -> None:
    text = _text()
    assert "datasets of the segment and detect estimators" in text
    assert "datasets of the superres estimator" in text
    for name in ("digit-scenes", "voc:PATH", "cityscapes:PATH", "coco:PATH", "photos",
                 "div2k:PATH", "srfolder:PATH"):
        assert f"\n{name}" in text, name
    assert "looks for PATH/leftImg8bit/{train,val}/CITY/*_leftImg8bit.png" in text
    assert "looks for PATH/DIV2K_train_HR/ and PATH/DIV2K_valid_HR/" in text
    report = _json()
    dense = {d["name"]: d for d in report["dense_datasets"]}
    sr = {d["name"]: d for d in report["superres_datasets"]}
    assert set(sr) == {"photos", "div2k:PATH", "srfolder:PATH"}
    assert sr["photos"]["found"] and sr["photos"]["form"] == "bundled"
    assert [Path(p).name for p in sr["photos"]["looked_for"]] == \
        ["china.jpg", "flower.jpg", "grace_hopper.jpg"]
    assert dense["digit-scenes"]["found"] and dense["coco:PATH"]["estimators"] == \
        "segment, detect"
    (tmp_path / "cs" / "leftImg8bit").mkdir(parents=True)
    (tmp_path / "cs" / "gtFine").mkdir()
    named = _json(f"cityscapes:{tmp_path / 'cs'}", f"div2k:{tmp_path / 'none'}")
    assert named["datasets"] == []
    (cs,) = named["dense_datasets"]
    assert cs["found"] and cs["path"] == str(tmp_path / "cs")
    (div2k,) = named["superres_datasets"]
    assert not div2k["found"] and div2k["looked_for"][0].startswith(
        f"{tmp_path / 'none'}/DIV2K_train_HR/")
    res = CliRunner().invoke(cli, ["datasets", "srfolder:"])
    assert res.exit_code == 2 and res.stderr == \
        "archspace: error: dataset srfolder needs a folder: srfolder:PATH\n"
