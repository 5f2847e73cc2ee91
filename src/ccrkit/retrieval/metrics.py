"""The papers' retrieval metrics of a similarity matrix (methods.md §1.4, §5): R@1/5/10 (%), MedR
(plain median, may be x.5), MeanR and mAP in both directions, SumR (the six recalls) and
mR = SumR / 6. Pure numpy, below every stage that scores retrieval: the evaluation protocol
(`ccrkit.evaluate`, which re-exports these names) and the world's backbone report.
"""

from __future__ import annotations

import numpy as np

from ccrkit.retrieval.ranking import Ranks, Ties, compute_ranks
from ccrkit.retrieval.scores import MatrixScores

RECALL_KS = (1, 5, 10)
METRIC_KEYS = (
    "t2v_r1", "t2v_r5", "t2v_r10", "t2v_medr", "t2v_meanr", "t2v_map",
    "v2t_r1", "v2t_r5", "v2t_r10", "v2t_medr", "v2t_meanr", "v2t_map",
    "sumr", "mr",
)  # fmt: skip


def retrieval_metrics(
    sim: np.ndarray, query_item: np.ndarray, ties: Ties = "pessimistic"
) -> dict[str, float]:
    """All metrics of a (queries x items) similarity matrix; `query_item[q]` is query q's item.

    Items may have any number of captions (none: a distractor). See `ccrkit.retrieval.ranking`
    for the tie rules and the distractors.

    Example (query 2, of item 1, scores item 0 higher: t2v rank 2)::

        m = retrieval_metrics(np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]]), np.array([0, 1, 1]))
        m["t2v_r1"], m["v2t_r1"], m["sumr"]  # 66.67, 100.0, 566.67 (rounded)
    """
    return metrics_from_ranks(compute_ranks(MatrixScores(sim), query_item, ties))


def metrics_from_ranks(ranks: Ranks) -> dict[str, float]:
    """t2v: R@K = % of queries with rank <= K, mAP = mean 1/rank; v2t: the same over the items
    that have captions (distractors have no v2t rank), mAP = mean average precision over each
    item's full ranked caption list."""
    metrics: dict[str, float] = {}
    ranked = ranks.ranked_items
    for direction, rank in (("t2v", ranks.t2v), ("v2t", ranks.v2t[ranked])):
        for k in RECALL_KS:
            metrics[f"{direction}_r{k}"] = float(100.0 * np.mean(rank <= k))
        metrics[f"{direction}_medr"] = float(np.median(rank))
        metrics[f"{direction}_meanr"] = float(np.mean(rank))
    metrics["t2v_map"] = float(np.mean(1.0 / ranks.t2v))
    metrics["v2t_map"] = float(np.mean(ranks.v2t_ap[ranked]))
    metrics["sumr"] = sum(metrics[f"{d}_r{k}"] for d in ("t2v", "v2t") for k in RECALL_KS)
    metrics["mr"] = metrics["sumr"] / 6.0
    return {key: metrics[key] for key in METRIC_KEYS}
