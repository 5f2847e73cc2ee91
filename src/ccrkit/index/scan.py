"""Exact inner-product search that reads the vectors once per batch instead of once per query.

FAISS's flat scan visits every stored vector for every query: 16 queries over 100k x 256 cost
16 passes over 100 MB (about 64 ms on one core with AVX-512, 93 ms on an AVX2 EPYC).
`BatchedFlatScan` scores the whole batch with one matrix product in torch, keeps a few times `k`
candidates per query, and re-scores them in float32. The product is bfloat16 on CPUs that run it
natively (oneDNN, AVX-512 BF16 or AMX), float32 everywhere else (oneDNN with the vectors packed
for its kernel: 17 ms for 16 queries on one AVX2 core, against 93 ms for FAISS's per-query scan),
so that no CPU feature decides whether the speed target is met.

The result is certified, not hoped for: the rough score of any vector is within `eps` of its
exact score (rounding of the operands, of the product and of the float32 re-score, bounded
through Cauchy-Schwarz), so when the best candidate left out of the re-scoring still trails the
k-th exact score by more than `eps`, no vector outside the candidates can belong to the top k. A
query that fails the check (many vectors tied with its k-th) gets a float32 score of every
vector. Equal scores are ordered by row, so a query's hits do not depend on its batch.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import faiss
import numpy as np
import torch

CANDIDATES_PER_K = 4
MIN_CANDIDATES = 32
# Rows scored per product: bounds the (queries x rows) score matrix of a large or memory-mapped
# index to 32 x 131072 floats (16 MiB); an index of 100k rows is one block.
BLOCK_ROWS = 1 << 17
# A lone query is scanned by FAISS (its float32 scores are as good a rough score as any): one
# pass either way, and FAISS's costs 6 ms against 10 ms for the packed product plus top-k (CPU
# time, one AVX2 core, 100k x 256). From 2 queries on, one product for all is cheaper.
BATCHED_FROM = 2
Product = Callable[[torch.Tensor], torch.Tensor]


def bf16_relative_error(dim: int) -> float:
    """Bound on |bf16 score - exact score| / (|q| |x|) of a `dim`-term dot product: both operands
    rounded to bf16 (2^-9 each, so 2^-8 + 2^-18 per product), the result rounded (2^-9), and the
    float32 accumulation (dim * 2^-24, doubled for safety)."""
    return 2.0**-8 + 2.0**-18 + 2.0**-9 + 2 * dim * 2.0**-24


def fp32_relative_error(dim: int) -> float:
    """Bound on |float32 score - exact score| / (|q| |x|): the operands are exact, the `dim`-term
    accumulation in any order errs by at most dim * 2^-24 relative (doubled for safety). Both
    the rough product and the re-score (`np.einsum`) are float32 sums of this kind."""
    return 2 * dim * 2.0**-24


def bf16_is_fast() -> bool:
    """True when oneDNN runs bf16 matrix products on this CPU: natively with AVX-512 BF16 or AMX
    (measured: AVX-512 BF16), emulated with plain AVX-512 (not measured). False on AVX2 CPUs
    (measured: AMD EPYC family 25), where the float32 product is used."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def packed_product(vectors: torch.Tensor) -> Product:
    """queries -> queries @ vectors.T, in the vectors' dtype (bf16 or float32). Through oneDNN's
    pre-packed weights where this torch has them (the ops torch.compile's freezing uses), so that
    the vectors are laid out for the kernel once instead of on every call. bf16: 3-6 ms instead
    of 6.5-10 ms per pass over 100k x 256 for 1-16 queries (AVX-512 BF16); float32 on AVX2: 17
    instead of 31 ms for 16 queries. The packed copy costs the vectors' size in that dtype.
    Checked against the plain product once; any doubt, the plain one."""

    def plain(queries: torch.Tensor) -> torch.Tensor:
        return queries @ vectors.T

    try:
        packed = torch.ops.mkldnn._reorder_linear_weight(vectors, 16)

        def prepacked(queries: torch.Tensor) -> torch.Tensor:
            return torch.ops.mkldnn._linear_pointwise(queries, packed, None, "none", [], "")

        probe = vectors[:5]
        agree = torch.allclose(prepacked(probe).float(), plain(probe).float(), rtol=0.02, atol=0.02)
    except (AttributeError, RuntimeError, NotImplementedError):
        return plain
    return prepacked if agree else plain


