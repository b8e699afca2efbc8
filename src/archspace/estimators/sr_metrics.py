"""Super-resolution metrics as the SR literature computes them: PSNR and SSIM on the Y channel.

The protocol of EDSR, RCAN and Trilevel NAS (its evaluation code follows MATLAB's): the
network's RGB output is clamped to [0, 1] and quantised to 8 bits; both images are converted
to the luma channel of ITU-R BT.601 (``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` for RGB in
[0, 1], so Y lies in [16, 235]); ``scale`` pixels are shaved off every border; PSNR (data range
255) and SSIM (Wang et al. 2004: an 11x11 Gaussian window of sigma 1.5) are computed by
torchmetrics. The literature averages PSNR over whole test images; over small patches such a
mean is ruled by the flat ones (a patch of sky that bicubic reproduces almost exactly scores 50
dB or more), so PSNR here is that of the patches pooled, from the mean squared error over all of
them, as if they were one image (at most :data:`MAX_PSNR` dB); SSIM is the mean over every
window of every patch. The bicubic baseline upsamples the LR image with
``torch.nn.functional.interpolate(mode="bicubic", align_corners=False)``, the same op the
``trilevel`` networks add to their output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["MAX_PSNR", "SSIM_WINDOW", "bicubic", "min_hr_side", "rgb_to_y", "sr_scores"]

#: PSNR of images reproduced exactly (finite, so that differences stay finite).
MAX_PSNR = 100.0
#: SSIM's Gaussian window side: a shaved patch must be at least this big.
SSIM_WINDOW = 11
_BT601 = (65.481, 128.553, 24.966)


def min_hr_side(scale: int) -> int:
    """The smallest HR patch side whose shaved interior holds an SSIM window."""
    return SSIM_WINDOW + 2 * scale


def rgb_to_y(x: Tensor) -> Tensor:
    """BT.601 luma in [16, 235] of RGB ``(N, 3, H, W)`` in [0, 1], quantised to 8 bits first;
    ``(N, 1, H, W)``."""
    q = x.clamp(0.0, 1.0).mul(255.0).round().div(255.0)
    w = torch.tensor(_BT601, dtype=q.dtype, device=q.device).view(1, 3, 1, 1)
    return (q * w).sum(dim=1, keepdim=True) + 16.0


def bicubic(lr: Tensor, scale: int) -> Tensor:
    """The bicubic upsampling of ``lr`` by ``scale``."""
    return F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False)


def sr_scores(sr: Tensor, hr: Tensor, scale: int) -> tuple[float, float]:
    """(pooled PSNR in dB, mean SSIM) on the Y channel with ``scale`` pixels shaved."""
    from torchmetrics.functional.image import (
        peak_signal_noise_ratio,
        structural_similarity_index_measure,
    )

    s = scale
    a = rgb_to_y(sr.double())[..., s:-s, s:-s]
    b = rgb_to_y(hr.double())[..., s:-s, s:-s]
    psnr = torch.as_tensor(peak_signal_noise_ratio(a, b, data_range=255.0)).clamp(max=MAX_PSNR)
    ssim = structural_similarity_index_measure(a, b, data_range=255.0, gaussian_kernel=True,
                                               sigma=1.5, kernel_size=SSIM_WINDOW,
                                               reduction="elementwise_mean")
    return float(psnr), float(ssim)  # type: ignore[arg-type]
