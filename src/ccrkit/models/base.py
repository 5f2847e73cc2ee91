"""The two encoder protocols every method builds on, and the masked pooling they share.

A text encoder turns captions into a `TokenBatch` (`tokenize`) and a `TokenBatch` into an
`EncoderOutput`; a visual encoder turns a `VisualBatch` into an `EncoderOutput`. Methods only ever
see these, so an mBERT, the built-in Transformer, precomputed features, a temporal attention block
or a CLIP tower are interchangeable by config (methods.md §6).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ccrkit.data.batch import TokenBatch, VisualBatch
from ccrkit.registry import Registry


@dataclass
class EncoderOutput:
    """Token states (B, L, D), their mask (B, L; True = real token) and a pooled vector (B, D)."""

    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor


@dataclass
class BuildContext:
    """What an encoder may need beyond its config section when it is built.

    - `visual_dim`: width of precomputed features/frames (read from the data; recorded in every
      checkpoint so a saved run rebuilds without the data);
    - `corpus`: a callable returning training captions (the built-in tokenizer is trained on them);
    - `assets_dir`: a saved run's `assets/` folder (tokenizers, model configs); when it holds an
      encoder's assets the encoder is rebuilt from them instead of from pretrained weights.
    """

    visual_dim: int | None = None
    corpus: Callable[[], Iterable[str]] | None = None
    assets_dir: Path | None = None

    def assets(self, name: str) -> Path | None:
        """`assets_dir/name` if it exists, else None."""
        if self.assets_dir is None:
            return None
        path = Path(self.assets_dir) / name
        return path if path.exists() else None


class TextEncoder(nn.Module):
    """Captions -> token states, mask, pooled vector. Subclasses set `config_class` and `dim`."""

    config_class: ClassVar[type]
    dim: int

    @classmethod
    def from_config(cls, config: Any, context: BuildContext) -> TextEncoder:
        raise NotImplementedError

    def tokenize(self, texts: list[str]) -> TokenBatch:
        raise NotImplementedError

    def forward(self, tokens: TokenBatch) -> EncoderOutput:
        raise NotImplementedError

    def save_assets(self, directory: Path) -> None:
        """Write what `from_config` needs to rebuild this encoder without the original sources."""


class VisualEncoder(nn.Module):
    """Visual input (features, frames or pixels) -> tokens, mask, pooled vector."""

    config_class: ClassVar[type]
    dim: int

    @classmethod
    def from_config(cls, config: Any, context: BuildContext) -> VisualEncoder:
        raise NotImplementedError

    def forward(self, visual: VisualBatch) -> EncoderOutput:
        raise NotImplementedError

    def save_assets(self, directory: Path) -> None:
        """Write what `from_config` needs to rebuild this encoder (nothing by default)."""


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the real tokens only: Σ_l m_l h_l / Σ_l m_l, so padding never reaches the result.

    This fixes NRCCR's mean over padded positions (methods.md §1.7 item 5), which made an item's
    embedding depend on the longest item in its batch.
    """
    keep = mask.unsqueeze(-1).bool()
    total = tokens.masked_fill(~keep, 0.0).sum(dim=1)  # masked_fill: NaN padding cannot leak
    return total / keep.sum(dim=1).clamp(min=1).to(tokens.dtype)


def import_transformers(what: str) -> object:
    """The `transformers` module, or a config error saying how to install it."""
    try:
        # transformers on first use: importing it costs seconds that other commands need not pay
        import transformers
    except ImportError:
        raise ValueError(
            f"{what} needs the Hugging Face transformers library: pip install 'ccrkit[hf]'"
        ) from None
    return transformers


# Encoders by name (a config section's `name`): each registers itself where it is defined,
# `@TEXT_ENCODERS.register("name")`; importing `ccrkit.models` registers the built-in ones.
TEXT_ENCODERS: Registry[type[TextEncoder]] = Registry("text encoder")
VISUAL_ENCODERS: Registry[type[VisualEncoder]] = Registry("visual encoder")
