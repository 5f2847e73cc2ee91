"""Processes and devices: the same trainer runs alone or under `torchrun` (DDP).

`torchrun` sets RANK, WORLD_SIZE and LOCAL_RANK; `DistEnv.from_environ()` (`ccrkit.ranks`, shared
with the sharded translate and features stages) reads them. Rank 0 writes
checkpoints, logs and results; every rank trains on its share of each global batch.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from ccrkit import devices
from ccrkit.ranks import DistEnv, barrier, broadcast_object, gather_objects

__all__ = [
    "DistEnv",
    "average_gradients",
    "barrier",
    "broadcast_object",
    "gather_objects",
    "init_process_group",
    "resolve_device",
]


def resolve_device(kind: str, env: DistEnv) -> torch.device:
    """`auto`: the process's GPU when CUDA is available, else the CPU; `cuda` without CUDA fails.

    A GPU is made the process's current device (`torch.cuda.set_device`), as NCCL expects."""
    device = devices.resolve_device(kind, env.local_rank, what="train.device")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def init_process_group(env: DistEnv, backend: str, device: torch.device) -> None:
    """Join the process group torchrun prepared (no-op for a single process or when joined)."""
    if not env.distributed or dist.is_initialized():
        return
    if backend == "auto":
        backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, rank=env.rank, world_size=env.world_size)


def average_gradients(grads: list[torch.Tensor], env: DistEnv) -> None:
    """In-place mean over ranks (auxiliary optimisers live outside DDP's reducer)."""
    if not env.distributed:
        return
    for grad in grads:
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        grad.div_(env.world_size)
