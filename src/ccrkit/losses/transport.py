"""Word-level optimal-transport alignment (CL2CM's self-supervised word alignment, methods.md §3).

Entropic OT between the real tokens of two sentences, solved for a whole batch at once by POT's
batched log-domain Sinkhorn (`ot.batch.solve_batch(method="log_sinkhorn")`): stable for small ε,
padding handled by giving padded tokens zero mass.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

PlanGrad = Literal["detach", "autodiff", "last_step"]
PLAN_GRADS = ("detach", "autodiff", "last_step")


def token_cost(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """C_ij = 1 − cos(a_i, b_j) for token states a (B, La, D) and b (B, Lb, D): (B, La, Lb) in [0, 2]."""
    return 1.0 - F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).transpose(1, 2)


def sinkhorn_plan(
    cost: torch.Tensor,
    mask_a: torch.Tensor,
    mask_b: torch.Tensor,
    epsilon: float = 0.1,
    iterations: int = 50,
    tol: float = 0.0,
    grad: PlanGrad = "detach",
) -> torch.Tensor:
    """Entropic OT plans T (B, La, Lb) with uniform marginals over the real tokens of each side.

    For pair k with n_k real tokens on side a and m_k on side b, a_i = 1/n_k on real tokens and 0
    on padding (likewise b_j = 1/m_k), and

        T_k = argmin_{T ≥ 0, T1 = a, Tᵀ1 = b}  ⟨T, C_k⟩ + ε Σ_ij T_ij (log T_ij − 1)

    solved in the log domain (u ← log a − LSE_j(−C/ε + v), v ← log b − LSE_i(−C/ε + u)) for
    `iterations` iterations, or until the row marginals are within `tol` (checked every 10; 0:
    always all iterations). As ε → 0, T_k tends to an optimal assignment (a permutation / n for
    n = m). Padded rows and columns get exactly zero mass. A pair with no real token on one side
    (an empty sentence) gets an all-zero plan, never NaN.

    `grad`: "detach" returns a constant plan (gradients of ⟨T, C⟩ then reach C only, the envelope
    gradient of the OT value); "autodiff" differentiates through every iteration; "last_step"
    through the last one only (POT's modes).
    """
    if grad not in PLAN_GRADS:
        raise ValueError(f"grad must be one of {', '.join(PLAN_GRADS)}, got {grad!r}")
    if epsilon <= 0 or iterations < 1:
        raise ValueError(f"epsilon must be > 0 and iterations >= 1, got {epsilon}, {iterations}")
    # POT loads on CL2CM's first OT term only: importing it costs seconds every other run would pay
    from ot.batch import solve_batch

    mask_a, mask_b = mask_a.bool(), mask_b.bool()
    empty = ~(mask_a.any(dim=1) & mask_b.any(dim=1))
    # an empty side would give 0/0 marginals: solve those pairs over every position, then zero them
    mask_a = mask_a | empty[:, None]
    mask_b = mask_b | empty[:, None]
    work = cost.float().masked_fill(~(mask_a[:, :, None] & mask_b[:, None, :]), 0.0)
    a = mask_a.float() / mask_a.sum(dim=1, keepdim=True)
    b = mask_b.float() / mask_b.sum(dim=1, keepdim=True)
    result = solve_batch(
        work, reg=epsilon, a=a, b=b, method="log_sinkhorn", max_iter=iterations, tol=tol,
        grad=grad,
    )  # fmt: skip
    plan = result.plan.masked_fill(empty[:, None, None], 0.0)
    return plan.detach() if grad == "detach" else plan


def ot_alignment(
    a: torch.Tensor,
    b: torch.Tensor,
    mask_a: torch.Tensor,
    mask_b: torch.Tensor,
    epsilon: float = 0.1,
    iterations: int = 50,
    tol: float = 0.0,
    grad: PlanGrad = "detach",
) -> torch.Tensor:
    """Mean word-alignment cost of a batch of sentence pairs (CL2CM's word level, methods.md §3).

    With token states a (B, La, D), b (B, Lb, D), masks True on real tokens, C_k = `token_cost`
    and T_k = `sinkhorn_plan(C_k, ...)`:

        L = (1 / |K|) Σ_{k ∈ K} ⟨T_k, C_k⟩,    K = the pairs with a real token on both sides

    Each ⟨T_k, C_k⟩ lies in [0, 2] (the plan's mass is 1 and C in [0, 2]). Empty pairs are left
    out; a batch of empty pairs gives 0 (with a gradient path, so the graph stays connected).
    """
    cost = token_cost(a, b)
    plan = sinkhorn_plan(cost, mask_a, mask_b, epsilon, iterations, tol, grad)
    work = cost.float().masked_fill(~(mask_a.bool()[:, :, None] & mask_b.bool()[:, None, :]), 0.0)
    per_pair = (plan * work).sum(dim=(1, 2))
    real = mask_a.bool().any(dim=1) & mask_b.bool().any(dim=1)
    if not real.any():
        return work.sum() * 0.0
    return per_pair[real].mean()
