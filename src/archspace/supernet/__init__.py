"""Weight sharing: one supernet per space, built from the IR (imports torch).

:func:`build_supernet` (or ``space.supernet()``) makes the network, :mod:`.train` trains it with
single-path uniform sampling (SPOS), :mod:`.checkpoint` saves and loads it, and the ``oneshot``
estimator scores archs with its inherited weights.
"""

from archspace.supernet.core import (
    PARAM_OPS,
    Supernet,
    SupernetError,
    SupernetUnsupported,
    build_supernet,
    check_supported,
    layer_specs,
    scan_archs,
)

__all__ = ["PARAM_OPS", "Supernet", "SupernetError", "SupernetUnsupported", "build_supernet",
           "check_supported", "layer_specs", "scan_archs"]
