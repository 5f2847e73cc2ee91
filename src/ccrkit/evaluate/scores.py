"""Top-k over a score source, tile by tile (search and the serving path), and the score sources
themselves (`ccrkit.retrieval.scores`, re-exported here: their home sits below the world, which
scores its backbone with the same metrics).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ccrkit.retrieval.scores import (
    DEFAULT_BLOCK_BYTES,
    EmbeddingScores,
    FusedScores,
    MatrixScores,
    ScoreSource,
    block_rows,
    check_matrix,
    check_weights,
)

__all__ = [
    "DEFAULT_BLOCK_BYTES", "FIRST_CHUNK", "TILE_QUERIES", "EmbeddingScores", "FusedScores",
    "MatrixScores", "ScoreSource", "block_rows", "check_matrix", "check_weights", "top_k",
]  # fmt: skip

TILE_QUERIES = 1024  # queries per top-k tile (see `top_k`)
FIRST_CHUNK = 1024  # items of the first chunk of a running top-k (see `_RunningTopK.update`)


def top_k(
    source: ScoreSource, k: int, block_bytes: int = DEFAULT_BLOCK_BYTES
) -> tuple[np.ndarray, np.ndarray]:
    """The k best items of every query, best first: (scores, item indices), each (n_queries, k).

    Ties go to the lower item index. Scores are produced one tile (up to `TILE_QUERIES` queries x
    as many items as fit in `block_bytes`) at a time, so memory stays bounded whatever the
    collection size: at most two tiles exist at once, as a worker thread merges one tile into the
    running best (`_RunningTopK`) while the next is computed. Wide tiles of many queries keep each
    item embedding in cache for many queries (near-GEMM speed, where a slab of a few queries
    against every item would stream the whole item matrix per slab).
    """
    if not 1 <= k <= source.n_items:
        raise ValueError(f"k must be between 1 and the number of items ({source.n_items}), got {k}")
    scores = np.empty((source.n_queries, k), dtype=np.float32)
    indices = np.empty((source.n_queries, k), dtype=np.int64)
    rows = min(source.n_queries, TILE_QUERIES)
    cols = min(source.n_items, max(k, block_bytes // (4 * rows)))
    with ThreadPoolExecutor(max_workers=1) as merger:
        for q0 in range(0, source.n_queries, rows):
            queries = slice(q0, min(q0 + rows, source.n_queries))
            best = _RunningTopK(queries.stop - queries.start, k)
            merging = None
            for i0 in range(0, source.n_items, cols):
                tile = source.tile(queries, slice(i0, i0 + cols))
                if merging is not None:
                    merging.result()
                merging = merger.submit(best.update, tile, i0)
            merging.result()  # type: ignore[union-attr]
            scores[queries], indices[queries] = best.scores, best.items
    return scores, indices


class _RunningTopK:
    """The k best (score, item) so far of each query of a tile row, best first.

    A tile's entries only matter where they beat a query's current k-th best score, which after
    the first few thousand items is a small fraction of them: one vectorised comparison finds
    those candidates, and only they are sorted into the running best. Far cheaper than a full
    top-k per tile, so similarity + top-k runs close to the speed of the similarity alone.
    """

    def __init__(self, n_queries: int, k: int) -> None:
        self.k = k
        self.scores: np.ndarray | None = None  # created with the first tile's float type
        self.items = np.full((n_queries, k), -1, dtype=np.int64)
        self.n_queries = n_queries

    def update(self, tile: np.ndarray, offset: int) -> None:
        """Merge a tile whose first column is item `offset`.

        While fewer items than the tile holds have been seen, the running k-th best is a weak
        floor that most entries beat; so the tile is taken in chunks that double with the items
        seen, each bringing about k·ln 2 candidates per query. The first chunk (FIRST_CHUNK
        items, one partition) replaces the many tiny chunks a start at k would take.
        """
        tile = np.asarray(tile)
        if tile.dtype.kind != "f":
            tile = tile.astype(np.float64)
        if self.scores is None:  # same type as the tiles: compared without casts
            self.scores = np.full((self.n_queries, self.k), -np.inf, dtype=tile.dtype)
        done = 0
        while done < tile.shape[1]:
            width = max(FIRST_CHUNK, self.k, offset + done)
            self._merge_chunk(tile[:, done : done + width], offset + done)
            done += width

    def _merge_chunk(self, chunk: np.ndarray, offset: int) -> None:
        beats = chunk > self.scores[:, -1:]  # an equal later item would rank after it anyway
        if chunk.shape[1] > self.k and np.count_nonzero(beats) > chunk.size // 16:
            beats &= chunk >= _kth_largest(chunk, self.k)[:, None]  # e.g. scores rising
        flat = np.flatnonzero(beats)
        if len(flat):
            self._merge_candidates(chunk, flat, offset)

    def _merge_candidates(self, chunk: np.ndarray, flat: np.ndarray, offset: int) -> None:
        """Sort each query's candidates (flat indices into `chunk`) into its running best."""
        rows, cols = np.divmod(flat, chunk.shape[1])
        counts = np.bincount(rows, minlength=len(chunk))
        hit = np.flatnonzero(counts)
        slot = np.arange(len(flat)) - np.repeat(np.cumsum(counts) - counts, counts)
        compact = np.cumsum(counts > 0)[rows] - 1  # row -> position among rows with candidates
        new_scores = np.full((len(hit), int(counts.max())), -np.inf, dtype=chunk.dtype)
        new_items = np.zeros(new_scores.shape, dtype=np.int64)
        new_scores[compact, slot] = chunk[rows, cols]
        new_items[compact, slot] = cols + offset
        both_scores = np.concatenate([self.scores[hit], new_scores], axis=1)
        both_items = np.concatenate([self.items[hit], new_items], axis=1)
        # the running best comes first and holds earlier items: a stable sort keeps them ahead
        order = np.argsort(-both_scores, axis=1, kind="stable")[:, : self.k]
        self.scores[hit] = np.take_along_axis(both_scores, order, axis=1)
        self.items[hit] = np.take_along_axis(both_items, order, axis=1)


def _kth_largest(block: np.ndarray, k: int) -> np.ndarray:
    """Each row's k-th largest value (the whole row's smallest when it has fewer than k)."""
    position = block.shape[1] - min(k, block.shape[1])
    return np.partition(block, position, axis=1)[:, position]
