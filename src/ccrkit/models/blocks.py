"""Building blocks shared by encoders and methods: NRCCR's attention block and projection heads."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MASK_VALUE = -10000.0  # NRCCR's additive mask; exp(-10000) is exactly 0 in float32


class NrccrAttention(nn.Module):
    """NRCCR's one attention block (methods.md §1.1 item 5), used for self- and cross-attention.

    Query and key are projected to `qk_dim` (512) and the value to `hidden` (H); `heads` (8) heads;
    scores are divided by sqrt(H / heads) — not by the q/k head size — and key padding gets an
    additive −10000. There is no feed-forward sublayer: out = Dropout(Linear(H→H)(attention)), then
    LayerNorm(out + query) in self mode and LayerNorm(out) with no residual in cross mode. The same
    weights serve both modes, as in NRCCR's code.
    """

    def __init__(
        self, hidden: int, heads: int = 8, qk_dim: int = 512, dropout: float = 0.1
    ) -> None:
        super().__init__()
        if qk_dim % heads or hidden % heads:
            raise ValueError(
                f"attention: qk_dim ({qk_dim}) and hidden ({hidden}) must be divisible by heads ({heads})"
            )
        self.heads, self.dropout = heads, dropout
        self.query = nn.Linear(hidden, qk_dim)
        self.key = nn.Linear(hidden, qk_dim)
        self.value = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)
        self.out_dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(hidden)
        self.scale = 1.0 / math.sqrt(hidden / heads)

    def forward(
        self,
        query: torch.Tensor,
        query_mask: torch.Tensor,
        context: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
        outer_mask: bool = False,
    ) -> torch.Tensor:
        """Self-attention over `query` (B, Lq, H), or cross-attention from it to `context` (B, Lk, H).

        Masks are True on real positions. Padded query rows come out as well (they are ignored by
        masked pooling); padded keys never receive attention from real queries. `outer_mask=True`
        is the official code's mask, the outer product of query and key masks: a padded query row
        gets −10000 on every key, which the softmax ignores, so it attends to every key, padding
        included (only visible when padding is pooled, `nrccr_compat_padding_pool`).
        """
        cross = context is not None
        keys, key_mask = (context, context_mask) if cross else (query, query_mask)
        allowed = key_mask.bool()[:, None, None, :]
        if outer_mask:
            allowed = allowed & query_mask.bool()[:, None, :, None]
        q, k, v = (
            self._split(self.query(query)),
            self._split(self.key(keys)),
            self._split(self.value(keys)),
        )
        bias = torch.zeros(allowed.shape, dtype=q.dtype, device=q.device)
        bias = bias.masked_fill(~allowed, MASK_VALUE)
        attended = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=self.dropout if self.training else 0.0,
            scale=self.scale,
        )  # fmt: skip
        merged = attended.transpose(1, 2).flatten(2)
        out = self.out_dropout(self.out(merged))
        return self.norm(out) if cross else self.norm(out + query)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        return x.view(batch, length, self.heads, width // self.heads).transpose(1, 2)


def l2_normalise(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    return F.normalize(x, p=2.0, dim=-1, eps=eps)


class L2Norm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return l2_normalise(x)


PROJECTION_KINDS = ("mapping", "linear")


def projection_head(kind: str, in_dim: int, out_dim: int, dropout: float = 0.2) -> nn.Sequential:
    """The head that maps an encoder's pooled vector into the shared space, L2-normalised.

    - "mapping" (NRCCR, methods.md §1.1 item 8): Linear → BatchNorm1d → Dropout → L2;
    - "linear" (CCRk, §4.1): Linear → L2.
    """
    if kind == "mapping":
        return nn.Sequential(
            nn.Linear(in_dim, out_dim), nn.BatchNorm1d(out_dim), nn.Dropout(dropout), L2Norm()
        )
    if kind == "linear":
        return nn.Sequential(nn.Linear(in_dim, out_dim), L2Norm())
    raise ValueError(f"unknown projection head '{kind}'; known: {', '.join(PROJECTION_KINDS)}")
