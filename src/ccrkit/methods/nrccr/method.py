"""`nrccr`: noise-robust cross-lingual cross-modal retrieval (ACM MM 2022), methods.md §1.

Per training example: visual item v, English source s, its machine translation t and the
back-translation b. One text tower (encoder + `NrccrTextTower` + mapping) embeds s, t and b with
self-attention; the training-only cross branch gives e_c (s attends to t). Loss terms, each
returned by name and weighted by config (all on the L2-normalised mapped vectors):

    triplet/source          1.0   · L_tri(e_s, v)
    triplet/mt:<xx>         0.6   · L_tri(e_t, v)
    similarity_view/mt:<xx> 0.4   · soft_target_distill(e_t, e_c, v, τ = 0.07)
    feature_view/mt:<xx>    0.1   · smooth_l1_feature(e_t, e_c, β = 4)
    bt_ranking/bt:<xx>      0.5   · L_tri(e_s, e_b)
    adversarial/mt:<xx>     0.001 · BCE(D(t), 1), after one Adam step of D on detached states

Switching a component off (`NrccrConfig.ABLATION_SWITCHES`) removes its term; with
`cross_teacher: false` the distillation teacher is e_s. Evaluation encodes a caption alone through
the self-attention branch, whatever its language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch
from torch import nn

from ccrkit.data.batch import SOURCE_VIEW, TokenBatch, TrainBatch, VisualBatch
from ccrkit.losses import (
    adversarial_language,
    smooth_l1_feature,
    soft_target_distill,
    triplet_max_violation,
)
from ccrkit.methods.base import (
    METHODS,
    AuxiliaryOptimizer,
    Method,
    identical_text,
    required_view,
    target_views,
    view_language,
)
from ccrkit.methods.nrccr.config import NrccrConfig
from ccrkit.methods.nrccr.towers import NrccrTextTower, Prepared, visual_layers
from ccrkit.models.base import EncoderOutput, TextEncoder, VisualEncoder
from ccrkit.models.blocks import projection_head
from ccrkit.models.discriminators import LanguageDiscriminator
from ccrkit.models.distributed import Gather, gatherers

DISCRIMINATOR = "discriminator"
NOT_ENGLISH = re.compile(r"[^A-Za-z0-9]")


def clean_english(text: str) -> str:
    """NRCCR's cleaning of English training sources (§1.5): keep [A-Za-z0-9] words, lower-case,
    end with a period, capitalise the first letter. "Two dogs, running!" -> "Two dogs running."."""
    cleaned = " ".join(NOT_ENGLISH.sub(" ", text).lower().split())
    if cleaned and cleaned[-1] not in ".?!":
        cleaned += "."
    return cleaned.capitalize()


@METHODS.register("nrccr")
class Nrccr(Method):
    config_class = NrccrConfig
    # translate-train on NRCCR's towers: the triplet terms of the source and the MT (weights 1.0
    # and 0.6) alone; the distillation teacher switch goes off with the distillation it steers
    MATCHED_OFF: ClassVar[dict[str, Any] | None] = {
        "cross_teacher": False, "similarity_view": False, "feature_view": False,
        "back_translation": False, "adversarial": False,
    }  # fmt: skip
    TEST_TIME_KEYS: ClassVar[tuple[str, ...]] = ("bn_stats",)

    def __init__(self, config: NrccrConfig, text: TextEncoder, visual: VisualEncoder) -> None:
        super().__init__(config, text, visual)
        c = config
        self.tower = NrccrTextTower(
            text.dim, c.hidden, c.heads, c.qk_dim, c.positions, c.dropout,
            pad_pool=c.nrccr_compat_padding_pool,
        )  # fmt: skip
        self.text_head = projection_head("mapping", c.hidden, c.embed_dim, c.mapping_dropout)
        # the shared visual tower's layers, under NRCCR's own names (its checkpoints' and the
        # official import's): `VisualTower` itself would name them visual_tower.proj/head
        self.visual_proj, self.visual_head = visual_layers(visual.dim, c)
        self.discriminator = (
            LanguageDiscriminator(c.discriminator, text.dim) if c.adversarial else None
        )

    @classmethod
    def required_roles(cls, config: NrccrConfig) -> dict[str, str]:
        roles = {"mt": "NRCCR learns from machine translations of the English captions"}
        if config.back_translation:
            roles["bt"] = (
                "the back-translation term needs them; create the back-translations or disable "
                "the term with method.back_translation=false"
            )
        return roles

    # ---------------------------------------------------------------- evaluation
    def encode_text(self, tokens: TokenBatch, lang: str) -> torch.Tensor:
        return self._embed(self._prepare(tokens))

    def encode_visual(self, visual: VisualBatch) -> torch.Tensor:
        return self.visual_head(self.visual_proj(self.visual(visual).pooled))

    def _prepare(self, tokens: TokenBatch) -> Prepared:
        return self.tower.prepare(self.text(tokens))

    def _embed(self, prepared: Prepared) -> torch.Tensor:
        return self.text_head(self.tower.self_branch(prepared))

    def before_test(self, batches: Callable[[], Iterable[TrainBatch]]) -> dict[str, Any]:
        """`bn_stats: mt`: re-estimate the text mapping's BatchNorm running statistics on the
        training MT alone (every target view, one pass, a cumulative average over batches), the
        rest of the model in eval mode and no parameter touched. In training they follow every
        mapping call (source, MT, cross, back-translation), so at test time they describe a mix
        that is mostly not the target language."""
        if self.config.bn_stats != "mt":
            return {}
        norms = [m for m in self.text_head.modules() if isinstance(m, nn.BatchNorm1d)]
        was_training, momenta = self.training, [norm.momentum for norm in norms]
        self.eval()
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # cumulative average: every batch counts the same
            norm.train()
        examples = 0
        try:
            with torch.no_grad():
                for batch in batches():
                    for view in self._target_views(batch):
                        tokens = batch.views[view]
                        if len(tokens) > 1:  # BatchNorm needs two rows for a batch variance
                            self._embed(self._prepare(tokens))
                            examples += len(tokens)
        finally:
            for norm, momentum in zip(norms, momenta, strict=True):
                norm.momentum = momentum
            self.train(was_training)
        return {"bn_stats": "mt", "batchnorm_layers": len(norms), "mt_captions": examples}

    # ---------------------------------------------------------------- training
    def extra_optimizers(self) -> list[AuxiliaryOptimizer]:
        if self.discriminator is None:
            return []
        c = self.config

        def build(params: list[nn.Parameter]) -> torch.optim.Optimizer:
            return torch.optim.Adam(
                params, lr=c.discriminator_lr, betas=tuple(c.discriminator_betas),
                eps=c.discriminator_eps, weight_decay=0.0,
            )  # fmt: skip

        return [AuxiliaryOptimizer(DISCRIMINATOR, list(self.discriminator.parameters()), build)]

    def forward(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        c = self.config
        gather, _ = gatherers(c.gather)
        visual = gather(self.encode_visual(batch.visual))
        source_tokens = self._source_tokens(batch)
        source_out = self.text(source_tokens)
        source = self.tower.prepare(source_out)
        e_s = self.text_head(self.tower.self_branch(source))
        terms: dict[str, torch.Tensor] = {}
        if c.source_term:
            terms["triplet/source"] = c.source_weight * triplet_max_violation(
                gather(e_s), visual, c.margin, self._identical(source_tokens)
            )
        targets = []
        for view in self._target_views(batch):
            target_out = self.text(batch.views[view])
            terms |= self._target_terms(
                batch, view, target_out, (source_tokens, source), e_s, visual, gather
            )
            targets.append((view, target_out))
        if self.discriminator is not None:
            terms |= self._adversarial_terms(source_out, targets)
        return terms

    def _target_terms(
        self, batch: TrainBatch, view: str, target_out: EncoderOutput,
        source_pair: tuple[TokenBatch, Prepared], e_s: torch.Tensor, visual: torch.Tensor,
        gather: Gather,
    ) -> dict[str, torch.Tensor]:  # fmt: skip
        """Every non-adversarial term of one target language (view "mt:<xx>"), in the official
        order of mapping calls (s, t, c, b: it decides BatchNorm's running statistics)."""
        c, lang = self.config, view_language(view)
        source_tokens, source = source_pair
        target = self.tower.prepare(target_out)
        e_t = self.text_head(self.tower.self_branch(target))
        terms = {
            f"triplet/{view}": c.mt_weight
            * triplet_max_violation(
                gather(e_t), visual, c.margin, self._identical(batch.views[view])
            )
        }
        if c.distills:
            # the teacher (e_c: the source attending to the MT) is the clean side: both views
            # detach it, so the noisy MT follows it and never pulls it toward the noise
            # (the official code leaves the feature view's teacher attached:
            # `nrccr_compat_feature_grad`)
            teacher = (
                self.text_head(self.tower.cross_branch(source, target)) if c.cross_teacher else e_s
            )
            if c.similarity_view:
                terms[f"similarity_view/{view}"] = c.similarity_weight * soft_target_distill(
                    gather(e_t), gather(teacher), visual, c.tau
                )
            if c.feature_view:
                terms[f"feature_view/{view}"] = c.feature_weight * smooth_l1_feature(
                    e_t, teacher, c.smooth_l1_beta, detach_teacher=not c.nrccr_compat_feature_grad
                )
        if c.back_translation:
            back = self._view(batch, f"bt:{lang}")
            e_b = self._embed(self._prepare(back))
            terms[f"bt_ranking/bt:{lang}"] = c.bt_weight * triplet_max_violation(
                gather(e_s), gather(e_b), c.margin, self._identical(source_tokens, back)
            )
        return terms

    def _identical(self, *views: TokenBatch) -> torch.Tensor | None:
        """The triplet's `exclude` mask under `negatives: mask_identical_text`, else None."""
        return identical_text(self.config.negatives, gatherers(self.config.gather)[1], *views)

    def _adversarial_terms(
        self, source_out: EncoderOutput, targets: list[tuple[str, EncoderOutput]]
    ) -> dict[str, torch.Tensor]:
        """Step the discriminator on detached encoder states (its own Adam) once per target
        language, then return each language's fooling loss BCE(D(t), 1) through the updated
        discriminator. Every step comes first: a step changes D in place, which would invalidate a
        fooling loss computed before it (several target languages at once); with one language
        this is the official order."""
        assert self.discriminator is not None
        pad = self.config.nrccr_compat_padding_pool
        disc = self.discriminator
        for _, target_out in targets:
            # detached: the discriminator's own loss must not reach the text encoder, or the
            # encoder would also learn to make languages *easier* to tell apart; the encoder
            # learns only from the fooling terms below, through the updated discriminator
            real = disc(source_out.tokens.detach(), source_out.mask, pad)
            fake = disc(target_out.tokens.detach(), target_out.mask, pad)
            self.auxiliary_step(DISCRIMINATOR, adversarial_language(fake, real, "discriminator"))
        weight = self.config.adversarial_weight
        return {
            f"adversarial/{view}": weight
            * adversarial_language(disc(out.tokens, out.mask, pad), player="encoder")
            for view, out in targets
        }

    def _source_tokens(self, batch: TrainBatch) -> TokenBatch:
        tokens = self._view(batch, SOURCE_VIEW)
        if not self.config.clean_source:
            return tokens
        if not tokens.texts:
            raise ValueError(
                "method.clean_source needs the raw source texts in the batch (TokenBatch.texts); "
                "set method.clean_source=false"
            )
        device = tokens.input_ids.device
        return self.tokenize([clean_english(text) for text in tokens.texts]).to(device)

    def _target_views(self, batch: TrainBatch) -> list[str]:
        return target_views(batch, "NRCCR", "NRCCR trains on machine translations")

    def _view(self, batch: TrainBatch, key: str) -> TokenBatch:
        why = self.required_roles(self.config).get(key.partition(":")[0], "")
        return required_view(batch, key, "NRCCR", why)
