"""Shared fixtures. Stage-specific fixtures live beside their tests."""

from __future__ import annotations

import os

# torch and faiss each bundle an OpenMP runtime whose idle threads spin by default; on 2 shared
# cores they slow each other (and other processes) several-fold. Set before either is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

# Tests run on small CPUs (2 cores in CI); keep torch from oversubscribing them.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
