"""Ranks of the relevant items with the tie rules: `ccrkit.retrieval.ranking`, re-exported here
(its home sits below the world, which scores its backbone with the same metrics)."""

from __future__ import annotations

from ccrkit.retrieval.ranking import (
    TIE_POLICIES,
    Ranks,
    Ties,
    caption_table,
    check_query_item,
    compute_ranks,
)

__all__ = ["TIE_POLICIES", "Ranks", "Ties", "caption_table", "check_query_item", "compute_ranks"]
