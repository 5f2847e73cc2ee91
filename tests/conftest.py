"""Shared fixtures. Stage-specific fixtures live beside their tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Tests run on small CPUs (2 cores in CI); keep torch from oversubscribing them.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DATA_ROOT of the `world-tiny` synthetic world, generated once per test session."""
    from ccrkit.config import load_config
    from ccrkit.data.synthetic.config import WorldConfig
    from ccrkit.data.synthetic.world import generate_world

    root = tmp_path_factory.mktemp("world") / "tiny"
    generate_world(load_config(WorldConfig, "world-tiny"), root, show_progress=False)
    return root
