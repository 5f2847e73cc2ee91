"""Loss functions: pure functions of tensors, one formula each (its source in the docstring)."""

from __future__ import annotations

from ccrkit.losses.adversarial import adversarial_language
from ccrkit.losses.contrastive import info_nce
from ccrkit.losses.distill import smooth_l1_feature, soft_target_distill
from ccrkit.losses.guidance import feature_distance
from ccrkit.losses.one_to_k import one_to_k_nce
from ccrkit.losses.ranking import triplet_max_violation
from ccrkit.losses.relational import relational_kd
from ccrkit.losses.transport import ot_alignment, sinkhorn_plan, token_cost

__all__ = [
    "adversarial_language",
    "feature_distance",
    "info_nce",
    "one_to_k_nce",
    "ot_alignment",
    "relational_kd",
    "sinkhorn_plan",
    "smooth_l1_feature",
    "soft_target_distill",
    "token_cost",
    "triplet_max_violation",
]
