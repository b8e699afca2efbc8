"""``benchmarks/dense_fidelity.py --task superres`` under its old name: ``python
benchmarks/dense_fidelity_sr.py run|report ARGS`` is ``python benchmarks/dense_fidelity.py
run|report --task superres ARGS`` (the runner is ``benchmarks/_dense_superres.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dense_fidelity import main

if __name__ == "__main__":
    main([*sys.argv[1:2], "--task", "superres", *sys.argv[2:]])
