"""The task picture of a super-resolution study: the best trial's SR crops beside bicubic and
the ground truth, drawn from the checkpoint the study kept (a report never trains)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from archspace.errors import ArchspaceError
from archspace.report.data import ReportData
from archspace.report.dense import _trained_best
from archspace.report.figures import NothingToPlot

__all__ = ["plot_sr_crops"]

#: Validation patches shown (rows).
SHOWN = 3


def plot_sr_crops(data: ReportData, path: str | Path) -> Path:
    """Rows of the most textured validation patches: the LR input (pixels enlarged), bicubic
    upsampling, the best trial's network and the HR ground truth, each with its PSNR on Y."""
    from archspace.estimators.sr_metrics import bicubic, sr_scores
    from archspace.estimators.superres import super_resolve
    from archspace.report.figures import _figure, _save

    est, model, _ = _trained_best(data)
    fitted, _ = est.adapted(data.space)
    s = int(fitted.scale)
    try:
        patches = est.patches(s)
    except ArchspaceError as e:
        raise NothingToPlot(f"the dataset could not be loaded here ({e})") from None
    busiest = patches.hr_val.std(dim=(1, 2, 3)).argsort(descending=True)[:SHOWN]
    lr, hr = patches.lr_val[busiest], patches.hr_val[busiest]
    sr = super_resolve(model, lr).clamp(0, 1)
    bic = bicubic(lr, s).clamp(0, 1)
    n = int(lr.shape[0])
    fig = _figure(8.0, 2.1 * n + 0.4)
    axes = fig.subplots(n, 4, squeeze=False)
    for i in range(n):
        cols = ((lr[i], "LR input"), (bic[i], "bicubic"), (sr[i], "network"), (hr[i], "HR"))
        for j, (img, what) in enumerate(cols):
            ax = axes[i][j]
            ax.imshow(np.clip(img.numpy().transpose(1, 2, 0), 0, 1), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if what in ("bicubic", "network"):
                psnr, _ = sr_scores(img[None], hr[i:i + 1], s)
                what = f"{what} ({psnr:.2f} dB)"
            ax.set_title(what, fontsize=8)
    assert data.best is not None
    fig.suptitle(f"trial {data.best.number} (best): x{s} super-resolution of validation patches "
                 "(PSNR on Y, border shaved)", fontsize=9)
    return _save(fig, Path(path))
