"""`one_to_k`: a dual encoder trained with CCRk's 1-to-K contrastive loss (methods.md §4.2, §4.7).

CCRk's contribution is a pre-training objective; ccrkit hosts it in fine-tuning on MT-derived data
(§4.7): every training example (one English source caption and its visual item) carries K language
views — the source, its MT into each configured target language, and optionally the
back-translations — and all K share one image-to-text softmax (`losses.one_to_k_nce`), so no
language can be served well at the expense of another. One text tower serves every language;
`encode_text` ignores the language, so the model answers queries in any language it was trained on.

The temperature is a parameter initialised at 0.07 and clamped in place to [0.001, 0.5] before
every training step, as the official code does. Out of scope (§4.7): the fusion encoder and the
hard-negative ITM re-ranking of CCRk's X-VLM backbone, and its MLM term.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ccrkit.data.batch import SOURCE_VIEW, TrainBatch
from ccrkit.losses import one_to_k_nce
from ccrkit.losses.negatives import (
    ALL,
    MASK_IDENTICAL_TEXT,
    check_negatives,
    one_to_k_identical,
)
from ccrkit.methods.base import view_language, view_text_keys, views_of_role
from ccrkit.methods.baseline import DualEncoder, check_head_and_temperature
from ccrkit.models.base import TextEncoder, VisualEncoder
from ccrkit.models.distributed import gatherers

VIEW_ROLES = ("source", "mt", "bt")
# the parameters a 1-to-K config shares with its matched baseline (`baseline`, per-view InfoNCE)
BASELINE_SHARED = ("embed_dim", "head", "head_dropout", "temperature", "temperature_range",
                   "learn_temperature", "gather", "negatives")  # fmt: skip
TERM = "one_to_k_nce"


@dataclass
class OneToKConfig:
    embed_dim: int = 256  # CCRk's contrastive heads: Linear(1024 → 256), L2-normalised
    head: str = "linear"  # linear (Linear → L2) | mapping (Linear → BN → Dropout → L2)
    head_dropout: float = 0.2
    temperature: float = 0.07
    temperature_range: list[float] = field(default_factory=lambda: [0.001, 0.5])
    learn_temperature: bool = True
    # caption roles forming an example's K views, in this order; "mt" and "bt" cover every target
    # language of the batch (mt:de, mt:fr, ...). K = 1 + languages (+ languages with "bt").
    views: list[str] = field(default_factory=lambda: ["source", "mt"])
    # another example of the same item in the batch counts as a positive (soft targets) rather
    # than a negative; without repeated items this changes nothing
    multi_positive: bool = True
    gather: bool = True  # under DDP, negatives from every process
    negatives: str = ALL  # mask_identical_text: a text identical to one of an image's own views
    # is no negative of that image

    def __post_init__(self) -> None:
        check_negatives(self.negatives)
        check_head_and_temperature(self)
        unknown = [role for role in self.views if role not in VIEW_ROLES]
        if unknown or not self.views or len(set(self.views)) != len(self.views):
            raise ValueError(
                f"views must be distinct caption roles among {', '.join(VIEW_ROLES)}, got "
                f"{self.views}"
            )


class OneToK(DualEncoder):
    """The baseline's dual encoder with one 1-to-K loss term."""

    config_class = OneToKConfig

    def __init__(self, config: OneToKConfig, text: TextEncoder, visual: VisualEncoder) -> None:
        super().__init__(config, text, visual)
        tau = torch.tensor(float(config.temperature))
        if config.learn_temperature:
            self.tau = nn.Parameter(tau)
        else:
            self.register_buffer("tau", tau)

    @classmethod
    def matched_baseline(
        cls, name: str, params: dict[str, Any]
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """The translate-train baseline on the same dual encoder: the `baseline` method with the
        same heads, temperature and its range, gather and negatives, one InfoNCE term per caption
        view (weight 1 each, multi-positive as here) instead of one 1-to-K softmax."""
        config = OneToKConfig(**params)
        if not config.multi_positive:
            raise ValueError(
                "method.multi_positive=false has no counterpart in the baseline's InfoNCE "
                "(always multi-positive); a matched baseline needs multi_positive=true"
            )
        shared = {key: value for key, value in params.items() if key in BASELINE_SHARED}
        switched = {"loss": "info_nce", "views": {role: 1.0 for role in config.views}}
        return "baseline", {**shared, **switched}, {"name": "baseline", **switched}

    @classmethod
    def required_roles(cls, config: OneToKConfig) -> dict[str, str]:
        why = {
            "mt": "the K views of an item are its source caption and its MT into each target "
            "language",
            "bt": "method.views lists 'bt'; create the back-translations or drop 'bt' from "
            "method.views",
        }
        return {role: why[role] for role in config.views if role != SOURCE_VIEW}

    def temperature(self) -> torch.Tensor:
        """τ, clamped in place to `temperature_range` before it is used in training (the official
        code clamps the parameter itself each step, so it never drifts outside the range)."""
        if self.training and isinstance(self.tau, nn.Parameter):
            low, high = self.config.temperature_range
            with torch.no_grad():
                self.tau.clamp_(low, high)
        return self.tau

    def view_keys(self, batch: TrainBatch) -> list[str]:
        """The K views of every example, in `config.views` order: source, mt:de, mt:fr, ..."""
        keys: list[str] = []
        for role in self.config.views:
            found = views_of_role(batch.views, role)
            if not found:
                have = ", ".join(sorted(batch.views)) or "none"
                raise ValueError(
                    f"method.views names caption role '{role}' but the batch has views: {have}; "
                    "load it with data.roles / data.target_langs or remove it from method.views"
                )
            keys += found
        return keys

    def forward(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        c = self.config
        gather, gather_plain = gatherers(c.gather)
        tau = self.temperature()
        visual = gather(self.encode_visual(batch.visual))
        keys = self.view_keys(batch)
        text = torch.stack(
            [self.encode_text(batch.views[key], view_language(key)) for key in keys], dim=1
        )  # (B, K, D), image-major
        labels = None
        if c.multi_positive:
            labels = gather_plain(batch.item_index)
        exclude = None
        if c.negatives == MASK_IDENTICAL_TEXT:
            views = [view_text_keys(batch.views[key]) for key in keys]
            exclude = one_to_k_identical(gather_plain(torch.stack(views, dim=1)))
        return {TERM: one_to_k_nce(visual, gather(text), tau, labels, exclude)}
