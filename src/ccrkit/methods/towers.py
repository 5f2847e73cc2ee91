"""NRCCR's towers (methods.md §1.1) as parts for the later methods of the same group (NRF, CL2CM).

- `TowerConfig` (defined with `NrccrConfig`, which extends it): the tower numbers (H = 768,
  8 heads, q/k 512, 250 positions, dropout 0.1, common space 1536, mapping dropout 0.2, optional
  visual Linear); NRF's and CL2CM's configs extend it, so their YAML reads like NRCCR's.
- `TextTower`: `NrccrTextTower` (input projection → positions → the NRCCR attention block →
  masked mean pooling) followed by the mapping head (Linear → BN → Dropout → L2).
- `VisualTower`: the optional visual Linear (NRCCR's CLIP 512 → 1024, no activation) and the
  visual mapping head.
"""

from __future__ import annotations

import torch
from torch import nn

from ccrkit.methods.nrccr.config import TowerConfig
from ccrkit.methods.nrccr.towers import NrccrTextTower, Prepared, visual_layers
from ccrkit.models.base import EncoderOutput
from ccrkit.models.blocks import projection_head


class TextTower(nn.Module):
    """Encoder token states → prepared tokens → attention → pooled → mapped unit vector."""

    def __init__(self, in_dim: int, config: TowerConfig) -> None:
        super().__init__()
        c = config
        self.tower = NrccrTextTower(in_dim, c.hidden, c.heads, c.qk_dim, c.positions, c.dropout)
        self.head = projection_head("mapping", c.hidden, c.embed_dim, c.mapping_dropout)

    def prepare(self, encoded: EncoderOutput) -> Prepared:
        return self.tower.prepare(encoded)

    def tokens(self, prepared: Prepared) -> torch.Tensor:
        """(B, L, H): the self-attention block's token states (padding rows are meaningless)."""
        tokens, mask = prepared
        return self.tower.attention(tokens, mask)

    def embed(self, prepared: Prepared) -> torch.Tensor:
        """(B, E) unit vectors: self-attention, masked mean, mapping."""
        return self.head(self.tower.self_branch(prepared))

    def embed_tokens(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, E) from token states that already went through attention (`tokens`)."""
        return self.head(self.tower.pool(tokens, mask))

    def cross(self, query: Prepared, context: Prepared) -> torch.Tensor:
        """(B, E): NRCCR's cross branch (query tokens attend to context tokens), mapped."""
        return self.head(self.tower.cross_branch(query, context))


class VisualTower(nn.Module):
    """Pooled visual encoder output → optional Linear (+ ReLU) → mapping head (unit vectors)."""

    def __init__(self, in_dim: int, config: TowerConfig) -> None:
        super().__init__()
        self.proj, self.head = visual_layers(in_dim, config)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.head(self.proj(pooled))
