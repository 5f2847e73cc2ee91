"""Encoders and blocks: text encoders (Hugging Face, built-in), visual encoders (features, frames,
CLIP, the world's CNN), NRCCR's attention block and projection heads, looked up by name."""

from __future__ import annotations

from ccrkit.models import text_builtin, text_hf, visual, visual_pixels  # noqa: F401  (registers the built-in encoders)
from ccrkit.models.base import (
    BuildContext,
    EncoderOutput,
    TextEncoder,
    VisualEncoder,
    masked_mean,
)
from ccrkit.models.blocks import NrccrAttention, l2_normalise, projection_head
from ccrkit.models.registry import (
    TEXT_ENCODERS,
    VISUAL_ENCODERS,
    build_text_encoder,
    build_visual_encoder,
)

__all__ = [
    "TEXT_ENCODERS",
    "VISUAL_ENCODERS",
    "BuildContext",
    "EncoderOutput",
    "NrccrAttention",
    "TextEncoder",
    "VisualEncoder",
    "build_text_encoder",
    "build_visual_encoder",
    "l2_normalise",
    "masked_mean",
    "projection_head",
]
