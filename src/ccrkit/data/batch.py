"""The batch contract between the data layer and everything that consumes it.

Datasets yield plain examples; a collate function built with the text encoder's tokenizer turns a
list of them into one `TrainBatch`. Models, methods and the trainer only ever see these types.

Caption views are keyed `"<role>"` for English (`"source"`) and `"<role>:<lang>"` for a target
language: `"mt:de"` (machine translation of the source), `"bt:de"` (its back-translation into
English), `"human:de"` (a human target caption), `"human_to_en:de"` (MT of that caption into
English). A multi-language example simply carries one `mt:<lang>` view per language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

VisualKind = Literal["feature", "frames", "pixels"]
SOURCE_VIEW = "source"


def view_key(role: str, lang: str | None = None) -> str:
    """`view_key("mt", "de") == "mt:de"`; English source captions have no language suffix."""
    return role if lang is None else f"{role}:{lang}"


@dataclass
class VisualBatch:
    """Visual input for a batch of items.

    - "feature": `values` (B, 1, D) precomputed per-item features, `mask` all True;
    - "frames": `values` (B, T, D) per-frame features padded to the longest item, `mask` (B, T)
      True on real frames (padding must never reach pooling);
    - "pixels": `values` (B, 3, H, W) or (B, T, 3, H, W) images/frames in [0, 1], `mask` (B, T)
      for frames (B, 1 for images).
    """

    values: torch.Tensor
    mask: torch.Tensor
    kind: VisualKind

    def to(self, device: torch.device | str) -> VisualBatch:
        return VisualBatch(self.values.to(device), self.mask.to(device), self.kind)

    def __len__(self) -> int:
        return self.values.shape[0]


@dataclass
class TokenBatch:
    """Tokenised captions: `input_ids` and `attention_mask` (B, L), plus the raw texts."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    texts: list[str] = field(default_factory=list)

    def to(self, device: torch.device | str) -> TokenBatch:
        return TokenBatch(self.input_ids.to(device), self.attention_mask.to(device), self.texts)

    def __len__(self) -> int:
        return self.input_ids.shape[0]


@dataclass
class TrainBatch:
    """One training step's data: B examples, one per English source caption.

    `item_index` (B,) identifies the visual item of each example, so losses can treat two captions
    of the same item in one batch as positives (multi-positive InfoNCE) or not (NRCCR's triplet).
    `example_index` (B,), when the dataset gives it, is each example's row in the training set, so
    a method can look up per-example data it prepared before training (NRF's pair selection).
    """

    item_ids: list[str]
    item_index: torch.Tensor
    visual: VisualBatch
    views: dict[str, TokenBatch]
    example_index: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> TrainBatch:
        return TrainBatch(
            self.item_ids,
            self.item_index.to(device),
            self.visual.to(device),
            {name: tokens.to(device) for name, tokens in self.views.items()},
            None if self.example_index is None else self.example_index.to(device),
        )

    def __len__(self) -> int:
        return len(self.item_ids)
