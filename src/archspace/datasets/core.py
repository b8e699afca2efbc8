"""In-memory image classification data: a train/validation split of normalised tensors.

Everything a training estimator needs lives in four tensors, so a training step is a gather of a
batch from a tensor already on the device: no DataLoader, no per-sample Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from archspace.errors import ArchspaceError

__all__ = ["Dataset", "DatasetError", "from_images"]

#: Seed of the fixed train/validation split (independent of any estimator seed).
SPLIT_SEED = 20240601


class DatasetError(ArchspaceError):
    """Unknown dataset, missing data or missing optional dependency."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images ``(N, C, H, W)`` float32, standardised per channel with train statistics, and
    int64 labels in ``[0, num_classes)``."""

    name: str
    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor
    classes: tuple[str, ...]
    #: The per-channel statistics the images were standardised with ((x - mean) / std, on
    #: pixels scaled to [0, 1]); what a deployed model must apply to its inputs.
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        """Image channels (1 grayscale, 3 RGB)."""
        return int(self.x_train.shape[1])

    @property
    def resolution(self) -> int:
        """Image side in pixels (images are square)."""
        return int(self.x_train.shape[-1])

    def resized(self, resolution: int) -> Dataset:
        """The same images at ``resolution`` x ``resolution`` (bilinear; antialiased when
        shrinking). Standardisation commutes with it: interpolation weights sum to one."""
        if resolution == self.resolution:
            return self
        return Dataset(self.name, _resize(self.x_train, resolution), self.y_train,
                       _resize(self.x_val, resolution), self.y_val, self.classes, self.mean,
                       self.std)

    def with_channels(self, channels: int) -> Dataset:
        """Grayscale images repeated to ``channels`` (a broadcast view: no copy until a batch
        is gathered). Colour images can't lose channels."""
        if channels == self.in_channels:
            return self
        if self.in_channels != 1:
            raise DatasetError(f"dataset {self.name!r} has {self.in_channels}-channel images but "
                               f"the network takes {channels}; allowed: a network with "
                               f"{self.in_channels} input channels (grayscale data is repeated "
                               "to fit RGB networks, not the reverse)")
        def rep(x: Tensor) -> Tensor:
            return x.expand(-1, channels, -1, -1)
        return Dataset(self.name, rep(self.x_train), self.y_train, rep(self.x_val), self.y_val,
                       self.classes, self.mean * channels, self.std * channels)

    def to(self, device: torch.device | str) -> Dataset:
        """A copy whose tensors live on ``device``."""
        dev = torch.device(device)
        if self.x_train.device == dev:
            return self
        return Dataset(self.name, self.x_train.to(dev), self.y_train.to(dev), self.x_val.to(dev),
                       self.y_val.to(dev), self.classes, self.mean, self.std)


def _resize(x: Tensor, resolution: int) -> Tensor:
    if x.shape[-1] == resolution and x.shape[-2] == resolution:
        return x
    shrink = resolution < max(x.shape[-2:])
    out = [F.interpolate(x[i:i + 4096], size=(resolution, resolution), mode="bilinear",
                         align_corners=False, antialias=shrink)
           for i in range(0, x.shape[0], 4096)]
    return torch.cat(out) if out else x.new_zeros((0, x.shape[1], resolution, resolution))


def split_indices(labels: Tensor, val_fraction: float) -> tuple[Tensor, Tensor]:
    """A stratified, seeded train/validation split: each class keeps ``val_fraction`` of its
    images (at least one when it has two or more) for validation."""
    gen = torch.Generator().manual_seed(SPLIT_SEED)
    train, val = [], []
    for c in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        k = round(val_fraction * len(idx))
        k = min(max(k, 1), len(idx) - 1) if len(idx) >= 2 else 0
        val.append(idx[:k])
        train.append(idx[k:])
    return torch.sort(torch.cat(train)).values, torch.sort(torch.cat(val)).values


def from_images(name: str, images: Tensor, labels: Tensor, classes: tuple[str, ...],
                val_fraction: float) -> Dataset:
    """A :class:`Dataset` from images ``(N, C, H, W)`` scaled to [0, 1] and integer labels:
    split, then standardised with the training split's per-channel mean and std."""
    if images.ndim != 4 or images.shape[-1] != images.shape[-2]:
        raise DatasetError(f"dataset {name!r}: expected square images (N, C, H, W), "
                           f"got shape {tuple(images.shape)}")
    labels = labels.to(torch.int64)
    tr, va = split_indices(labels, val_fraction)
    x = images.to(torch.float32)
    mean = x[tr].mean(dim=(0, 2, 3), keepdim=True)
    std = x[tr].std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    x = (x - mean) / std
    return Dataset(name, x[tr].contiguous(), labels[tr].contiguous(), x[va].contiguous(),
                   labels[va].contiguous(), classes, tuple(mean.flatten().tolist()),
                   tuple(std.flatten().tolist()))
