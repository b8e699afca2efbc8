"""Named training recipes for the ``train`` estimator (``-e recipe=NAME``).

A recipe is a set of option values; options given explicitly override its fields
(``-e recipe=nb201 -e epochs=6`` is the NAS-Bench-201 recipe cut to 6 epochs).

``nb201`` and ``nb201-12e`` are the two training settings of NAS-Bench-201 (Dong & Yang,
"NAS-Bench-201: Extending the Scope of Reproducible Neural Architecture Search", ICLR 2020),
from D-X-Y/AutoDL-Projects ``configs/nas-benchmark/hyper-opts/200E.config`` and ``12E.config``:
SGD with Nesterov momentum 0.9, initial learning rate 0.1 cosine-annealed to 0 (``eta_min``
0.0, no warm-up) over 200 or 12 epochs, weight decay 5e-4, batch size 256, cross-entropy
loss; CIFAR images randomly flipped and cropped to 32 pixels from a 4-pixel padding and
standardised by the dataset's per-channel mean and std. (An older ``configs/nas-benchmark/
LESS.config`` in the same repository gives 10 epochs for the short setting; the benchmark's
published ``12ep`` results use 12.) Differences that remain: archspace standardises with the
statistics of its training split rather than NAS-Bench-201's fixed CIFAR constants (they agree
to within a fraction of a pixel level), updates the cosine schedule every step as
AutoDL-Projects does, and drops the last partial batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RECIPES", "Recipe", "with_recipe"]


@dataclass(frozen=True)
class Recipe:
    """A named set of ``train`` option values and where they come from."""

    name: str
    source: str
    fields: Mapping[str, Any] = field(default_factory=dict)


_NB201 = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4,
          "batch_size": 256, "augment": "auto"}

#: Every recipe by name.
RECIPES: dict[str, Recipe] = {
    "nb201": Recipe("nb201", "NAS-Bench-201 200-epoch setting (Dong & Yang, ICLR 2020; "
                    "AutoDL-Projects hyper-opts/200E.config)", {**_NB201, "epochs": 200.0}),
    "nb201-12e": Recipe("nb201-12e", "NAS-Bench-201 12-epoch setting (Dong & Yang, ICLR 2020; "
                        "AutoDL-Projects hyper-opts/12E.config)", {**_NB201, "epochs": 12.0}),
}


def with_recipe(name: str | None, given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` options on top of recipe ``name``'s fields (``name`` is checked by the
    ``recipe`` option itself; None or ``none``: ``given`` alone)."""
    recipe = RECIPES.get(str(name).strip().lower()) if name is not None else None
    return dict(given) if recipe is None else {**recipe.fields, **given}
