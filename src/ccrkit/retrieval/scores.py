"""Similarity scores served block by block, so ranking never needs the whole matrix in memory.

A score source is a (queries x items) similarity, higher = better, that hands out slabs of rows
(queries; ranking) or tiles of queries x items (top-k, `ccrkit.evaluate.scores.top_k`). `MatrixScores` wraps a matrix already in memory; `EmbeddingScores`
computes slabs from two embedding matrices on demand; `FusedScores` is the NRCCR translate-test
fusion (methods.md §1.4, §5.2): each source min-max normalised over all its entries, then combined.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

DEFAULT_BLOCK_BYTES = 32 * 2**20  # one slab of float32 scores; peak extra memory is a few slabs


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
