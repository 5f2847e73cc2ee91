"""1-to-K contrastive loss of CCRk (KDD 2024, methods.md §4.2): each visual item with K captions
(one per language view) in one shared image-to-text softmax."""

from __future__ import annotations

import torch

from ccrkit.losses.contrastive import soft_cross_entropy


def one_to_k_nce(
    visual: torch.Tensor,
    text: torch.Tensor,
    temperature: float | torch.Tensor,
    labels: torch.Tensor | None = None,
    exclude: torch.Tensor | None = None,
) -> torch.Tensor:
    """The 1-to-K contrastive loss between B visual items (B, D) and their K views (B, K, D).

    `text[j, k]` is the k-th language view of example j (image-major: flattened, text (j, k) is
    column j·K + k). ℓ_{i,(j,k)} = v_i · t_{j,k} / τ over all B·K texts. Positives: P_{i,j} =
    [labels_i = labels_j] (without labels, j = i), so an example's K views are all positives of
    its image, and so are the views of another example of the same item in the batch.

        i2t:  L_i2t = −(1/B) Σ_i (K / n_i) Σ_{j: P_ij} Σ_k log softmax_{(j',k') ∈ B·K}(ℓ_{i,(j,k)})
              with n_i = K · #{j : P_ij}: ONE softmax over all B·K texts per image, in which the K
              positives compete with each other as well as with the negatives;
        t2i:  L_t2i = −(1/(B·K)) Σ_{(j,k)} Σ_i (P_ij / Σ_i' P_i'j) log softmax_{i' ∈ B}(ℓ_{i,(j,k)})
              a B-way softmax over the images for every text;
        L = (L_i2t + L_t2i) / (2K)

    When two examples of one item have equal visual rows (the same features, no augmentation),
    treating their texts as positives (labels) or as negatives (no labels, the official code)
    gives the same loss: the two equal rows have one softmax, so the targets they split between
    them sum to the same cross-entropy (and the encoder that made both rows gets the same
    gradient, the sum of theirs).

    Without repeated items (n_i = K) this is the official code's `get_unialign_contrastive_loss`:
    the K positives of an image carry target 1 each (not 1/K), the t2i term is a plain
    cross-entropy averaged over the B·K texts, and both are divided by K. With K = 1 it equals
    `info_nce(text[:, 0], visual, τ, labels)`. τ is the caller's (CCRk: a learnable parameter
    initialised at 0.07 and clamped to [0.001, 0.5] before every step). Embeddings are expected
    to be L2-normalised. `exclude` (B, B·K) bool removes image i / text (j, k) pairs from the
    negatives of both softmaxes (`losses.negatives.one_to_k_identical`: identical texts).
    """
    if visual.ndim != 2 or text.ndim != 3 or text.shape[0] != visual.shape[0]:
        raise ValueError(
            f"one_to_k_nce expects visual (B, D) and text (B, K, D), got {tuple(visual.shape)} "
            f"and {tuple(text.shape)}"
        )
    batch, k = text.shape[:2]
    logits = visual @ text.reshape(batch * k, -1).T / temperature  # (B, B·K)
    if labels is None:
        same = torch.eye(batch, dtype=logits.dtype, device=logits.device)
    else:
        same = (labels[:, None] == labels[None, :]).to(logits.dtype)  # (B images, B examples)
    positives = same.repeat_interleave(k, dim=1)  # (B, B·K): image i vs text (j, k)
    if exclude is not None:
        logits = logits.masked_fill(exclude & (positives == 0), float("-inf"))
    i2t = k * soft_cross_entropy(logits, positives)
    t2i = soft_cross_entropy(logits.T, positives.T)  # (B·K, B)
    return (i2t + t2i) / (2 * k)
