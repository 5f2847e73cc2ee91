"""The metric suite of the CCR papers (methods.md §1.4, §4.3, §5): the public entry points.

- `retrieval_metrics(sim, query_item, ties)`: R@1/5/10 (%), MedR (plain median, may be x.5), MeanR
  and mAP in both directions, SumR (the six recalls) and mR = SumR / 6 (`ccrkit.retrieval.metrics`,
  re-exported here).
- `mrv(ranks, reduce)`: Mean Rank Variance of the 1-to-K paper (§4.3), over languages x items.
- `fuse(sims, weights)`: the NRCCR translate-test fusion (§1.4).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from ccrkit.retrieval.metrics import METRIC_KEYS, RECALL_KS, metrics_from_ranks, retrieval_metrics
from ccrkit.retrieval.scores import FusedScores, MatrixScores

# the recall metrics live below the world, which scores its backbone with them (issue 21)
__all__ = [
    "METRIC_KEYS", "RECALL_KS", "fuse", "metrics_from_ranks", "minmax_normalise", "mrv",
    "retrieval_metrics",
]  # fmt: skip


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
