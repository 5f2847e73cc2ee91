"""Loss functions: pure functions of tensors, one formula each (its source in the docstring)."""

from __future__ import annotations

from ccrkit.losses.adversarial import adversarial_language
from ccrkit.losses.contrastive import info_nce
from ccrkit.losses.distill import smooth_l1_feature, soft_target_distill
from ccrkit.losses.one_to_k import one_to_k_nce
from ccrkit.losses.ranking import triplet_max_violation

__all__ = [
    "adversarial_language",
    "info_nce",
    "one_to_k_nce",
    "smooth_l1_feature",
    "soft_target_distill",
    "triplet_max_violation",
]
