"""The data a differentiable search trains on: the study estimator's training images.

A study scored by ``train`` (or any estimator with a ``dataset`` option) searches on that
estimator's data: the same dataset, ``train_samples`` subset, resolution, channels and device
its trials train with, so the derived cell is searched on what it is then evaluated on. An
estimator without data (the tabular ``nasbench201``) gets :data:`DEFAULT_SEARCH_DATASET` at the
dataset's native resolution (or the strategy's ``dataset`` option, which overrides either way).
The training images are split in two seeded halves: weights and architecture (DARTS, Section
3.3); the validation images are never seen by the search.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from archspace.estimators.base import Estimator
from archspace.estimators.train import TrainEstimator
from archspace.space import Space

__all__ = ["DEFAULT_SEARCH_DATASET", "SearchData", "search_data"]

#: The dataset searched when the study's estimator has none (e.g. ``nasbench201``).
DEFAULT_SEARCH_DATASET = "digits"
_DATA_OPTIONS = ("dataset", "root", "val_fraction", "val_split", "image_size", "resolution",
                 "device", "train_samples")


@dataclass(frozen=True, eq=False)
class SearchData:
    """The fitted space (classes of the dataset), the resolution, and the two halves."""

    space: Space
    resolution: int
    dataset: str
    x_weights: Tensor
    y_weights: Tensor
    x_arch: Tensor
    y_arch: Tensor

    def describe(self) -> dict[str, Any]:
        """JSON-ready: dataset, resolution and the images in each half."""
        return {"dataset": self.dataset, "resolution": self.resolution,
                "weight_images": int(self.x_weights.shape[0]),
                "arch_images": int(self.x_arch.shape[0]), "device": str(self.x_weights.device)}


def data_estimator(estimator: Estimator | None, dataset: str | None = None) -> TrainEstimator:
    """A ``train`` estimator holding the data options of ``estimator`` (see module doc)."""
    config: Mapping[str, Any] = getattr(estimator, "config", {}) or {}
    options: dict[str, Any] = {}
    if "dataset" in config:
        options = {k: config[k] for k in _DATA_OPTIONS if config.get(k) is not None}
    if dataset is not None:
        options["dataset"] = dataset
    options.setdefault("dataset", DEFAULT_SEARCH_DATASET)
    return TrainEstimator(**options)


def search_data(source: TrainEstimator, space: Space, seed: int) -> SearchData:
    """The training images of ``source`` fitted to ``space``, split in two seeded halves."""
    from archspace.datasets import prepared

    source.check_space(space)
    fitted, r = source.adapted(space)
    data = prepared(source.native_dataset(), r, fitted.in_channels, source.device)
    x, y = source.training_images(data)
    perm = torch.randperm(int(x.shape[0]), generator=torch.Generator().manual_seed(seed))
    perm = perm.to(x.device)
    half = int(x.shape[0]) // 2
    w, a = perm[:half], perm[half:]
    return SearchData(fitted, r, str(source.config["dataset"]), x[w], y[w], x[a], y[a])
