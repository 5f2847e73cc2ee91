"""Processes of one job under `torchrun`: who am I, how many are we, wait for the others.

`torchrun` sets RANK, WORLD_SIZE and LOCAL_RANK; `DistEnv.from_environ()` reads them (a plain
process is rank 0 of 1). The trainer (DDP) and the sharded stages (`ccrkit translate`,
`ccrkit features`) share these helpers; they live here, below every stage, because translate and
data must not import train. `shard` splits work by rank, the same way on every run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")
# Rank 0 merges while the others wait at a barrier: a large merge may take a while.
MERGE_TIMEOUT = timedelta(hours=2)
SHARD_NAME = re.compile(r"rank-(\d+)-of-(\d+)(\..*)?")


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


def join_cpu_group(env: DistEnv) -> DistEnv:
    """Join torchrun's group for coordination only (gloo: barriers and small objects), and pick
    this process's GPU when there are GPUs; a no-op for a single process or when joined."""
    if env.distributed and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(env.local_rank % torch.cuda.device_count())
        dist.init_process_group("gloo", rank=env.rank, world_size=env.world_size,
                                timeout=MERGE_TIMEOUT)  # fmt: skip
    return env


def shard(items: Sequence[T], env: DistEnv) -> list[T]:
    """This rank's share of `items`: every `world_size`-th item from position `rank` on. The
    split depends only on the order of `items` and the number of ranks, never on timing."""
    return list(items[env.rank :: env.world_size])


def shard_name(env: DistEnv) -> str:
    """`rank-<r>-of-<W>`: the name of this rank's share on disk (a file stem or a folder)."""
    return f"rank-{env.rank}-of-{env.world_size}"


def check_world_size(folder: Path, env: DistEnv, single_process: str | None = None) -> None:
    """Refuse to mix shards: `folder` must hold no share (`rank-<r>-of-<W>...`) of an unfinished
    run with another number of ranks. `single_process`: a glob of what a one-process run leaves
    there (it counts as a run of 1)."""
    if not folder.is_dir():
        return
    sizes = {int(m.group(2)) for p in folder.iterdir() if (m := SHARD_NAME.fullmatch(p.name))}
    if single_process is not None and any(folder.glob(single_process)):
        sizes.add(1)
    other = sorted(sizes - {env.world_size})
    if other:
        was = "one process" if other[0] == 1 else f"{other[0]} ranks"
        raise ValueError(
            f"{folder}: shards of an unfinished run with {was}, and this run has "
            f"{env.world_size}; restart it with {was} to resume, or delete the folder to start "
            "over (what it holds is lost)"
        )


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


def barrier(env: DistEnv) -> None:
    if env.distributed:
        dist.barrier()
