"""Tiny files in the real dense-data formats, for the loader and estimator tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def _palette_png(path: Path, labels: np.ndarray) -> None:
    im = Image.fromarray(labels.astype(np.uint8), mode="P")
    im.putpalette([v for i in range(256) for v in (i * 7 % 256, i * 3 % 256, i * 11 % 256)])
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)


def _jpg(path: Path, w: int, h: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def _voc_xml(w: int, h: int, objects: list[tuple[str, int, int, int, int]]) -> str:
    objs = "".join(f"<object><name>{n}</name><difficult>0</difficult><bndbox><xmin>{a}</xmin>"
                   f"<ymin>{b}</ymin><xmax>{c}</xmax><ymax>{d}</ymax></bndbox></object>"
                   for n, a, b, c, d in objects)
    return (f"<annotation><filename>x.jpg</filename><size><width>{w}</width><height>{h}"
            f"</height><depth>3</depth></size>{objs}</annotation>")


def make_voc(root: Path, xml_extra: str = "") -> Path:
    voc = root / "VOCdevkit" / "VOC2012"
    for split, ids in (("train", ["a", "b"]), ("val", ["c"])):
        (voc / "ImageSets" / "Segmentation").mkdir(parents=True, exist_ok=True)
        (voc / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(ids) + "\n")
        for k, i in enumerate(ids):
            _jpg(voc / "JPEGImages" / f"{i}.jpg", 40, 30, k)
            mask = np.zeros((30, 40), np.uint8)
            mask[5:15, 10:30] = 15  # person
            mask[2:5, 10:30] = 255  # void border
            _palette_png(voc / "SegmentationClass" / f"{i}.png", mask)
            (voc / "Annotations").mkdir(parents=True, exist_ok=True)
            (voc / "Annotations" / f"{i}.xml").write_text(
                xml_extra + _voc_xml(40, 30, [("person", 11, 6, 30, 15)]))
    return root
