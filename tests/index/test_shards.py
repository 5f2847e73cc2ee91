"""N FAISS shards, each searched alone, merged: the same top-k as one index over all vectors."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from ccrkit.index.scan import BatchedFlatScan
from ccrkit.index.shards import merge_top_k, shard_offsets


def flat(vectors: np.ndarray) -> faiss.IndexFlatIP:
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


@pytest.mark.parametrize("shards", [1, 2, 3, 7])
def test_merged_shards_give_the_top_k_of_one_index(shards):
    rng = np.random.default_rng(shards)
    vectors = rng.standard_normal((2000, 32)).astype(np.float32)
    vectors[1500:1520] = vectors[10]  # 21 equal vectors across shards: ties cut by global row
    queries = np.concatenate([rng.standard_normal((8, 32)).astype(np.float32), vectors[10:11]])
    sizes = np.diff(np.linspace(0, 2000, shards + 1).astype(int))
    parts = np.split(vectors, np.cumsum(sizes)[:-1])
    for k in (1, 10, 50):
        results = [BatchedFlatScan(flat(part)).search(queries, min(k, len(part))) for part in parts]
        scores, rows = merge_top_k(results, shard_offsets(sizes), k)
        want_scores, want_rows = BatchedFlatScan(flat(vectors)).search(queries, k)
        np.testing.assert_array_equal(rows, want_rows)
        np.testing.assert_allclose(scores, want_scores, atol=1e-5)
    assert rows[-1, :21].tolist() == [10, *range(1500, 1520)]  # the tied query, k = 50


def test_faiss_padding_and_fewer_items_than_k():
    part = np.eye(4, 8, dtype=np.float32)
    results = [flat(part).search(part[:1], 6), flat(part[:2]).search(part[:1], 6)]  # -1 padded
    scores, rows = merge_top_k(results, shard_offsets([4, 2]), 8)
    assert rows.tolist() == [[0, 4, 1, 2, 3, 5, -1, -1]]
    assert scores[0, :2].tolist() == [1.0, 1.0] and np.isneginf(scores[0, 6:]).all()
    with pytest.raises(ValueError, match="2 shard results for 3 shard offsets"):
        merge_top_k(results, [0, 4, 6], 3)
