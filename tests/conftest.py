from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _seed_torch() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True, scope="session")
def _dataset_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Decoded datasets go to a temporary cache, never the user's ~/.cache/archspace."""
    os.environ["ARCHSPACE_CACHE_DIR"] = str(tmp_path_factory.mktemp("archspace-cache"))
