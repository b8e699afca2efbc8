"""The ``detect`` estimator's picture in a report: the best trial's predicted boxes beside the
ground truth on validation images.

The network is the one the study kept (``STUDY.ckpt/N.pt``, option ``keep``): the report never
trains. Without that checkpoint, or when the data cannot be loaded here, the figure is left out
with a note saying why.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from archspace.errors import ArchspaceError
from archspace.report.figures import NothingToPlot

if TYPE_CHECKING:
    from archspace.report.data import ReportData

__all__ = ["IMAGES", "MIN_SCORE", "plot_detections"]

#: Validation images drawn, and the lowest score a drawn detection has.
IMAGES = 4
MIN_SCORE = 0.3
_DPI = 100


def plot_detections(data: ReportData, path: str | Path) -> Path:
    """Ground-truth boxes (top row) and the best trial's detections scoring at least
    :data:`MIN_SCORE` (bottom row) on the first :data:`IMAGES` validation images."""
    import torch

    from archspace.estimators.checkpoint import load_checkpoint
    from archspace.estimators.detect import DetectEstimator
    from archspace.study.checkpoints import trial_checkpoint

    est = data.estimator
    if not isinstance(est, DetectEstimator):
        raise NothingToPlot("not a detection study")
    if data.best is None:
        raise NothingToPlot("no trial has completed yet")
    ckpt_path = trial_checkpoint(data.path, data.best.number)
    if not ckpt_path.is_file():
        raise NothingToPlot(f"the best trial's network was not kept ({ckpt_path.name} is "
                            "missing; estimator option keep=best keeps it)")
    arch = data.space.arch_from_json(data.best.arch_json)
    try:
        ckpt = est.check_checkpoint(data.space, arch, data.config.seed,
                                    load_checkpoint(ckpt_path))
        fitted, r = est.adapted(data.space)
        model = fitted.build(arch, r)
        model.load_state_dict(ckpt["model"])
        boxes = est.box_dataset().resized(r)
    except (ArchspaceError, RuntimeError, KeyError) as e:
        raise NothingToPlot(f"the best trial's network could not be rebuilt here ({e})") from None
    n = min(IMAGES, int(boxes.x_val.shape[0]))
    if n == 0:
        raise NothingToPlot("the dataset has no validation images")
    x = boxes.x_val[:n]
    with torch.no_grad():
        dets = est.detections(model, data.space, x)
    mean = torch.tensor(boxes.mean or [0.0] * x.shape[1])[:, None, None]
    std = torch.tensor(boxes.std or [1.0] * x.shape[1])[:, None, None]
    pixels = (x * std + mean).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    fig = Figure(figsize=(2.4 * n, 5.0), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    names = boxes.classes
    for i in range(n):
        rows = [(boxes.boxes_val[i], boxes.labels_val[i], None, "ground truth", "#2ca02c"),
                (dets[i].boxes, dets[i].labels, dets[i].scores, "predicted", "#d62728")]
        for row, (bs, ls, ss, what, colour) in enumerate(rows):
            ax = axes[row][i]
            ax.imshow(pixels[i], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{what} #{i}", fontsize=8)
            for k in range(int(bs.shape[0])):
                if ss is not None and float(ss[k]) < MIN_SCORE:
                    continue
                x0, y0, x1, y1 = (float(v) for v in bs[k])
                ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color=colour,
                                       linewidth=1.2))
                label = names[int(ls[k])] if 0 <= int(ls[k]) < len(names) else str(int(ls[k]))
                text = label if ss is None else f"{label} {float(ss[k]):.2f}"
                ax.text(x0, y0, text, color="white", fontsize=6, va="bottom",
                        bbox={"facecolor": colour, "pad": 0.5, "linewidth": 0})
    fig.suptitle(f"trial #{data.best.number}: boxes (scores >= {MIN_SCORE})", fontsize=9)
    fig.savefig(Path(path), dpi=_DPI, facecolor="white")
    return Path(path)
