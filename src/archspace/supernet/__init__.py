"""Weight sharing: one supernet per space, built from the IR (imports torch).

:func:`build_supernet` (or ``space.supernet()``) makes the network (:mod:`.core`),
:func:`train_supernet` trains it with single-path uniform sampling (SPOS, :mod:`.train`),
:func:`load_supernet` reads a trained one back (:mod:`.checkpoint`), and the ``oneshot``
estimator scores archs with its inherited weights. docs/weight-sharing.md has the whole picture.
"""

from archspace.supernet.checkpoint import SupernetFileError, load_supernet, read_supernet_file
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
from archspace.supernet.train import evaluate_path, extremes, train_supernet

__all__ = ["PARAM_OPS", "Supernet", "SupernetError", "SupernetFileError", "SupernetUnsupported",
           "build_supernet", "check_supported", "evaluate_path", "extremes", "layer_specs",
           "load_supernet", "read_supernet_file", "scan_archs", "train_supernet"]
