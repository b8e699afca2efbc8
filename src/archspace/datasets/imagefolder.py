"""An ImageFolder tree (one subfolder of images per class), as a folder or a ``.tar``,
``.tar.gz`` or ``.zip`` of one, decoded with Pillow and numpy (no torchvision).

Layout: ``CLASS/IMAGE`` (any depth below the class folder), or ``train/CLASS/IMAGE`` beside
``val/CLASS/IMAGE`` or ``test/CLASS/IMAGE`` (the source's held-out split; ``val/`` when both
exist). A single folder wrapping the whole tree (``cifar10/train/...``) is looked through.
Images become RGB unless every one is grayscale; images of one square size stay as they are,
others are resized (bilinear) to ``image_size`` when given, else to the median of their
shorter sides. The decoded arrays are cached per content (:mod:`.cache`).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from archspace.datasets.archives import Member, folder_files, is_archive, read_archive
from archspace.datasets.cache import cached, file_digest, listing_digest
from archspace.datasets.core import DatasetError
from archspace.datasets.raw import Images

__all__ = ["IMAGE_SUFFIXES", "cache_key", "load_imagefolder"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".pgm", ".tif",
                  ".tiff")
_GRAY = ("1", "L", "LA", "I", "I;16", "F")
#: An image of at least this many encoded bytes (on average) is decoded in a thread pool:
#: Pillow lets go of the GIL while decoding, which pays only for images bigger than CIFAR's.
_POOL_BYTES = 32 * 1024

#: path parts, and what reads the encoded bytes
Item = tuple[tuple[str, ...], Callable[[], bytes]]


def load_imagefolder(path: Path, image_size: int | None = None) -> Images:
    """The images of the tree at ``path`` (a folder or an archive)."""
    key, items = _key(path, image_size)
    if items is None:
        return cached(key, lambda: _from_archive(path, image_size), str(path))
    return cached(key, lambda: _decode_tree(items, str(path), image_size), str(path))


def cache_key(path: Path, image_size: int | None = None) -> dict[str, Any]:
    """The cache key of the tree at ``path`` (a folder's is checked for class folders)."""
    return _key(path, image_size)[0]


def _key(path: Path, image_size: int | None) -> tuple[dict[str, Any], list[Item] | None]:
    options = {"loader": "imagefolder", "image_size": image_size}
    if path.is_file() and is_archive(path):
        return {**options, "archive": file_digest(path)}, None
    if not path.is_dir():
        raise DatasetError(f"imagefolder: {str(path)!r} is not a directory or an archive; "
                           "allowed: a folder with one subfolder of images per class, or a "
                           ".tar, .tar.gz or .zip of one")
    files = folder_files(path, IMAGE_SUFFIXES)
    items: list[Item] = [(f.relative_to(path).parts, f.read_bytes) for f in files]
    _layout(items, str(path))  # a tree without classes is refused before hashing its listing
    return {**options, "folder": listing_digest(path, files)}, items


def _from_archive(path: Path, image_size: int | None) -> Images:
    members = read_archive(path, IMAGE_SUFFIXES)
    return _decode_tree([_item(m) for m in members], str(path), image_size)


def _item(member: Member) -> Item:
    parts, data = member
    return parts, lambda: data


def _strip_wrapper(items: list[Item]) -> list[Item]:
    while (items and all(len(p) >= 3 for p, _ in items)
           and len({p[0] for p, _ in items}) == 1):
        items = [(p[1:], r) for p, r in items]
    return items


def _layout(items: list[Item], where: str) -> tuple[list[Item], list[Item] | None, str]:
    """(training items, held-out items or None, where the training tree is)."""
    items = _strip_wrapper(items)
    tops = {p[0] for p, _ in items if len(p) >= 2}
    held = "val" if "val" in tops else "test" if "test" in tops else None
    if "train" not in tops or held is None:
        _classes(items, where)
        return items, None, where
    train = [(p[1:], r) for p, r in items if p[0] == "train"]
    test = [(p[1:], r) for p, r in items if p[0] == held]
    classes = _classes(train, f"{where}/train")
    extra = sorted(set(_classes(test, f"{where}/{held}", need=1)) - set(classes))
    if extra:
        raise DatasetError(f"imagefolder: {where}/{held} has class folder(s) {', '.join(extra)} "
                           f"that {where}/train lacks; allowed: the classes of train/")
    return train, test, f"{where}/train"


def _classes(items: list[Item], where: str, need: int = 2) -> list[str]:
    classes = sorted({p[0] for p, _ in items if len(p) >= 2})
    if not classes and items:
        raise DatasetError(f"imagefolder: {where!r} has images but no class subfolders; allowed: "
                           "one subfolder of images per class (CLASS/IMAGE), optionally under "
                           "train/ and test/ (or val/)")
    if len(classes) < need:
        raise DatasetError(f"imagefolder: {where!r} has {len(classes)} class folder(s) with "
                           f"images; need at least {need} (image types: "
                           f"{', '.join(IMAGE_SUFFIXES)})")
    return classes


def _decode_tree(items: list[Item], where: str, image_size: int | None) -> Images:
    train, test, train_where = _layout(items, where)
    classes = _classes(train, train_where)
    index = {c: i for i, c in enumerate(classes)}
    splits = [sorted(((p, r) for p, r in split if len(p) >= 2), key=lambda it: it[0])
              for split in (train, test or [])]
    flat = [it for split in splits for it in split]
    x = _uniform(_decode_all(flat, where), image_size)
    y = np.array([index[p[0]] for p, _ in flat], dtype=np.int64)
    n = len(splits[0])
    if test is None:
        return Images(x, y, tuple(classes))
    return Images(x[:n], y[:n], tuple(classes), x[n:], y[n:])


def _decode_one(parts: tuple[str, ...], read: Callable[[], bytes], where: str) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(read())) as im:
            mode = "L" if im.mode in _GRAY else "RGB"
            return np.asarray(im if im.mode == mode else im.convert(mode))
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DatasetError(f"imagefolder: cannot read image {'/'.join(parts)!r} in {where}: {e}; "
                           f"allowed image types: {', '.join(IMAGE_SUFFIXES)}") from None


def _decode_all(items: Sequence[Item], where: str) -> list[np.ndarray]:
    try:
        import PIL.Image  # noqa: F401
    except ImportError:
        raise DatasetError("dataset imagefolder needs Pillow: pip install pillow") from None
    if len(items) < 64:
        return [_decode_one(p, r, where) for p, r in items]
    first = [len(r()) for _, r in items[:16]]
    if sum(first) / len(first) < _POOL_BYTES:
        return [_decode_one(p, r, where) for p, r in items]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return list(pool.map(lambda it: _decode_one(it[0], it[1], where), items))


def _uniform(arrays: list[np.ndarray], image_size: int | None) -> np.ndarray:
    """(N, C, S, S) uint8: every image at one square size, gray repeated to RGB when mixed."""
    from PIL import Image

    shapes = {a.shape[:2] for a in arrays}
    side = image_size or int(np.median([min(a.shape[:2]) for a in arrays]))
    if image_size is None and len(shapes) == 1:
        h, w = shapes.pop()
        side = h if h == w else side
    gray = all(a.ndim == 2 for a in arrays)
    out = np.empty((len(arrays), 1 if gray else 3, side, side), dtype=np.uint8)
    for i, a in enumerate(arrays):
        if a.shape[:2] != (side, side):
            a = np.asarray(Image.fromarray(a).resize((side, side), Image.Resampling.BILINEAR))
        out[i] = a[None] if gray else (a.transpose(2, 0, 1) if a.ndim == 3 else a[None])
    return out
