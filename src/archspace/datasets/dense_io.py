"""Reading real dense-task files with Pillow and numpy: images resized to a square side
(bilinear), label masks resized by nearest neighbour (labels are never blended), boxes scaled
with the image, and XML read safely (defusedxml when installed; else the standard parser with
document type declarations and entities refused).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from archspace.datasets.core import DatasetError

__all__ = ["open_image", "parse_xml", "read_image", "read_label_png", "scale_boxes"]


def open_image(path: Path) -> Any:
    """The Pillow image at ``path``, loaded (an unreadable file is a DatasetError)."""
    from PIL import Image, UnidentifiedImageError

    try:
        im = Image.open(path)
        im.load()
    except (OSError, UnidentifiedImageError) as e:
        raise DatasetError(f"cannot read image {path}: {e}") from None
    return im


def read_image(path: Path, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The RGB image at ``path`` resized to ``size`` x ``size`` (uint8), and its original
    (width, height)."""
    from PIL import Image

    im = open_image(path)
    wh = im.size
    rgb = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(rgb, np.uint8), wh


def read_label_png(path: Path, size: int, max_label: int | None = None,
                   what: str = "labels") -> np.ndarray:
    """A label PNG (palette indices or grayscale values are the labels) resized by nearest
    neighbour to ``size`` x ``size``, uint8. With ``max_label``, a value above it is a
    DatasetError, checked at full resolution (the resize could drop the pixels holding it)."""
    from PIL import Image

    im = open_image(path)
    if im.mode not in ("P", "L", "I", "I;16"):
        raise DatasetError(f"label image {path} is mode {im.mode}; allowed: a palette (P) or "
                           "grayscale (L) PNG whose values are class ids")
    labels = np.asarray(im)
    if labels.max(initial=0) > 255:
        raise DatasetError(f"label image {path} has labels above 255")
    if max_label is not None and labels.max(initial=0) > max_label:
        bad = np.unique(labels[labels > max_label])[:5].tolist()
        raise DatasetError(f"label image {path}: values {bad} are outside the {what} "
                           f"(allowed: 0..{max_label})")
    small = Image.fromarray(labels.astype(np.uint8), mode="L")
    return np.asarray(small.resize((size, size), Image.Resampling.NEAREST), np.uint8)


def scale_boxes(boxes: np.ndarray, wh: tuple[int, int], size: int) -> np.ndarray:
    """COCO boxes of a ``wh`` (width, height) image, scaled to a ``size`` x ``size`` one and
    clipped to it."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4).copy()
    sx, sy = size / wh[0], size / wh[1]
    b[:, [0, 2]] *= sx
    b[:, [1, 3]] *= sy
    x0, y0 = np.clip(b[:, 0], 0, size), np.clip(b[:, 1], 0, size)
    x1, y1 = np.clip(b[:, 0] + b[:, 2], 0, size), np.clip(b[:, 1] + b[:, 3], 0, size)
    return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1).astype(np.float32)


def parse_xml(path: Path) -> Any:
    """The root element of the XML file ``path``: with defusedxml if installed, else with the
    standard library after refusing any ``<!DOCTYPE`` or ``<!ENTITY`` (no entity expansion,
    no external references)."""
    data = path.read_bytes()
    try:
        import defusedxml.ElementTree as safe_et  # type: ignore[import-untyped]

        try:
            return safe_et.fromstring(data)
        except Exception as e:  # defusedxml's refusals and parse errors alike
            raise DatasetError(f"cannot read annotation {path}: {e}") from None
    except ImportError:
        pass
    import xml.etree.ElementTree as ET

    upper = data.upper()
    if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
        raise DatasetError(f"annotation {path} declares a DOCTYPE or entities; refused (plain "
                           "VOC XML has none)")
    try:
        return ET.fromstring(data)  # no DTD or entities: checked above
    except ET.ParseError as e:
        raise DatasetError(f"cannot read annotation {path}: {e}") from None
