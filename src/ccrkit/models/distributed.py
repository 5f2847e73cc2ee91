"""Gathering embeddings from every process so contrastive losses see every negative (DDP).

`gather_with_grad` concatenates each process's (B, D) tensor along dim 0, and its backward hands
every process the gradient of its own rows summed over all processes. Every process then computes
the same global loss; DDP's averaging of parameter gradients turns (world_size × own rows) back into
exactly the gradient of the single-process loss on the concatenated batch (tested on gloo).
Outside a process group both functions are the identity.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist

Gather = Callable[[torch.Tensor], torch.Tensor]


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.rows, ctx.rank = x.shape[0], dist.get_rank()
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = ctx.rank * ctx.rows
        return grad[start : start + ctx.rows]


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """All processes' rows (equal batch sizes, as DistributedSampler gives), differentiable."""
    if world_size() == 1:
        return x
    return _GatherWithGrad.apply(x)


def gather_nograd(x: torch.Tensor) -> torch.Tensor:
    """All processes' rows of a tensor that needs no gradient (e.g. item indices)."""
    if world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts, dim=0)


def gatherers(enabled: bool) -> tuple[Gather, Gather]:
    """(`gather_with_grad`, `gather_nograd`) when a method's `gather` switch is on, else two
    identities: its losses then see only the process's own batch."""
    if enabled:
        return gather_with_grad, gather_nograd
    return _identity, _identity


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x
