"""Past one machine: a collection split into shards, each searched alone, results merged.

Shard i holds the items of rows `offsets[i]` ... `offsets[i+1] - 1` of the whole collection and
answers with its own (score, local row) top-k; `merge_top_k` turns those into the collection's
top-k. Each shard returns its k best, so the union holds the global k best: every global top-k
item is among the k best of its own shard. Equal scores are ordered by global row, as one
exact index over all vectors orders them (`index.scan`), so the merge is the same top-k, not
just the same scores. `docs/scale.md` describes the layout this serves (shards behind the same
HTTP API, a router that fans a query out and merges).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ccrkit.index.scan import best_first


def merge_top_k(
    results: Sequence[tuple[np.ndarray, np.ndarray]], offsets: Sequence[int], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """(scores, global rows), both (queries, k), from each shard's (scores, local rows).

    A shard's -1 rows (FAISS's padding when it holds fewer than k items) are left out; when the
    shards hold fewer than k items in all, the rest is padded with -inf and -1."""
    if len(results) != len(offsets):
        raise ValueError(f"{len(results)} shard results for {len(offsets)} shard offsets")
    scores = np.concatenate([np.asarray(s, dtype=np.float32) for s, _ in results], axis=1)
    rows = np.concatenate(
        [np.where(r >= 0, r + offset, -1) for (_, r), offset in zip(results, offsets, strict=True)],
        axis=1,
    )
    scores = np.where(rows >= 0, scores, -np.inf)
    if scores.shape[1] < k:  # fewer candidates than k: pad, the padding sorts last
        pad = k - scores.shape[1]
        scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
        rows = np.pad(rows, ((0, 0), (0, pad)), constant_values=-1)
    # -1 rows must sort after every real row among equal (-inf) scores
    order_rows = np.where(rows >= 0, rows, np.iinfo(np.int64).max)
    merged_scores, merged_keys = best_first(scores, order_rows, k)
    return merged_scores, np.where(merged_keys == np.iinfo(np.int64).max, -1, merged_keys)


def shard_offsets(sizes: Sequence[int]) -> list[int]:
    """First global row of each shard, for shards of `sizes` items in collection order."""
    starts = np.cumsum([0, *sizes])[:-1]
    return [int(start) for start in starts]
