"""Shared fixtures. Stage-specific fixtures live beside their tests."""

from __future__ import annotations

import os

import torch

# Tests run on small CPUs (2 cores in CI); keep torch from oversubscribing them.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
