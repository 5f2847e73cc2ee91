"""Shared fixtures. Stage-specific fixtures live beside their tests."""

from __future__ import annotations

import torch

# Tests run on small, often shared CPUs (2 cores in CI): one torch thread per process is far
# faster than two that compete with each other and with other processes.
torch.set_num_threads(1)
