"""Ranking losses: NRCCR's VSE++ max-violation triplet (methods.md §1.2 A)."""

from __future__ import annotations

import torch


def triplet_max_violation(
    x: torch.Tensor, y: torch.Tensor, margin: float = 0.2, exclude: torch.Tensor | None = None
) -> torch.Tensor:
    """VSE++ hinge on the hardest negative, both directions, summed over the batch.

    With S = x yᵀ (cosines for L2-normalised rows; row i of x and y is pair i):

        L = Σ_i max_{j≠i} [m + S_ij − S_ii]_+  +  Σ_j max_{i≠j} [m + S_ij − S_jj]_+

    Only the diagonal is positive: another caption of the same item in the batch counts as a
    negative, as in NRCCR's code (`cost_style=sum`, `max_violation=True`). `exclude` (B, B) bool
    removes pairs (i, j) from the negatives (`losses.negatives`: identical caption texts); a row
    with no negative left costs 0.
    """
    scores = x @ y.T
    positive = scores.diagonal()
    off_diagonal = ~torch.eye(len(scores), dtype=torch.bool, device=scores.device)
    if exclude is not None:
        off_diagonal = off_diagonal & ~exclude
    cost_x = (margin + scores - positive[:, None]).clamp(min=0) * off_diagonal
    cost_y = (margin + scores - positive[None, :]).clamp(min=0) * off_diagonal
    return cost_x.max(dim=1).values.sum() + cost_y.max(dim=0).values.sum()
