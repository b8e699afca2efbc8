"""Training-time data augmentation on batches already on the device.

``flip_crop`` is the augmentation of the NAS-Bench-201 recipe (Dong & Yang, ICLR 2020; the
``RandomHorizontalFlip`` + ``RandomCrop(32, padding=4)`` of D-X-Y/AutoDL-Projects
``xautodl/datasets/get_dataset_with_transform.py``, padding 2 for its 16-pixel ImageNet16): each
image is mirrored with probability 1/2 and cropped back to its size at a random offset from a
copy padded by ``resolution // 8`` pixels on each side (4 at 32 pixels, 2 at 16). The padding is
black, as torchvision pads the raw image before normalising: in standardised units each
channel's padding is ``-mean / std``. Its random numbers come from the training generator, so a
seeded run stays reproducible.

By default (``augment=auto``) natural images (3-channel datasets) are augmented and grayscale
ones (digits, MNIST: a mirrored digit is another glyph) are not.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from archspace.estimators.base import EstimatorError
from archspace.estimators.loop import Augment

__all__ = ["augmentation", "crop_padding", "flip_crop"]


def crop_padding(resolution: int) -> int:
    """Padding of the random crop: 4 pixels at 32 (NAS-Bench-201), scaled with the side."""
    return max(1, resolution // 8)


def flip_crop(x: Tensor, generator: torch.Generator, pad: int, fill: Tensor) -> Tensor:
    """``x`` ``(N, C, H, W)`` with each image flipped horizontally with probability 1/2 and
    randomly cropped from a ``pad``-pixel border of per-channel value ``fill`` ``(C,)``."""
    n, c, h, w = x.shape
    flip = (torch.rand(n, generator=generator) < 0.5).to(x.device)
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator).to(x.device)
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    padded = fill.to(x.device, x.dtype).view(1, c, 1, 1).repeat(n, 1, h + 2 * pad, w + 2 * pad)
    padded[:, :, pad:pad + h, pad:pad + w] = x
    rows = offsets[:, :1] + torch.arange(h, device=x.device)  # (N, H)
    cols = offsets[:, 1:] + torch.arange(w, device=x.device)  # (N, W)
    picked = padded[torch.arange(n, device=x.device)[:, None, None], :, rows[:, :, None],
                    cols[:, None, :]]  # (N, H, W, C)
    return picked.permute(0, 3, 1, 2).contiguous()


def augmentation(kind: str, native_channels: int, resolution: int, mean: Sequence[float],
                 std: Sequence[float]) -> Augment | None:
    """The batch transform for option ``augment=kind`` on images of a dataset with
    ``native_channels`` channels (before grayscale is repeated to fit an RGB network), at
    ``resolution``, standardised with per-channel ``mean``/``std`` (None: no augmentation)."""
    if kind == "auto":
        kind = "flip_crop" if native_channels == 3 else "none"
    if kind == "none":
        return None
    if kind != "flip_crop":
        raise EstimatorError(f"unknown augmentation {kind!r}; allowed: auto, none, flip_crop")
    pad = crop_padding(resolution)
    fill = torch.tensor([-m / s for m, s in zip(mean, std, strict=True)], dtype=torch.float32)

    def transform(x: Tensor, generator: torch.Generator) -> Tensor:
        return flip_crop(x, generator, pad, fill)

    return transform
