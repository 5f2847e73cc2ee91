"""Identical caption texts in one batch: false negatives for the contrastive and triplet losses.

Two examples of a batch whose captions read exactly the same ("A dog runs on the grass.") are
both good matches for either caption, yet in-batch losses treat the other example's visual item
as a negative. With `negatives: mask_identical_text` a method passes the losses an `exclude`
mask built here, and those pairs leave the negatives (the official codes keep them: `all`, the
default). Texts are compared through a stable 64-bit key per text, so the keys can be gathered
across processes like item labels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch

ALL, MASK_IDENTICAL_TEXT = "all", "mask_identical_text"
NEGATIVE_MODES = (ALL, MASK_IDENTICAL_TEXT)


def check_negatives(mode: str) -> None:
    if mode not in NEGATIVE_MODES:
        raise ValueError(f"negatives must be one of {', '.join(NEGATIVE_MODES)}, got {mode!r}")


def text_keys(texts: Sequence[str], device: torch.device | str | None = None) -> torch.Tensor:
    """(B,) int64: equal texts get equal keys (blake2b of the UTF-8 text, the same in every
    process), different texts different keys up to a 2⁻⁶⁴ collision."""
    keys = [
        int.from_bytes(
            hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little", signed=True
        )
        for t in texts
    ]
    return torch.tensor(keys, dtype=torch.int64, device=device)


def identical_pairs(*keys: torch.Tensor) -> torch.Tensor:
    """(B, B) bool: pairs i ≠ j whose texts are identical in any of the given views (each (B,)
    keys of one view, row i of every view belonging to example i)."""
    if not keys:
        raise ValueError("identical_pairs needs the keys of at least one view")
    same = torch.zeros(len(keys[0]), len(keys[0]), dtype=torch.bool, device=keys[0].device)
    for view in keys:
        same |= view[:, None] == view[None, :]
    return same.fill_diagonal_(False)


def one_to_k_identical(keys: torch.Tensor) -> torch.Tensor:
    """(B, B·K) bool for `one_to_k_nce`: image i against text (j, k) (column j·K + k) where
    j ≠ i and text (j, k) is identical to one of example i's own K texts. `keys` (B, K)."""
    batch, k = keys.shape
    same = (keys[:, None, None, :] == keys[None, :, :, None]).any(dim=-1)  # (B_i, B_j, K)
    same[torch.arange(batch), torch.arange(batch)] = False
    return same.reshape(batch, batch * k)
