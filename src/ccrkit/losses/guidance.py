"""Source guidance of a noise filter (NRF's feature distillation, methods.md §2)."""

from __future__ import annotations

import torch


def feature_distance(
    student: torch.Tensor, teacher: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean squared distance of each student row to its teacher row, teacher detached.

        L = Σ_i w_i ‖s_i − sg(t_i)‖²₂ / Σ_i w_i        (w_i = 1 without weights)

    On L2-normalised rows ‖s − t‖² = 2 − 2 cos(s, t), so L lies in [0, 4]. NRF [R]: student =
    the noise filter's embedding f(t) of the MT caption, teacher = the clean source embedding
    e_s; `weights` (B,) in {0, 1} restrict the term to the selected parallel pairs. With no
    weight > 0 the result is 0 (with a gradient path to the student).
    """
    distances = (student.float() - teacher.detach().float()).pow(2).sum(dim=1)
    if weights is None:
        return distances.mean()
    weights = weights.to(distances.dtype)
    total = weights.sum()
    if total <= 0:
        return distances.sum() * 0.0
    return (weights * distances).sum() / total
