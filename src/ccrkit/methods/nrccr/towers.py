"""NRCCR's text tower after the encoder (methods.md §1.1 items 3–7), shared by every branch.

encoder token states → LayerNorm → Dropout → Linear(→H) → ReLU → + trainable positions →
LayerNorm → Dropout ("prepared" tokens) → the NRCCR attention block → mean pooling. The same block
serves self-attention (residual) and the training-only cross branch (no residual): source tokens
attend to target tokens, and the result is concatenated with the prepared target tokens before
pooling. Pooling is over real tokens; `pad_pool` averages over the padded length as the official
code does (with its outer-product attention mask).
"""

from __future__ import annotations

import torch
from torch import nn

from ccrkit.methods.nrccr.config import TowerConfig
from ccrkit.models.base import EncoderOutput, masked_mean
from ccrkit.models.blocks import NrccrAttention, projection_head

Prepared = tuple[torch.Tensor, torch.Tensor]  # tokens (B, L, H), mask (B, L)


class NrccrTextTower(nn.Module):
    def __init__(
        self, in_dim: int, hidden: int, heads: int, qk_dim: int, positions: int,
        dropout: float, pad_pool: bool = False,
    ) -> None:  # fmt: skip
        super().__init__()
        self.hidden, self.pad_pool = hidden, pad_pool
        self.input = nn.Sequential(
            nn.LayerNorm(in_dim), nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.ReLU()
        )
        self.positions = nn.Embedding(positions, hidden)
        self.position_norm = nn.Sequential(nn.LayerNorm(hidden), nn.Dropout(dropout))
        self.attention = NrccrAttention(hidden, heads, qk_dim, dropout)

    def prepare(self, encoded: EncoderOutput) -> Prepared:
        """Project the encoder's token states and add positions (before any attention)."""
        tokens, mask = encoded.tokens, encoded.mask.bool()
        length = tokens.shape[1]
        if length > self.positions.num_embeddings:
            raise ValueError(
                f"a caption of {length} tokens exceeds the tower's {self.positions.num_embeddings} "
                "positions; lower text_encoder.max_length or raise method.positions"
            )
        steps = torch.arange(length, device=tokens.device)
        return self.position_norm(self.input(tokens) + self.positions(steps)), mask

    def pool(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return tokens.mean(dim=1) if self.pad_pool else masked_mean(tokens, mask)

    def self_branch(self, prepared: Prepared) -> torch.Tensor:
        """(B, H): self-attention with residual, pooled — e_s, e_t, e_b and every evaluation."""
        tokens, mask = prepared
        return self.pool(self.attention(tokens, mask, outer_mask=self.pad_pool), mask)

    def cross_branch(self, source: Prepared, target: Prepared) -> torch.Tensor:
        """(B, H): source tokens attend to target tokens (no residual); the L_s results are
        concatenated with the prepared target tokens and pooled — e_c, training only."""
        (src, src_mask), (tgt, tgt_mask) = source, target
        attended = self.attention(src, src_mask, tgt, tgt_mask, outer_mask=self.pad_pool)
        return self.pool(torch.cat([attended, tgt], dim=1), torch.cat([src_mask, tgt_mask], dim=1))


def visual_layers(in_dim: int, config: TowerConfig) -> tuple[nn.Sequential, nn.Module]:
    """(the optional visual Linear (+ ReLU), the visual mapping head) of `config`.

    NRCCR registers the two under its own names (`visual_proj`, `visual_head`: the names of its
    checkpoints and of the official import's mapping); `VisualTower` holds them as `proj`, `head`.
    """
    layers: list[nn.Module] = []
    dim = in_dim
    if config.visual_hidden is not None:
        layers.append(nn.Linear(in_dim, config.visual_hidden))
        layers += [nn.ReLU()] if config.visual_activation == "relu" else []
        dim = config.visual_hidden
    head = projection_head("mapping", dim, config.embed_dim, config.mapping_dropout)
    return nn.Sequential(*layers), head
