"""`baseline`: the translate-train dual encoder every CCR paper compares against.

One text tower (shared by all languages) and one visual tower, each with a projection head into a
common L2-normalised space, trained on (visual, English source) and (visual, MT target) pairs —
one loss term per caption view, each weighted by config:

- `info_nce` (default): symmetric InfoNCE, positives = every caption of the same item in the
  (process-gathered) batch, temperature learnable (CLIP/CCRk style, clamped) or fixed;
- `triplet`: NRCCR's VSE++ max-violation triplet (margin 0.2, summed, diagonal positives).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ccrkit.data.batch import TokenBatch, TrainBatch, VisualBatch
from ccrkit.losses import info_nce, triplet_max_violation
from ccrkit.losses.negatives import ALL, check_negatives
from ccrkit.methods.base import Method, identical_text, view_language, views_of_role
from ccrkit.models.base import TextEncoder, VisualEncoder
from ccrkit.models.blocks import PROJECTION_KINDS, projection_head
from ccrkit.models.distributed import gatherers

LOSSES = ("info_nce", "triplet")
DEFAULT_VIEWS = {"source": 1.0, "mt": 1.0}


@dataclass
class BaselineConfig:
    embed_dim: int = 512
    head: str = "linear"  # linear (Linear → L2) | mapping (Linear → BN → Dropout → L2, NRCCR)
    head_dropout: float = 0.2
    loss: str = "info_nce"
    temperature: float = 0.07
    learn_temperature: bool = True
    temperature_range: list[float] = field(default_factory=lambda: [0.001, 0.5])
    margin: float = 0.2
    # caption role -> loss weight; a target role covers every language in the batch (mt:de, mt:fr).
    # Empty means DEFAULT_VIEWS (a default dict would be merged into, not replaced by, a config's).
    views: dict[str, float] = field(default_factory=dict)
    gather: bool = True  # under DDP, negatives from every process
    negatives: str = ALL  # mask_identical_text: identical caption texts are no negatives

    def __post_init__(self) -> None:
        check_negatives(self.negatives)
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        check_head_and_temperature(self)
        self.views = dict(self.views) or dict(DEFAULT_VIEWS)
        if not any(self.views.values()):
            raise ValueError(f"views must give some caption role a weight > 0, got {self.views}")


def check_head_and_temperature(config: Any) -> None:
    """The checks every `DualEncoder` config shares: a known projection head, and a temperature
    inside its clamp range."""
    if config.head not in PROJECTION_KINDS:
        raise ValueError(f"head must be one of {', '.join(PROJECTION_KINDS)}, got {config.head!r}")
    low, high = config.temperature_range
    if not 0 < low <= config.temperature <= high:
        raise ValueError(
            f"temperature {config.temperature} must lie in temperature_range [{low}, {high}], > 0"
        )


class DualEncoder(Method):
    """One text tower (every language) and one visual tower, each with a projection head
    (`config.head`, `embed_dim`, `head_dropout`) into the common space; `encode_text` ignores the
    language. The baseline and `one_to_k` differ only in their loss."""

    def __init__(self, config: Any, text: TextEncoder, visual: VisualEncoder) -> None:
        super().__init__(config, text, visual)
        dim, dropout = config.embed_dim, config.head_dropout
        self.text_head = projection_head(config.head, text.dim, dim, dropout)
        self.visual_head = projection_head(config.head, visual.dim, dim, dropout)

    def encode_text(self, tokens: TokenBatch, lang: str) -> torch.Tensor:
        return self.text_head(self.text(tokens).pooled)

    def encode_visual(self, visual: VisualBatch) -> torch.Tensor:
        return self.visual_head(self.visual(visual).pooled)


class Baseline(DualEncoder):
    """Dual encoder with per-view contrastive terms."""

    config_class = BaselineConfig

    def __init__(self, config: BaselineConfig, text: TextEncoder, visual: VisualEncoder) -> None:
        super().__init__(config, text, visual)
        log_t = torch.tensor(math.log(config.temperature))
        # the triplet loss has no temperature: a parameter it never uses would stall DDP
        if config.learn_temperature and config.loss == "info_nce":
            self.log_temperature = nn.Parameter(log_t)
        else:
            self.register_buffer("log_temperature", log_t)

    def temperature(self) -> torch.Tensor:
        low, high = self.config.temperature_range
        return self.log_temperature.clamp(math.log(low), math.log(high)).exp()

    def forward(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        gather, gather_plain = gatherers(self.config.gather)
        visual = gather(self.encode_visual(batch.visual))
        labels = gather_plain(batch.item_index)
        terms = {}
        for view, weight in self._weighted_views(batch):
            tokens = batch.views[view]
            text = gather(self.encode_text(tokens, view_language(view)))
            exclude = identical_text(self.config.negatives, gather_plain, tokens)
            terms[f"{self.config.loss}/{view}"] = weight * self._loss(text, visual, labels, exclude)
        return terms

    def _loss(
        self, text: torch.Tensor, visual: torch.Tensor, labels: torch.Tensor,
        exclude: torch.Tensor | None,
    ) -> torch.Tensor:  # fmt: skip
        if self.config.loss == "triplet":
            return triplet_max_violation(text, visual, self.config.margin, exclude)
        return info_nce(text, visual, self.temperature(), labels, exclude)

    def _weighted_views(self, batch: TrainBatch) -> list[tuple[str, float]]:
        chosen = []
        for role, weight in self.config.views.items():
            keys = views_of_role(batch.views, role)
            if not keys:
                have = ", ".join(sorted(batch.views)) or "none"
                raise ValueError(
                    f"method.views names caption role '{role}' but the batch has views: {have}; "
                    "load it with data.roles / data.target_langs or remove it from method.views"
                )
            chosen += [(key, weight) for key in keys if weight]
        return chosen
