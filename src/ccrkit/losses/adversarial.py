"""NRCCR's language-adversarial term (methods.md §1.2 F): a GAN between a language discriminator
and the text encoder, on sentence features of the English source ("real") and its MT ("fake")."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

PLAYERS = ("discriminator", "encoder")
SOURCE_LABEL, TARGET_LABEL = 1.0, 0.0


def adversarial_language(
    target_logits: torch.Tensor,
    source_logits: torch.Tensor | None = None,
    player: Literal["discriminator", "encoder"] = "discriminator",
) -> torch.Tensor:
    """The discriminator's loss, or the encoder's loss for fooling it.

    D outputs logits (B, K) — NRCCR's heads have K = 2 — and every logit is trained towards the same
    label with binary cross-entropy on logits (BCE(z, y) = −[y log σ(z) + (1−y) log(1−σ(z))],
    mean over all B·K entries), as the official code does (not a softmax over the K classes):

        discriminator:  L_D   = ½ [ BCE(D(s), 1) + BCE(D(t), 0) ]     (features detached by the caller)
        encoder:        L_adv = BCE(D(t), 1)                           (the target pretends to be English)

    NRCCR steps D with its own Adam on L_D, then adds `scale` (0.001) · L_adv to the encoder loss.
    `source_logits` is needed for the discriminator's loss only.
    """
    if player == "encoder":
        return _bce(target_logits, SOURCE_LABEL)
    if player != "discriminator":
        raise ValueError(f"player must be one of {', '.join(PLAYERS)}, got {player!r}")
    if source_logits is None:
        raise ValueError("the discriminator's loss needs the source logits as well")
    return (_bce(source_logits, SOURCE_LABEL) + _bce(target_logits, TARGET_LABEL)) / 2


def _bce(logits: torch.Tensor, label: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))
