"""Loss functions: pure functions of tensors, one formula each (its source in the docstring)."""

from __future__ import annotations

from ccrkit.losses.contrastive import info_nce
from ccrkit.losses.ranking import triplet_max_violation

__all__ = ["info_nce", "triplet_max_violation"]