def plain_product(vectors: torch.Tensor) -> Product:
    """queries -> queries @ vectors.T without a copy (a memory-mapped index stays mapped)."""

    def plain(queries: torch.Tensor) -> torch.Tensor:
        return queries @ vectors.T

    return plain


def scan_precision(mmap: bool) -> str:
    """The rough product `BatchedFlatScan` uses: 'bf16' for vectors read into memory on a CPU
    with fast bf16 products, else 'fp32' (a mapped index is never copied into bf16)."""
    return "bf16" if not mmap and bf16_is_fast() else "fp32"


def describe_scan(index: faiss.Index, mmap: bool) -> str:
    """Which scan serves `index` on this CPU, in words (printed by bench_serve and /api/info)."""
    if not BatchedFlatScan.usable_for(index, mmap):
        return "FAISS's own search"
    if scan_precision(mmap) == "bf16":
        return "batched bf16 scan (oneDNN, packed), exact re-score"
    if mmap:
        return "batched float32 scan over the memory-mapped vectors, exact re-score"
    return "batched float32 scan (oneDNN, packed), exact re-score"


class BatchedFlatScan:
    """Exact top-k of a FAISS flat inner-product index, one product per batch of queries.

    `precision`: 'bf16' or 'fp32' (None: `scan_precision(mmap)`); `mmap`: the index is mapped,
    so the float32 product runs on the mapped vectors instead of a packed copy.
    """

    def __init__(
        self, index: faiss.IndexFlat, precision: str | None = None, mmap: bool = False
    ) -> None:
        self.index = index
        count, dim = index.ntotal, index.d
        self.vectors = faiss.rev_swig_ptr(index.get_xb(), count * dim).reshape(count, dim)
        self.precision = precision or scan_precision(mmap)
        if self.precision not in ("bf16", "fp32"):
            raise ValueError(f"precision must be 'bf16' or 'fp32', got {self.precision!r}")
        self.dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        self.blocks = [
            (start, self._product(self.vectors[start : start + BLOCK_ROWS], mmap))
            for start in range(0, count, BLOCK_ROWS)
        ]
        rough = bf16_relative_error if self.precision == "bf16" else fp32_relative_error
        # The certificate compares a rough score with a re-score that is itself a float32 sum,
        # not the exact real number: the two errors add (each bounded relative to |q| |x|).
        self.relative_error = rough(dim) + fp32_relative_error(dim)

    def _product(self, block: np.ndarray, mmap: bool) -> Product:
        vectors = torch.from_numpy(block)
        if self.precision == "bf16":
            return packed_product(vectors.to(torch.bfloat16))
        # float32: packing copies the block into oneDNN's layout (resident memory), so a mapped
        # index multiplies its mapped pages as they are and stays paged out until searched
        return plain_product(vectors) if mmap else packed_product(vectors)

    @cached_property
    def largest_norm(self) -> float:
        """Computed at the first search, not at open: it reads every vector, and a mapped index
        should not become resident before it is searched."""
        return float(np.linalg.norm(self.vectors, axis=1).max(initial=0.0))

    @classmethod
    def usable_for(cls, index: faiss.Index, mmap: bool) -> bool:
        """A flat inner-product index, held in memory or mapped, on any CPU."""
        return (
            isinstance(index, faiss.IndexFlat)
            and index.metric_type == faiss.METRIC_INNER_PRODUCT
            and index.ntotal > 0
        )

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows), both (queries, k), best first, ties to the lower row: what
        `index.search` returns, except that the order of equal scores is fixed, so a query's
        hits do not depend on which other queries share its batch."""
        count = self.index.ntotal
        kept = min(count, max(CANDIDATES_PER_K * k, MIN_CANDIDATES))
        candidates, left_out = self._candidates(queries, kept)
        exact = np.einsum("qd,qcd->qc", queries, self.vectors[candidates])
        scores, rows = best_first(exact, candidates, k)
        if kept < count:
            # Every vector left out has a rough score <= `left_out`, so an exact score
            # <= that + eps: below the k-th exact score, it cannot be in the top k.
            # Cauchy-Schwarz: |rough - exact| <= relative_error * |q| * |x|, and |x| <= the
            # largest norm, so one eps per query covers every row it did not re-score.
            eps = np.linalg.norm(queries, axis=1) * self.largest_norm * self.relative_error
            # strictly below, and written as "not below" so that a NaN anywhere counts as unsure:
            # a tie with the k-th score could swap rows, so it is scanned in full
            unsure = ~(left_out + eps < scores[:, -1])
            if unsure.any():
                scores[unsure], rows[unsure] = self._full_scan(queries[unsure], k)
        return scores, rows

    def _candidates(self, queries: np.ndarray, kept: int) -> tuple[np.ndarray, np.ndarray]:
        """The `kept` best rows of every query by rough score, and per query a bound on the
        rough score of every row not among them (-inf when none is left out)."""
        bound = np.full(len(queries), -np.inf, dtype=np.float32)
        if len(queries) < BATCHED_FROM:  # FAISS's own scan, one pass, is the cheapest here
            # FAISS's float32 scores are rough scores too: its error is within fp32's bound, so
            # within `relative_error` whatever the batched path's precision
            best, where = self.index.search(queries, kept)
            if kept < self.index.ntotal:
                bound = best[:, -1].copy()
            return where, bound
        values, rows = [], []
        with torch.inference_mode():
            rough_queries = torch.from_numpy(queries).to(self.dtype)
            for start, product in self.blocks:
                rough = product(rough_queries)
                best, where = torch.topk(rough, min(kept, rough.shape[1]), dim=1)
                best = best.float().numpy()  # bf16 -> float32 is exact: the bound stays valid
                # what a block leaves out scores <= its last kept score: the bound is the
                # largest of these over the blocks (and of what the merge below drops)
                if best.shape[1] < rough.shape[1]:  # this block left rows out
                    bound = np.maximum(bound, best[:, -1])
                values.append(best)
                rows.append(where.numpy() + start)
        if len(values) == 1:
            return rows[0], bound
        merged, rows_all = np.concatenate(values, axis=1), np.concatenate(rows, axis=1)
        order = np.argsort(-merged, axis=1, kind="stable")
        if merged.shape[1] > kept:
            bound = np.maximum(
                bound, np.take_along_axis(merged, order[:, kept - 1 : kept], 1)[:, 0]
            )
        return np.take_along_axis(rows_all, order[:, :kept], axis=1), bound

    def _full_scan(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Float32 scores of every vector (the rare query whose candidates cannot be certified,
        e.g. many exactly tied vectors), with the same tie rule, block by block."""
        best_scores, best_rows = [], []
        for start in range(0, len(self.vectors), BLOCK_ROWS):
            exact = queries @ self.vectors[start : start + BLOCK_ROWS].T
            rows = np.broadcast_to(np.arange(start, start + exact.shape[1]), exact.shape)
            scores, kept_rows = best_first(exact, rows, min(k, exact.shape[1]))
            best_scores.append(scores)
            best_rows.append(kept_rows)
        return best_first(np.concatenate(best_scores, 1), np.concatenate(best_rows, 1), k)


def best_first(scores: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The `k` best (score, row) pairs of every query row, by score, then by the lower row."""
    order = np.lexsort((rows, -scores), axis=1)[:, :k]
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(rows, order, axis=1)
