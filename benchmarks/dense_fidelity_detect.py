"""``benchmarks/dense_fidelity.py --task detect`` under its old name: ``python
benchmarks/dense_fidelity_detect.py run|report ARGS`` is ``python benchmarks/dense_fidelity.py
run|report --task detect ARGS`` (the runner is ``benchmarks/_dense_detect.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dense_fidelity import main

if __name__ == "__main__":
    main([*sys.argv[1:2], "--task", "detect", *sys.argv[2:]])
