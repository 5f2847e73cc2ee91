"""Visual encoders over precomputed features: per-image vectors and per-frame sequences.

- `feature`: one precomputed vector per image (B, 1, D) → optional Linear(D→hidden) (+ ReLU).
  NRCCR: ResNet-152 2048-d → Linear(2048→2048) → ReLU; CLIP 512-d → Linear(512→1024), no
  activation (methods.md §1.1, visual tower).
- `frames`: per-frame features (B, T, D) → LayerNorm → Dropout → Linear(D→H) → ReLU → trainable
  positions + LayerNorm + Dropout → one NRCCR attention block → masked mean over real frames
  (NRCCR video; the mean over padding of the original code is fixed, §1.7 item 5;
  `compat_padding_pool: true` restores it, with the code's outer-product attention mask).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ccrkit.data.batch import VisualBatch
from ccrkit.models.base import (
    VISUAL_ENCODERS,
    BuildContext,
    EncoderOutput,
    VisualEncoder,
    masked_mean,
)
from ccrkit.models.blocks import NrccrAttention

ACTIVATIONS = ("relu", "none")


def _check_kind(visual: VisualBatch, expected: str, encoder: str) -> None:
    if visual.kind != expected:
        raise ValueError(
            f"visual encoder '{encoder}' reads '{expected}' batches but the data gives "
            f"'{visual.kind}'; choose a visual encoder for {visual.kind} input"
        )


def _feature_dim(context: BuildContext, encoder: str) -> int:
    if context.visual_dim is None:
        raise ValueError(f"visual encoder '{encoder}' needs the feature width of the data")
    return int(context.visual_dim)


@dataclass
class FeatureConfig:
    hidden: int | None = None  # None: the features pass through unchanged
    activation: str = "relu"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}"
            )


@VISUAL_ENCODERS.register("feature")
class FeatureEncoder(VisualEncoder):
    """One precomputed vector per item, optionally through Linear (+ ReLU) and Dropout."""

    config_class = FeatureConfig

    def __init__(self, config: FeatureConfig, in_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        if config.hidden is not None:
            layers.append(nn.Linear(in_dim, config.hidden))
            if config.activation == "relu":
                layers.append(nn.ReLU())
        if config.dropout:
            layers.append(nn.Dropout(config.dropout))
        self.net = nn.Sequential(*layers)
        self.dim = config.hidden or in_dim

    @classmethod
    def from_config(cls, config: FeatureConfig, context: BuildContext) -> FeatureEncoder:
        return cls(config, _feature_dim(context, "feature"))

    def forward(self, visual: VisualBatch) -> EncoderOutput:
        _check_kind(visual, "feature", "feature")
        values = visual.values.float()
        vectors = values[:, 0] if values.dim() == 3 else values
        pooled = self.net(vectors)
        return EncoderOutput(
            pooled[:, None], torch.ones_like(pooled[:, :1], dtype=torch.bool), pooled
        )


@dataclass
class FramesConfig:
    hidden: int = 1024
    heads: int = 8
    qk_dim: int = 512
    max_frames: int = 64  # longer videos are truncated, as in NRCCR
    positions: int = 80
    dropout: float = 0.1
    compat_padding_pool: bool = False  # NRCCR's code: mean over the padded length (§1.7 item 5)

    def __post_init__(self) -> None:
        if self.max_frames > self.positions:
            raise ValueError(f"max_frames ({self.max_frames}) exceeds positions ({self.positions})")


@VISUAL_ENCODERS.register("frames")
class FrameEncoder(VisualEncoder):
    """NRCCR's temporal block over frame features, pooled over the real frames only."""

    config_class = FramesConfig

    def __init__(self, config: FramesConfig, in_dim: int) -> None:
        super().__init__()
        self.config, self.dim = config, config.hidden
        self.input = nn.Sequential(
            nn.LayerNorm(in_dim), nn.Dropout(config.dropout), nn.Linear(in_dim, config.hidden),
            nn.ReLU(),
        )  # fmt: skip
        self.positions = nn.Embedding(config.positions, config.hidden)
        self.position_norm = nn.Sequential(nn.LayerNorm(config.hidden), nn.Dropout(config.dropout))
        self.attention = NrccrAttention(config.hidden, config.heads, config.qk_dim, config.dropout)

    @classmethod
    def from_config(cls, config: FramesConfig, context: BuildContext) -> FrameEncoder:
        return cls(config, _feature_dim(context, "frames"))

    def forward(self, visual: VisualBatch) -> EncoderOutput:
        _check_kind(visual, "frames", "frames")
        frames = visual.values[:, : self.config.max_frames].float()
        mask = visual.mask[:, : self.config.max_frames].bool()
        steps = torch.arange(frames.shape[1], device=frames.device)
        hidden = self.position_norm(self.input(frames) + self.positions(steps))
        compat = self.config.compat_padding_pool
        tokens = self.attention(hidden, mask, outer_mask=compat)
        pooled = tokens.mean(dim=1) if compat else masked_mean(tokens, mask)
        return EncoderOutput(tokens, mask, pooled)
