"""Decoded images as a source gives them, before any split or standardisation (numpy only).

A loader returns :class:`Images`: its training images and, when the source has one, its own
held-out split (an image folder's ``test/`` or ``val/``, CIFAR's test batch). Pixels are uint8
in [0, 255] (what the cache stores) or float32 in [0, 1] (scikit-learn's digits).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Images"]


@dataclass(frozen=True, eq=False)
class Images:
    """Images ``(N, C, H, W)``, square, with int64 labels in ``[0, len(classes))``."""

    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def has_test(self) -> bool:
        """Whether the source came with its own held-out split."""
        return self.x_test is not None and self.y_test is not None

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays by name (``x``, ``y`` and, when present, ``x_test``, ``y_test``)."""
        out = {"x": self.x, "y": self.y}
        if self.x_test is not None and self.y_test is not None:
            out.update(x_test=self.x_test, y_test=self.y_test)
        return out
