"""In-memory image classification data: a train/validation split of normalised tensors.

Everything a training estimator needs lives in four tensors, so a training step is a gather of a
batch from a tensor already on the device: no DataLoader, no per-sample Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from archspace.datasets.raw import Images
from archspace.errors import ArchspaceError

__all__ = ["VAL_SPLITS", "Dataset", "DatasetError", "from_images"]

#: Seed of the fixed train/validation split (independent of any estimator seed).
SPLIT_SEED = 20240601
#: Where validation images come from: ``auto`` (the source's own test/val split when it has
#: one, else a ``val_fraction`` share of its training images), ``test`` or ``train``.
VAL_SPLITS = ("auto", "test", "train")


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


def _unit(x: Tensor) -> Tensor:
    """Pixels as float32 in [0, 1] (uint8 is divided by 255), in a fresh tensor."""
    if x.dtype == torch.uint8:
        return x.to(torch.float32).div_(255.0)
    return x.to(torch.float32, copy=True)


def _validation(name: str, images: Images, val_split: str) -> bool:
    """Whether the source's own held-out split is the validation split."""
    if val_split not in VAL_SPLITS:
        raise DatasetError(f"val_split={val_split!r}; allowed: {', '.join(VAL_SPLITS)}")
    if val_split == "test" and not images.has_test:
        raise DatasetError(f"dataset {name!r} has no held-out split of its own (a test/ or val/ "
                           "folder, CIFAR's test batch); allowed: val_split=auto or train")
    return val_split == "test" or (val_split == "auto" and images.has_test)


def from_images(name: str, images: Images, val_fraction: float,
                val_split: str = "auto") -> Dataset:
    """A :class:`Dataset` from decoded ``images``: validated on the source's own held-out split
    (``val_split=test``, or ``auto`` when it has one), else on a stratified ``val_fraction`` of
    its training images; standardised with the training part's per-channel mean and std."""
    x = torch.from_numpy(images.x)
    if x.ndim != 4 or x.shape[-1] != x.shape[-2]:
        raise DatasetError(f"dataset {name!r}: expected square images (N, C, H, W), "
                           f"got shape {tuple(x.shape)}")
    y = torch.from_numpy(images.y).to(torch.int64)
    if _validation(name, images, val_split):
        assert images.x_test is not None and images.y_test is not None  # _validation checked
        x_tr, y_tr = _unit(x), y
        x_va = _unit(torch.from_numpy(images.x_test))
        y_va = torch.from_numpy(images.y_test).to(torch.int64)
    else:
        tr, va = split_indices(y, val_fraction)
        x_tr, y_tr, x_va, y_va = _unit(x[tr]), y[tr], _unit(x[va]), y[va]
    mean = x_tr.mean(dim=(0, 2, 3), keepdim=True)
    std = x_tr.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    x_tr.sub_(mean).div_(std)
    x_va.sub_(mean).div_(std)
    return Dataset(name, x_tr, y_tr.contiguous(), x_va, y_va.contiguous(), images.classes,
                   tuple(mean.flatten().tolist()), tuple(std.flatten().tolist()))
