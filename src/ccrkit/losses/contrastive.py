"""Symmetric InfoNCE with multi-positive labels (methods.md §4.3, §5; CLIP-style contrastive)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(
    x: torch.Tensor,
    y: torch.Tensor,
    temperature: float | torch.Tensor,
    labels: torch.Tensor | None = None,
    exclude: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE between the rows of x (B, D) and y (B, D); row i of both is pair i.

    ℓ_ij = x_i · y_j / τ. Positives P_ij = [labels_i = labels_j] (every caption of the same item
    in the batch; without labels, only j = i), used as row-normalised soft targets as in CCRk's
    fine-tuning ITC (methods.md §4.3):

        L_x→y = −(1/B) Σ_i Σ_j (P_ij / Σ_k P_ik) · log softmax_j(ℓ_ij)
        L_y→x = −(1/B) Σ_j Σ_i (P_ij / Σ_k P_kj) · log softmax_i(ℓ_ij)
        L = (L_x→y + L_y→x) / 2

    τ may be a learnable tensor (a method clamps it) or a fixed float. Embeddings are expected to be
    L2-normalised (then x_i · y_j is a cosine).

    `exclude` (B, B) bool: pairs (i, j) that are not negatives (`losses.negatives`: identical
    caption texts); they leave both softmaxes (ℓ_ij = −∞) unless they are positives.
    """
    logits = (x @ y.T) / temperature
    if labels is None:
        positives = torch.eye(len(x), dtype=logits.dtype, device=logits.device)
    else:
        positives = (labels[:, None] == labels[None, :]).to(logits.dtype)
    if exclude is not None:
        logits = logits.masked_fill(exclude & (positives == 0), float("-inf"))
    x_to_y = soft_cross_entropy(logits, positives)
    y_to_x = soft_cross_entropy(logits.T, positives.T)
    return (x_to_y + y_to_x) / 2


def soft_cross_entropy(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """−mean_i Σ_j (P_ij / Σ_k P_ik) log softmax_j(ℓ_ij); entries with ℓ = −∞ (excluded
    negatives, never positives) add nothing."""
    targets = positives / positives.sum(dim=1, keepdim=True)
    log_p = F.log_softmax(logits, dim=1)
    return -torch.where(targets > 0, targets * log_p, 0.0).sum(dim=1).mean()
