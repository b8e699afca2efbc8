"""A class-balanced, seeded subset of a training split (the ``train_samples`` option).

Fewer training images is one of the reduced-cost proxies of EcoNAS (Zhou et al., "EcoNAS:
Finding Proxies for Economical Neural Architecture Search", CVPR 2020). The subset takes the
classes in turn, each image drawn at random within its class, so every class gets ``N //
classes`` or one more image (a class with fewer images gives all it has and the others make up
the rest). It depends only on the labels and :data:`SUBSET_SEED`, never on a trial's seed: every
arch of a study trains on the same images, and a subset of N is part of any larger one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archspace.estimators.base import EstimatorError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["SUBSET_SEED", "balanced_subset", "check_subset_size"]

#: Seed of the subset's draw (independent of the estimator's seed and of the train/val split).
SUBSET_SEED = 20200614


def check_subset_size(n: int, available: int, num_classes: int, dataset: str) -> None:
    """Refuse a subset larger than the training split or smaller than one image a class."""
    if not num_classes <= n <= available:
        raise EstimatorError(f"option train_samples={n}: dataset {dataset!r} has {available} "
                             f"training images in {num_classes} classes; allowed: an integer "
                             f"from {num_classes} to {available}")


def balanced_subset(labels: Tensor, n: int) -> Tensor:
    """Sorted indices of ``n`` images of ``labels``, balanced over the classes (module doc)."""
    import torch

    gen = torch.Generator().manual_seed(SUBSET_SEED)
    idx, rank = [], []
    for c in torch.unique(labels).tolist():
        members = torch.nonzero(labels == c).flatten()
        idx.append(members[torch.randperm(len(members), generator=gen)])
        rank.append(torch.arange(len(members)))
    order = torch.cat(rank) * labels.numel() + torch.arange(labels.numel())  # round-robin
    chosen = torch.cat(idx)[torch.argsort(order)[:n]]
    return torch.sort(chosen).values
