"""Similarity scores served block by block, so ranking never needs the whole matrix in memory.

A score source is a (queries x items) similarity, higher = better, that hands out slabs of rows
(queries; ranking) or tiles of queries x items (top-k). `MatrixScores` wraps a matrix already in memory; `EmbeddingScores`
computes slabs from two embedding matrices on demand; `FusedScores` is the NRCCR translate-test
fusion (methods.md §1.4, §5.2): each source min-max normalised over all its entries, then combined.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

DEFAULT_BLOCK_BYTES = 32 * 2**20  # one slab of float32 scores; peak extra memory is a few slabs
TILE_QUERIES = 1024  # queries per top-k tile (see `top_k`)
FIRST_CHUNK = 1024  # items of the first chunk of a running top-k (see `_RunningTopK.update`)


class ScoreSource(Protocol):
    """A (n_queries x n_items) similarity matrix, readable by row slabs or tiles."""

    n_queries: int
    n_items: int

    def query_block(self, start: int, stop: int) -> np.ndarray:
        """Scores of queries start..stop against every item: shape (stop-start, n_items)."""
        ...

    def tile(self, queries: slice, items: slice) -> np.ndarray:
        """Scores of a range of queries against a range of items."""
        ...


class MatrixScores:
    """A similarity matrix that is already in memory (validated: 2-D, non-empty, finite)."""

    def __init__(self, sim: np.ndarray, name: str = "sim") -> None:
        self.sim = check_matrix(sim, name)
        self.n_queries, self.n_items = self.sim.shape

    def query_block(self, start: int, stop: int) -> np.ndarray:
        return self.sim[start:stop]

    def tile(self, queries: slice, items: slice) -> np.ndarray:
        return self.sim[queries, items]


class EmbeddingScores:
    """Inner products of query and item embeddings (cosine when both are L2-normalised)."""

    def __init__(self, queries: np.ndarray, items: np.ndarray) -> None:
        self.queries = check_matrix(queries, "query embeddings").astype(np.float32, copy=False)
        self.items = check_matrix(items, "item embeddings").astype(np.float32, copy=False)
        if self.queries.shape[1] != self.items.shape[1]:
            raise ValueError(
                f"query embeddings have dimension {self.queries.shape[1]} but item embeddings "
                f"{self.items.shape[1]}; both must come from the same model"
            )
        self.n_queries, self.n_items = len(self.queries), len(self.items)

    def query_block(self, start: int, stop: int) -> np.ndarray:
        return self.queries[start:stop] @ self.items.T

    def tile(self, queries: slice, items: slice) -> np.ndarray:
        return self.queries[queries] @ self.items[items].T


class FusedScores:
    """Σ_k w_k · minmax(S_k): each source normalised to [0, 1] over all its entries, then mixed."""

    def __init__(self, sources: Sequence[ScoreSource], weights: Sequence[float]) -> None:
        self.weights = check_weights(weights, len(sources))
        shapes = {(s.n_queries, s.n_items) for s in sources}
        if len(shapes) != 1:
            raise ValueError(
                f"fused similarity matrices must share one shape, got {sorted(shapes)}"
            )
        self.sources = list(sources)
        ((self.n_queries, self.n_items),) = shapes
        self.ranges = [_value_range(s) for s in self.sources]

    def query_block(self, start: int, stop: int) -> np.ndarray:
        return self._mix([s.query_block(start, stop) for s in self.sources])

    def tile(self, queries: slice, items: slice) -> np.ndarray:
        return self._mix([s.tile(queries, items) for s in self.sources])

    def _mix(self, blocks: list[np.ndarray]) -> np.ndarray:
        out = np.zeros(blocks[0].shape, dtype=np.float64)
        for block, weight, (low, high) in zip(blocks, self.weights, self.ranges, strict=True):
            if weight and high > low:
                out += (weight / (high - low)) * (block - low)
        return out


def check_matrix(sim: np.ndarray, name: str = "sim") -> np.ndarray:
    """A 2-D, non-empty, finite numeric array, or a ValueError that says which of these failed."""
    sim = np.asarray(sim)
    if sim.dtype.kind not in "fiu":
        raise ValueError(f"{name} must hold numbers, got dtype {sim.dtype}")
    if sim.ndim != 2:
        raise ValueError(f"{name} must be 2-D (queries x items), got shape {sim.shape}")
    if sim.size == 0:
        raise ValueError(
            f"{name} is empty (shape {sim.shape}); expected at least one query and item"
        )
    if sim.dtype.kind == "f" and not np.isfinite(sim).all():
        bad = np.argwhere(~np.isfinite(sim))[0]
        raise ValueError(
            f"{name} holds NaN or inf (first at row {bad[0]}, column {bad[1]}); "
            "expected finite similarities"
        )
    return sim


def check_weights(weights: Sequence[float], n_sources: int) -> list[float]:
    """Fusion weights: one per matrix, non-negative, summing to 1 (a convex combination)."""
    weights = [float(w) for w in weights]
    if len(weights) != n_sources:
        raise ValueError(f"got {len(weights)} fusion weights for {n_sources} similarity matrices")
    if any(not np.isfinite(w) or w < 0 for w in weights) or abs(sum(weights) - 1.0) > 1e-6:
        raise ValueError(f"fusion weights must be >= 0 and sum to 1, got {weights}")
    return weights


def block_rows(width: int, block_bytes: int = DEFAULT_BLOCK_BYTES) -> int:
    """How many rows of `width` float32 scores fit in one block."""
    return max(1, block_bytes // (4 * max(width, 1)))


def _value_range(source: ScoreSource) -> tuple[float, float]:
    low, high = np.inf, -np.inf
    step = block_rows(source.n_items)
    for start in range(0, source.n_queries, step):
        block = source.query_block(start, min(start + step, source.n_queries))
        low, high = min(low, float(block.min())), max(high, float(block.max()))
    return low, high


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
