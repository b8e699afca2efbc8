"""The datasets of the dense-task and super-resolution estimators as ``archspace datasets``
lists them: for each name (``-e dataset=NAME`` of ``segment``/``detect``, or of ``superres``)
what it is, where it is looked for, and, for a named ``KIND:PATH`` or a bundled source, whether
it is there.

Looking is cheap, as in :mod:`.catalog`: paths are checked, nothing is decoded or imported (the
bundled files are found from their packages' install folders). The layouts are the loaders'
(:mod:`.voc`, :mod:`.cityscapes`, :mod:`.coco`, :mod:`.superres`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archspace.datasets.core import DatasetError

__all__ = ["TaskDatasetInfo", "describe_task", "is_task_dataset", "task_datasets"]

DENSE = "segment, detect"
SUPERRES = "superres"

#: kind -> (the estimators reading it, the places looked for under PATH, or bundled files as
#: (package, path in the package)).
_LOOKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "voc": (DENSE, ("PATH/JPEGImages/ (or PATH/VOC2012/, PATH/VOCdevkit/VOC2012/) with "
                    "SegmentationClass/, Annotations/, ImageSets/{Segmentation,Main}/",)),
    "cityscapes": (DENSE, ("PATH/leftImg8bit/{train,val}/CITY/*_leftImg8bit.png",
                           "PATH/gtFine/{train,val}/CITY/*_gtFine_labelIds.png (and "
                           "*_gtFine_instanceIds.png for boxes)")),
    "coco": (DENSE, ("PATH/annotations/instances_{train,val}*.json (or PATH/instances_*.json)",
                     "images under PATH/{train,val}2017/, PATH/images/{train,val}2017/, "
                     "PATH/{train,val}/ or PATH/images/")),
    "div2k": (SUPERRES, ("PATH/DIV2K_train_HR/ and PATH/DIV2K_valid_HR/ (else a val_fraction "
                         "share validates)", "optional PATH/DIV2K_{train,valid}_LR_bicubic/"
                         "X{2,3,4}/")),
    "srfolder": (SUPERRES, ("PATH/train/ and PATH/val/ of HR images, else the images in PATH "
                            "(a val_fraction share validates)",)),
}
_BUNDLED: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "digit-scenes": (DENSE, (("sklearn", "datasets/data/digits.csv.gz"),)),
    "photos": (SUPERRES, (("sklearn", "datasets/images/china.jpg"),
                          ("sklearn", "datasets/images/flower.jpg"),
                          ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"))),
}


@dataclass
class TaskDatasetInfo:
    """One dense-task or super-resolution dataset as this machine has it (module doc)."""

    name: str
    estimators: str
    summary: str
    #: bundled or folder (None: not found here, or a ``KIND:PATH`` placeholder)
    form: str | None = None
    path: str | None = None
    looked_for: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def found(self) -> bool:
        return self.form is not None

    def as_json(self) -> dict[str, Any]:
        """Its fields and ``found``, as JSON-ready values."""
        return {**asdict(self), "found": self.found}


def _summaries() -> dict[str, str]:
    from archspace.datasets.dense_sources import DENSE_DATASETS
    from archspace.datasets.superres import SR_DATASETS

    return {**DENSE_DATASETS, **SR_DATASETS}


def _kind(name: str) -> tuple[str, str | None]:
    kind, colon, path = name.strip().partition(":")
    return kind.strip().lower(), (path if colon else None)


def is_task_dataset(name: str) -> bool:
    """Whether ``name`` is of a dense-task or super-resolution kind (``voc:...``, ``photos``)."""
    kind, _ = _kind(name)
    return kind in _LOOKS or kind in _BUNDLED


def _package_file(package: str, rel: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / rel


def _bundled(name: str) -> TaskDatasetInfo:
    estimators, files = _BUNDLED[name]
    info = TaskDatasetInfo(name, estimators, _summaries()[name])
    paths = [_package_file(pkg, rel) for pkg, rel in files]
    info.looked_for = [str(p) if p else f"{pkg} (not installed)"
                       for p, (pkg, _) in zip(paths, files, strict=True)]
    missing = [s for p, s in zip(paths, info.looked_for, strict=True) if p is None or
               not p.is_file()]
    if missing:
        info.problem = "missing: " + ", ".join(missing)
    else:
        info.form = "bundled"
    return info


def _located(kind: str, root: Path) -> Path | None:
    """Where the loader of ``kind`` would read under ``root`` (None: it would find nothing)."""
    if kind == "voc":
        return next((c for c in (root, root / "VOC2012", root / "VOCdevkit" / "VOC2012")
                     if (c / "JPEGImages").is_dir()), None)
    if kind == "cityscapes":
        return root if (root / "leftImg8bit").is_dir() and (root / "gtFine").is_dir() else None
    if kind == "coco":
        found = any(any(d.glob("instances_*.json")) for d in (root / "annotations", root)
                    if d.is_dir())
        return root if found else None
    if kind == "div2k":
        return root if (root / "DIV2K_train_HR").is_dir() else None
    return root if root.is_dir() else None  # srfolder


def describe_task(name: str) -> TaskDatasetInfo:
    """``name`` (``KIND:PATH`` or a bundled source) as found here; a ``KIND:PATH`` with the
    placeholder ``PATH`` is listed with the places looked for. Unknown: DatasetError."""
    kind, path = _kind(name)
    if kind in _BUNDLED and path is None:
        return _bundled(kind)
    if kind not in _LOOKS:
        raise DatasetError(f"unknown dataset {name!r}; allowed: {', '.join(_summaries())}")
    if not path:
        raise DatasetError(f"dataset {kind} needs a folder: {kind}:PATH")
    estimators, looks = _LOOKS[kind]
    if path == "PATH":
        return TaskDatasetInfo(f"{kind}:PATH", estimators, _summaries()[f"{kind}:PATH"],
                               looked_for=list(looks))
    root = Path(path).expanduser().resolve()
    info = TaskDatasetInfo(f"{kind}:{root}", estimators, _summaries()[f"{kind}:PATH"],
                           looked_for=[s.replace("PATH", str(root)) for s in looks])
    where = _located(kind, root)
    if where is not None:
        info.form, info.path = "folder", str(where)
    return info


def task_datasets() -> list[TaskDatasetInfo]:
    """Every dense-task and super-resolution dataset: the bundled ones as found here, the
    ``KIND:PATH`` ones as placeholders with the places looked for."""
    return [describe_task(n) for n in _summaries()]
