"""Relational knowledge distillation (CL2CM's cross-lingual → cross-modal transfer, methods.md §3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def relational_kd(
    student_x: torch.Tensor,
    student_y: torch.Tensor,
    teacher_x: torch.Tensor,
    teacher_y: torch.Tensor,
    tau: float = 0.07,
    teacher_tau: float | None = None,
    both_directions: bool = True,
) -> torch.Tensor:
    """The student's in-batch relations follow the teacher's, in both directions.

    Rows i of the four (B, D) inputs belong to example i. With S = x_S y_Sᵀ / τ (student) and
    T = x_T y_Tᵀ / τ_T (teacher, detached; τ_T defaults to τ) — cosines for L2-normalised rows:

        rows:     R^T_i = softmax_j(T_ij),  R^S_i = softmax_j(S_ij),   L_→ = mean_i KL(R^T_i ‖ R^S_i)
        columns:  the same on Tᵀ and Sᵀ,                                L_← = mean_j KL(R^T_·j ‖ R^S_·j)
        L = ½ (L_→ + L_←),   KL(p ‖ q) = Σ p (log p − log q)

    (`both_directions=False`: L = L_→ only.)

    CL2CM [R]: teacher = the cross-lingual network's target/source relations cos(t_i, s_j),
    student = the cross-modal network's target/visual relations cos(t_i, v_j); L = 0 exactly when
    the two relation matrices agree after the softmax.
    """
    teacher_tau = tau if teacher_tau is None else teacher_tau
    student = student_x @ student_y.T / tau
    teacher = (teacher_x @ teacher_y.T).detach() / teacher_tau
    forward = _kl_rows(teacher, student)
    if not both_directions:
        return forward
    return (forward + _kl_rows(teacher.T, student.T)) / 2


def _kl_rows(teacher_logits: torch.Tensor, student_logits: torch.Tensor) -> torch.Tensor:
    log_p = F.log_softmax(teacher_logits.float(), dim=1)
    log_q = F.log_softmax(student_logits.float(), dim=1)
    return (log_p.exp() * (log_p - log_q)).sum(dim=1).mean()
