"""`cl2cm`: cross-lingual to cross-modal knowledge transfer (AAAI 2024), methods.md §3 — a
reconstruction.

Two networks over the same tokens:

- **CM** (cross-modal; the only one retrieval uses): the text encoder + a `TextTower`, and the
  visual tower — `encode_text` and `encode_visual`;
- **CL** (cross-lingual; training only): its own text encoder (a copy of the CM one at
  construction, or the same one with `cl_encoder: shared`) + its own `TextTower`.

Terms, each weighted by config and returned by name (τ = 0.07):

    contrastive/source       InfoNCE(v, e_s^CM)                 CM
    contrastive/mt:<xx>      InfoNCE(v, e_t^CM)                 CM
    cl_sentence/mt:<xx>      InfoNCE(e_t^CL, e_s^CL)            CL, sentence level
    cl_word_ot/mt:<xx>       ⟨T*, C⟩, entropic OT over tokens   CL, word level
    relational_kt/mt:<xx>    KL(R^CL ‖ R^CM) of cos(t, s) vs cos(t, v)   CL → CM

Schedule: `joint` returns all five every step (the teacher's relations detached); `two_stage`
(default) returns only the CL terms for the first `cl_epochs` epochs, then the CM and transfer
terms with the CL network frozen (no gradient, eval mode). The trainer announces each epoch
through `start_epoch`, so a resumed run continues in the right stage.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any, ClassVar

import torch
from torch import nn

from ccrkit.data.batch import SOURCE_VIEW, TokenBatch, TrainBatch, VisualBatch
from ccrkit.losses import info_nce, ot_alignment, relational_kd
from ccrkit.methods.base import Method, identical_text, required_view, target_views
from ccrkit.methods.cl2cm.config import Cl2cmConfig
from ccrkit.methods.towers import TextTower, VisualTower
from ccrkit.models.base import EncoderOutput, TextEncoder, VisualEncoder
from ccrkit.models.distributed import gatherers


class CrossLingualNetwork(nn.Module):
    """The CL network: a text encoder and a tower; sentence vectors and token states."""

    def __init__(self, encoder: TextEncoder, config: Cl2cmConfig) -> None:
        super().__init__()
        self.encoder = encoder
        self.tower = TextTower(encoder.dim, config)
        self.states = config.ot_states

    def forward(self, tokens: TokenBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(sentence (B, E), token states (B, L, ·), mask (B, L))."""
        encoded: EncoderOutput = self.encoder(tokens)
        prepared = self.tower.prepare(encoded)
        attended = self.tower.tokens(prepared)
        sentence = self.tower.embed_tokens(attended, prepared[1])
        states = attended if self.states == "tower" else encoded.tokens
        return sentence, states, prepared[1]


