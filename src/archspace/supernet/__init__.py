"""Weight sharing: one supernet per space, built from the IR (imports torch).

:func:`build_supernet` (or ``space.supernet()``) makes the network (:mod:`.core`),
:func:`train_supernet` trains it with single-path sampling (SPOS, :mod:`.train`; the paths
drawn by :mod:`.sampling`),
:func:`load_supernet` reads a trained one back (:mod:`.checkpoint`; a few-shot file, split on
one edge into sub-supernets by Zhao et al.'s few-shot NAS, as a :class:`FewShotSupernet`,
:mod:`.fewshot`), and the ``oneshot``
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
from archspace.supernet.fewshot import FewShotSupernet, check_edge
from archspace.supernet.sampling import SAMPLERS, dead_nodes, is_connected, path_sampler
from archspace.supernet.train import evaluate_path, extremes, train_supernet

__all__ = ["PARAM_OPS", "SAMPLERS", "FewShotSupernet", "Supernet", "SupernetError", "SupernetFileError",
           "SupernetUnsupported", "build_supernet", "check_edge", "check_supported", "dead_nodes",
           "evaluate_path", "extremes", "is_connected", "layer_specs", "load_supernet",
           "path_sampler", "read_supernet_file", "scan_archs", "train_supernet"]
