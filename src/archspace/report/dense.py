"""Task pictures of dense-prediction studies: what the best trial's network predicts beside the
ground truth, drawn from the checkpoint the study kept (``keep=best`` or ``all``), so a report
never trains. Figures of the other dense tasks are added to :data:`TASK_FIGURES` by estimator
name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from archspace.errors import ArchspaceError
from archspace.report.data import ReportData
from archspace.report.detections import plot_detections
from archspace.report.figures import NothingToPlot

__all__ = ["TASK_FIGURES", "mask_colours", "plot_masks"]

#: Images shown in :func:`plot_masks`.
SHOWN = 4


def mask_colours(num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """An RGB uint8 colour per label 0..255: class 0 dark grey, classes tab20's colours, the
    ignore label white."""
    from matplotlib import colormaps

    lut = np.zeros((256, 3), np.uint8)
    tab = colormaps["tab20"]
    for k in range(1, num_classes):
        lut[k] = (np.asarray(tab((k - 1) % 20)[:3]) * 255).astype(np.uint8)
    lut[0] = (40, 40, 40)
    lut[ignore_index] = (255, 255, 255)
    return lut


def _trained_best(data: ReportData) -> tuple[Any, Any, Any]:
    """(estimator, the best trial's trained module on the CPU, its input resolution)."""
    from archspace.estimators.checkpoint import load_checkpoint
    from archspace.study.checkpoints import trial_checkpoint

    if data.best is None:
        raise NothingToPlot("no trial has completed yet")
    est = data.estimator
    path = trial_checkpoint(data.path, data.best.number)
    if not path.is_file():
        raise NothingToPlot(f"the study kept no checkpoint of its best trial ({path}; "
                            "estimator option keep=best keeps one)")
    space = data.space
    arch = space.arch_from_json(data.best.arch_json)
    try:
        ckpt = est.check_checkpoint(space, arch, data.config.seed,  # type: ignore[attr-defined]
                                    load_checkpoint(path))
        fitted, r = est.adapted(space)  # type: ignore[attr-defined]
        model = fitted.build(arch, r)
        model.load_state_dict(ckpt["model"])
    except (ArchspaceError, RuntimeError, KeyError, TypeError) as e:
        raise NothingToPlot(f"the best trial's checkpoint could not be used: {e}") from None
    return est, model.eval(), r


def plot_masks(data: ReportData, path: str | Path) -> Path:
    """The first validation images, their ground-truth masks and the best trial's predicted
    masks, one row each (a segmentation study's task picture)."""
    from archspace.estimators.segment import _resized, miou_of, predict_masks
    from archspace.report.figures import _figure, _save

    est, model, r = _trained_best(data)
    try:
        dense = est.native_dataset()
    except ArchspaceError as e:
        raise NothingToPlot(f"the dataset could not be loaded here ({e})") from None
    _, _, xv, yv = _resized(dense, r, "cpu")
    xv, yv = xv[:SHOWN], yv[:SHOWN]
    pred = predict_masks(model, xv)
    lut = mask_colours(dense.num_classes, dense.ignore_index)
    mean = np.asarray(dense.mean)[:, None, None]
    std = np.asarray(dense.std)[:, None, None]
    n = int(xv.shape[0])
    fig = _figure(2.0 * n + 0.4, 6.4)
    axes = fig.subplots(3, n, squeeze=False)
    for j in range(n):
        img = np.clip(xv[j].numpy() * std + mean, 0, 1).transpose(1, 2, 0)
        score = miou_of(pred[j:j + 1], yv[j:j + 1], dense.num_classes, dense.ignore_index)
        for i, (pic, title) in enumerate(((img, "image"), (lut[yv[j].numpy()], "ground truth"),
                                          (lut[pred[j].numpy()], f"predicted ({score:.0f}% mIoU)"))):
            ax = axes[i][j]
            ax.imshow(pic, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0 or i == 2:
                ax.set_title(title, fontsize=8)
    assert data.best is not None
    fig.suptitle(f"trial {data.best.number} (best): validation images, masks "
                 f"(white: ignored)", fontsize=9)
    return _save(fig, Path(path))


def _sr_crops(data: ReportData, path: str | Path) -> Path:
    from archspace.report.superres import plot_sr_crops

    return plot_sr_crops(data, path)


#: estimator name -> (file, heading, drawing function) of its task's figures.
TASK_FIGURES: dict[str, tuple[tuple[str, str, Callable[[ReportData, Path], Path]], ...]] = {
    "segment": (("masks.png", "Predicted masks beside ground truth", plot_masks),),
    "detect": (("detections.png", "Predicted boxes beside ground truth", plot_detections),),
    "superres": (("sr_crops.png", "Super-resolved crops beside bicubic and ground truth",
                  _sr_crops),),
}