class Cl2cm(Method):
    config_class = Cl2cmConfig
    # translate-train on the CM network: InfoNCE(v, e_s) and InfoNCE(v, e_t) from the first
    # epoch; no CL network, so no CL stage and no transfer
    MATCHED_OFF: ClassVar[dict[str, Any] | None] = {
        "schedule": "joint", "sentence_weight": 0.0, "ot_weight": 0.0, "kt_weight": 0.0,
    }  # fmt: skip

    def __init__(self, config: Cl2cmConfig, text: TextEncoder, visual: VisualEncoder) -> None:
        super().__init__(config, text, visual)
        self._gather, self._gather_plain = gatherers(config.gather)
        self.cm_tower = TextTower(text.dim, config)
        self.visual_tower = VisualTower(visual.dim, config)
        self.cl: CrossLingualNetwork | None = None
        if config.uses_cl:  # without CL terms or transfer (the matched baseline) no CL network
            cl_encoder = copy.deepcopy(text) if config.cl_encoder == "copy" else text
            self.cl = CrossLingualNetwork(cl_encoder, config)
        self.epoch = 1

    @classmethod
    def required_roles(cls, config: Cl2cmConfig) -> dict[str, str]:
        return {"mt": "CL2CM aligns the English captions with their machine translations"}

    # ---------------------------------------------------------------- evaluation: CM only
    def encode_text(self, tokens: TokenBatch, lang: str) -> torch.Tensor:
        return self.cm_tower.embed(self.cm_tower.prepare(self.text(tokens)))

    def encode_visual(self, visual: VisualBatch) -> torch.Tensor:
        return self.visual_tower(self.visual(visual).pooled)

    # ---------------------------------------------------------------- schedule
    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self._freeze_teacher()

    def train(self, mode: bool = True) -> Cl2cm:
        super().train(mode)
        self._freeze_teacher()
        return self

    def _freeze_teacher(self) -> None:
        """In two_stage's CM stage the CL network runs in eval mode (no dropout, BN frozen)."""
        if self.config.cl_frozen(self.epoch) and self.training and self.cl is not None:
            self.cl.eval()

    def stage(self) -> str:
        """ "cl", "cm" (two_stage) or "joint", for the current epoch."""
        if self.config.schedule == "joint":
            return "joint"
        return "cl" if self.config.in_cl_stage(self.epoch) else "cm"

    # ---------------------------------------------------------------- training
    def forward(self, batch: TrainBatch) -> dict[str, torch.Tensor]:
        stage, c = self.stage(), self.config
        views = target_views(batch, "CL2CM")
        source = required_view(batch, SOURCE_VIEW, "CL2CM")
        terms: dict[str, torch.Tensor] = {}
        visual, labels = None, batch.item_index
        if stage != "cl":
            visual = self._gather(self.encode_visual(batch.visual))
            labels = self._gather_plain(batch.item_index)
            e_s = self.encode_text(source, "en")
            terms["contrastive/source"] = c.source_weight * info_nce(
                self._gather(e_s), visual, c.tau, labels, self._identical(source)
            )
        teacher_only = torch.no_grad() if stage == "cm" else contextlib.nullcontext()
        cl = self.cl if self.cl is not None else (lambda tokens: None)  # none: no CL, no transfer
        with teacher_only:
            cl_source = cl(source)
        for view in views:
            target = batch.views[view]
            with teacher_only:
                cl_target = cl(target)
            if stage != "cm" and cl_source is not None:
                terms |= self._cl_terms(view, cl_source, cl_target, self._identical(target, source))
            if stage != "cl":
                e_t = self.encode_text(target, view.partition(":")[2])
                exclude = self._identical(target)
                terms |= self._cm_terms(view, e_t, visual, labels, exclude, cl_source, cl_target)
        return terms

    def _identical(self, *views: TokenBatch) -> torch.Tensor | None:
        return identical_text(self.config.negatives, self._gather_plain, *views)

    def _cl_terms(
        self, view: str, source: tuple, target: tuple, exclude: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        c = self.config
        (s_vec, s_states, s_mask), (t_vec, t_states, t_mask) = source, target
        terms = {}
        if c.sentence_weight:
            terms[f"cl_sentence/{view}"] = c.sentence_weight * info_nce(
                self._gather(t_vec), self._gather(s_vec), c.tau, exclude=exclude
            )
        if c.ot_weight:
            terms[f"cl_word_ot/{view}"] = c.ot_weight * ot_alignment(
                s_states, t_states, s_mask, t_mask, c.ot_epsilon, c.ot_iterations, c.ot_tol,
                c.ot_plan_grad,  # type: ignore[arg-type]
            )  # fmt: skip
        return terms

    def _cm_terms(
        self, view: str, e_t: torch.Tensor, visual: Any, labels: torch.Tensor,
        exclude: torch.Tensor | None, cl_source: tuple | None, cl_target: tuple | None,
    ) -> dict[str, torch.Tensor]:  # fmt: skip
        c = self.config
        e_t = self._gather(e_t)
        terms = {f"contrastive/{view}": c.mt_weight * info_nce(e_t, visual, c.tau, labels, exclude)}
        if c.kt_weight and cl_source is not None and cl_target is not None:
            terms[f"relational_kt/{view}"] = c.kt_weight * relational_kd(
                e_t, visual, self._gather(cl_target[0]), self._gather(cl_source[0]), c.tau,
                c.kt_teacher_tau, both_directions=c.kt_directions == "both",
            )  # fmt: skip
        return terms
