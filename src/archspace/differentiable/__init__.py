"""Differentiable architecture search over cell spaces: DARTS and GDAS.

Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search", ICLR 2019 (a softmax over
every candidate op on every edge, architecture weights trained by gradient descent on held-out
data); Dong & Yang, "Searching for A Robust Neural Architecture in Four GPU Hours" (GDAS), CVPR
2019 (one op per edge sampled by a hard Gumbel-softmax, its temperature annealed).

* :mod:`.collapse`: the skip-connection collapse detector (no torch).
* :mod:`.mixed`: the mixed-op networks, built from the spaces' own IR lowering (torch).
* :mod:`.search`: the bi-level training loop and the derivation of a cell (torch).

The strategies ``darts`` and ``gdas`` (:mod:`archspace.strategies.differentiable`) run one search
per asked trial. Importing this package imports no torch.
"""

from __future__ import annotations

from archspace.differentiable.collapse import SKIP_SHARE_LIMIT, Collapse, detect_collapse

__all__ = ["SKIP_SHARE_LIMIT", "SUPPORTED_SPACES", "Collapse", "detect_collapse"]

#: The catalog spaces a differentiable strategy searches.
SUPPORTED_SPACES = ("nb201", "darts")
