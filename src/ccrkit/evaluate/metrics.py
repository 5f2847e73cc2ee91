"""The metric suite of the CCR papers (methods.md §1.4, §4.3, §5): the public entry points.

- `retrieval_metrics(sim, query_item, ties)`: R@1/5/10 (%), MedR (plain median, may be x.5), MeanR
  and mAP in both directions, SumR (the six recalls) and mR = SumR / 6.
- `mrv(ranks, reduce)`: Mean Rank Variance of the 1-to-K paper (§4.3), over languages x items.
- `fuse(sims, weights)`: the NRCCR translate-test fusion (§1.4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from ccrkit.evaluate.ranking import Ranks, Ties, compute_ranks
from ccrkit.evaluate.scores import FusedScores, MatrixScores

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

    Items may have any number of captions (none: a distractor). See `ccrkit.evaluate.ranking`
    for the tie rules and the distractors.
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


def mrv(ranks: np.ndarray, reduce: Literal["std", "var"] = "std") -> float:
    """Mean Rank Variance: the mean over items of the spread of an item's rank across languages.

    MRV = (1/N) Σ_i std_l(r_{i,l}) with population statistics (ddof 0), `ranks` shaped
    (languages, items). The official code takes the standard deviation although the name says
    variance; `reduce="var"` gives the variance. The spread is the same for 0- and 1-based ranks.
    """
    ranks = np.asarray(ranks)
    if ranks.dtype.kind not in "fiu":
        raise ValueError(f"ranks must hold numbers, got dtype {ranks.dtype}")
    if ranks.ndim != 2 or ranks.size == 0:
        raise ValueError(
            f"ranks must be a non-empty (languages x items) array, got shape {ranks.shape}"
        )
    if not np.isfinite(ranks).all():
        raise ValueError("ranks hold NaN or inf; expected finite ranks")
    if reduce == "std":
        return float(np.mean(np.std(ranks, axis=0)))
    if reduce == "var":
        return float(np.mean(np.var(ranks, axis=0)))
    raise ValueError(f"reduce must be 'std' or 'var', got {reduce!r}")


def minmax_normalise(sim: np.ndarray) -> np.ndarray:
    """Scale a matrix to [0, 1] over all its entries (a constant matrix becomes all zeros)."""
    sim = MatrixScores(sim).sim.astype(np.float64)
    low, high = sim.min(), sim.max()
    return (sim - low) / (high - low) if high > low else np.zeros_like(sim)


def fuse(sims: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """NRCCR translate-test fusion: Σ_k w_k · minmax(S_k), weights >= 0 summing to 1.

    NRCCR fuses error matrices E = −S as w·E(q') + (1−w)·E(q) after min-max normalising each; on
    similarities that is the same ranking as w·minmax(S(q')) + (1−w)·minmax(S(q)).
    """
    if not sims:
        raise ValueError("fuse needs at least one similarity matrix")
    fused = FusedScores([MatrixScores(s, f"sims[{i}]") for i, s in enumerate(sims)], weights)
    return fused.query_block(0, fused.n_queries)
