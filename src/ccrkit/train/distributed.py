"""Processes and devices: the same trainer runs alone or under `torchrun` (DDP).

`torchrun` sets RANK, WORLD_SIZE and LOCAL_RANK; `DistEnv.from_environ()` reads them. Rank 0 writes
checkpoints, logs and results; every rank trains on its share of each global batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from ccrkit import devices


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_environ(cls) -> DistEnv:
        def read(name: str, default: int) -> int:
            value = os.environ.get(name, "")
            try:
                return int(value) if value else default
            except ValueError:
                raise ValueError(
                    f"environment variable {name}={value!r} is not an integer"
                ) from None

        return cls(read("RANK", 0), read("WORLD_SIZE", 1), read("LOCAL_RANK", 0))

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


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


def broadcast_object(obj: Any, env: DistEnv) -> Any:
    """Rank 0's `obj` on every rank."""
    if not env.distributed:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def gather_objects(obj: Any, env: DistEnv) -> list[Any]:
    """Every rank's `obj`, in rank order, on every rank."""
    if not env.distributed:
        return [obj]
    gathered: list[Any] = [None] * env.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def average_gradients(grads: list[torch.Tensor], env: DistEnv) -> None:
    """In-place mean over ranks (auxiliary optimisers live outside DDP's reducer)."""
    if not env.distributed:
        return
    for grad in grads:
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        grad.div_(env.world_size)


def barrier(env: DistEnv) -> None:
    if env.distributed:
        dist.barrier()
