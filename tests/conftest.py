"""Shared fixtures. Stage-specific fixtures live beside their tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# torch and faiss each bundle an OpenMP runtime whose idle threads spin by default; on 2 shared
# cores they slow each other (and other processes) several-fold. Set before either is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tests run on small, often shared CPUs (2 cores in CI). Tiny models run fastest on one
    thread; two OpenMP threads competing with other processes spin-wait and made tests up to 100x
    slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DATA_ROOT of the `world-tiny` synthetic world, generated once per test session."""
    from ccrkit.config import load_config
    from ccrkit.world.config import WorldConfig
    from ccrkit.world.world import generate_world

    root = tmp_path_factory.mktemp("world") / "tiny"
    generate_world(load_config(WorldConfig, "world-tiny"), root, show_progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_run(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `baseline` run trained for a few seconds on the tiny world (German MT), for the stages
    that consume trained runs (evaluate --checkpoint, index, serve)."""
    from ccrkit.config import load_config
    from ccrkit.train.config import RunConfig
    from ccrkit.train.run import train_from_config

    overrides = [
        f"data.root={tiny_world}", "train.epochs=6", "train.batch_size=32", "train.lr=2e-3",
        "train.warmup_steps=0", "train.progress=false", "train.tensorboard=false",
        "text_encoder.name=builtin", "text_encoder.dim=64", "text_encoder.layers=1",
        "text_encoder.ffn_dim=128",
        "text_encoder.vocab_size=600", "method.embed_dim=64", "visual_encoder.hidden=128",
    ]  # fmt: skip
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    train_from_config(load_config(RunConfig, "baseline-world", overrides), run_dir)
    return run_dir
