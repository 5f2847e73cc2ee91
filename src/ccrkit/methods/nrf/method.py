"""`nrf`: noise-robust fine-tuning (TKDE 2024), methods.md §2 — a reconstruction.

Per training example: visual item v, English source s and its machine translation t (one view per
target language). Text goes through the shared text encoder and NRCCR's text tower; the target's
token states also pass the **noise filter** F (a small Transformer block, target only), giving
f(t). Terms, each weighted by config and returned by name (L2-normalised vectors, τ = 0.07):

    contrastive/source        InfoNCE(v, e_s)                     every pair
    contrastive/mt:<xx>       InfoNCE(v, f(t))                    every pair
    cross_lingual/mt:<xx>     InfoNCE(f(t), e_s)                  selected pairs
    guidance/mt:<xx>          ‖f(t) − sg(e_s)‖²  (or sg(e_c))      selected pairs

The selected pairs come from a pluggable parallel-data selector (`selection.py`). The source
guides the filter only in training (the distillation teacher e_s, or NRCCR's cross branch e_c);
at inference a target caption goes through F alone and an English one skips it. No human
target-language caption is read in training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from ccrkit.data.batch import SOURCE_VIEW, TokenBatch, TrainBatch, VisualBatch
from ccrkit.data.datasets import TrainingData
from ccrkit.data.spec import DataSpec
from ccrkit.losses import feature_distance, info_nce
from ccrkit.methods.base import (
    METHODS,
    Method,
    identical_text,
    required_view,
    target_views,
    view_language,
)
from ccrkit.methods.nrccr.towers import Prepared
from ccrkit.methods.nrf.config import NrfConfig
from ccrkit.methods.nrf.selection import SelectionInput, build_selector
from ccrkit.methods.towers import TextTower, VisualTower
from ccrkit.models.base import EncoderOutput, TextEncoder, VisualEncoder
from ccrkit.models.distributed import gatherers

ENGLISH = "en"


class NoiseFilter(nn.Module):
    """F: Transformer encoder layers over a caption's token states (B, L, H), padding masked."""

    def __init__(self, hidden: int, heads: int, ffn: int, layers: int, dropout: float) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            hidden, heads, ffn, dropout, batch_first=True, activation="gelu"
        )
        self.layers = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.layers(tokens, src_key_padding_mask=~mask.bool())


