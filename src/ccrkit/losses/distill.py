"""NRCCR's self-distillation terms (methods.md §1.2 C and D): similarity view and feature view."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_target_distill(
    student: torch.Tensor, teacher: torch.Tensor, visual: torch.Tensor, tau: float = 0.07
) -> torch.Tensor:
    """Similarity-view distillation: the student's text-visual similarity distributions follow the
    teacher's, in both directions (NRCCR `dtl_beta` term, methods.md §1.2 C).

    With S(a, b) = a bᵀ (cosines for L2-normalised rows), student e_t, teacher e_c (detached here)
    and visual v, all (B, D), row i of each being pair i:

        v→t:  P^T_i = softmax_j(S(v_i, e_c,j)/τ),  log P^S_i = log_softmax_j(S(v_i, e_t,j)/τ)
        t→v:  P^T_i = softmax_j(S(e_c,i, v_j)/τ),  log P^S_i = log_softmax_j(S(e_t,i, v_j)/τ)
        L = ½ [ −mean_i Σ_j P^T_ij log P^S_ij (v→t)  −  mean_i Σ_j P^T_ij log P^S_ij (t→v) ]

    A soft-target cross-entropy (not a KL: the teacher's entropy is included, which changes the
    value but not the gradient). Gradients reach the student and the visual side, never the teacher.
    """
    teacher = teacher.detach()
    v2t = _soft_cross_entropy(visual @ student.T / tau, visual @ teacher.T / tau)
    t2v = _soft_cross_entropy(student @ visual.T / tau, teacher @ visual.T / tau)
    return (v2t + t2v) / 2


def _soft_cross_entropy(logits: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor:
    targets = F.softmax(target_logits, dim=1)
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def smooth_l1_feature(
    student: torch.Tensor, teacher: torch.Tensor, beta: float = 4.0, detach_teacher: bool = True
) -> torch.Tensor:
    """Feature-view distillation: SmoothL1 between student e_t and teacher e_c, mean over elements
    (NRCCR `l1_gama` term, methods.md §1.2 D).

    With d = e_t − e_c elementwise:

        ℓ(d) = ½ d² / β   if |d| < β,   |d| − ½ β   otherwise;     L = mean over all elements

    On unit vectors with β = 4 every |d| ≤ 2 < β, so L = mean(d²) / 8. NRCCR's code does not detach
    the teacher (gradient flows into the cross branch as well, methods.md §1.7 item 8);
    `detach_teacher=False` reproduces that, the default treats the teacher as in the similarity view.
    """
    if detach_teacher:
        teacher = teacher.detach()
    return F.smooth_l1_loss(student.float(), teacher.float(), reduction="mean", beta=beta)