@METHODS.register("nrf")
class Nrf(Method):
    config_class = NrfConfig
    # translate-train on NRF's towers: InfoNCE(v, e_s) and InfoNCE(v, e_t), no noise filter, no
    # pair selection and none of the terms on the selected pairs
    MATCHED_OFF: ClassVar[dict[str, Any] | None] = {
        "filter_layers": 0, "cross_lingual_weight": 0.0, "guidance_weight": 0.0,
        "cross_teacher": False, "english_epochs": 0, "selector": "all", "selection": {},
    }  # fmt: skip

    def __init__(self, config: NrfConfig, text: TextEncoder, visual: VisualEncoder) -> None:
        super().__init__(config, text, visual)
        c = config
        self.text_tower = TextTower(text.dim, c)
        self.visual_tower = VisualTower(visual.dim, c)
        self.noise_filter = (
            NoiseFilter(c.hidden, c.heads, c.filter_ffn or 2 * c.hidden, c.filter_layers,
                        c.filter_dropout)
            if c.filter_layers else None
        )  # fmt: skip
        self.selector = build_selector(c.selector, dict(c.selection), "method.selector")
        self.epoch = 1

    @classmethod
    def required_roles(cls, config: NrfConfig) -> dict[str, str]:
        roles = {"mt": "NRF learns from machine translations of the English captions"}
        selector = build_selector(config.selector, dict(config.selection), "method.selector")
        if selector.needs == "backtranslation":
            roles["bt"] = (
                "the similarity selector with between=backtranslation compares e_s with e_b; "
                "use method.selection.between=encoder to do without back-translations"
            )
        return roles

    @classmethod
    def check_training_data(
        cls, config: NrfConfig, spec: DataSpec, root: Path, split: str, langs: list[str]
    ) -> None:
        """The round-trip selector's scores (or the back-translations to compute them from)
        exist for every target language — before any model is built."""
        selector = build_selector(config.selector, dict(config.selection), "method.selector")
        check = getattr(selector, "check_data", None)
        for lang in langs if check else []:
            check(spec, root, split, lang)

    # ---------------------------------------------------------------- evaluation
    def encode_text(self, tokens: TokenBatch, lang: str) -> torch.Tensor:
        """English: the tower alone (e); any other language: through the noise filter (f)."""
        prepared = self.text_tower.prepare(self.text(tokens))
        return self._embed(prepared) if lang == ENGLISH else self._filtered(prepared)

    def encode_visual(self, visual: VisualBatch) -> torch.Tensor:
        return self.visual_tower(self.visual(visual).pooled)

    def _embed(self, prepared: Prepared) -> torch.Tensor:
        return self.text_tower.embed(prepared)

    def _filtered(self, prepared: Prepared) -> torch.Tensor:
        if self.noise_filter is None:
            return self._embed(prepared)
        mask = prepared[1]
        states = self.noise_filter(self.text_tower.tokens(prepared), mask)
        return self.text_tower.embed_tokens(states, mask)

    # ---------------------------------------------------------------- training
    def prepare_training(self, train_set: TrainingData) -> dict[str, Any]:
        """Run the parallel-data selection over the training set; its summary goes to run.json."""
        return {"selector": self.config.selector, **self.selector.prepare(train_set)}

    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def forward(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        c = self.config
        gather, gather_plain = gatherers(c.gather)
        visual = gather(self.encode_visual(batch.visual))
        labels = gather_plain(batch.item_index)
        source_tokens = required_view(batch, SOURCE_VIEW, "NRF")
        source_out = self.text(source_tokens)
        source = self.text_tower.prepare(source_out)
        e_s = self._embed(source)
        exclude = identical_text(c.negatives, gather_plain, source_tokens)
        terms = {
            "contrastive/source": c.source_weight
            * info_nce(gather(e_s), visual, c.tau, labels, exclude)
        }
        if self.epoch <= c.english_epochs:
            return terms
        for view in target_views(batch, "NRF"):
            terms |= self._target_terms(batch, view, source_out, source, e_s, visual, labels)
        return terms

    def _target_terms(
        self, batch: TrainBatch, view: str, source_out: EncoderOutput, source: Prepared,
        e_s: torch.Tensor,
        visual: torch.Tensor, labels: torch.Tensor,
    ) -> dict[str, torch.Tensor]:  # fmt: skip
        c, lang = self.config, view_language(view)
        gather, gather_plain = gatherers(c.gather)
        target_tokens = batch.views[view]
        target_out = self.text(target_tokens)
        target = self.text_tower.prepare(target_out)
        f_t = self._filtered(target)
        terms = {}
        if c.mt_weight:
            exclude = identical_text(c.negatives, gather_plain, target_tokens)
            terms[f"contrastive/{view}"] = c.mt_weight * info_nce(
                gather(f_t), visual, c.tau, labels, exclude
            )
        keep = self._selected(batch, lang, source_out, target_out, e_s)
        if c.guidance_weight:
            teacher = self.text_tower.cross(source, target) if c.cross_teacher else e_s
            terms[f"guidance/{view}"] = c.guidance_weight * feature_distance(f_t, teacher, keep)
        if c.cross_lingual_weight:
            kept = gather_plain(keep.to(torch.uint8)).bool()
            source_tokens = required_view(batch, SOURCE_VIEW, "NRF")
            exclude = identical_text(c.negatives, gather_plain, target_tokens, source_tokens)
            terms[f"cross_lingual/{view}"] = c.cross_lingual_weight * _selected_nce(
                gather(f_t), gather(e_s), kept, c.tau, exclude
            )
        return terms

    def _selected(
        self,
        batch: TrainBatch,
        lang: str,
        source_out: EncoderOutput,
        target_out: EncoderOutput,
        e_s: torch.Tensor,
    ) -> torch.Tensor:
        """(B,) bool: which of this batch's (s, t) pairs the selector keeps."""
        needs, selection = (
            self.selector.needs,
            SelectionInput(lang, len(batch), batch.example_index),
        )
        if needs == "encoder":
            selection.source, selection.target = source_out.pooled, target_out.pooled
        elif needs == "backtranslation":
            with torch.no_grad():  # a score, not a term: no gradient through e_b
                back = required_view(batch, f"bt:{lang}", "NRF")
                selection.source = e_s.detach()
                selection.target = self._embed(self.text_tower.prepare(self.text(back)))
        return self.selector.keep(selection).to(e_s.device)


def _selected_nce(
    target: torch.Tensor, source: torch.Tensor, keep: torch.Tensor, tau: float,
    exclude: torch.Tensor | None = None,
) -> torch.Tensor:  # fmt: skip
    """InfoNCE between the kept rows only (diagonal positives: a pair is its own translation);
    0 with a gradient path when nothing is kept."""
    if not keep.any():
        return target.sum() * 0.0
    kept = None if exclude is None else exclude[keep][:, keep]
    return info_nce(target[keep], source[keep], tau, exclude=kept)
