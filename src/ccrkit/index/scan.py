"""Exact inner-product search that reads the vectors once per batch instead of once per query.

FAISS's flat scan visits every stored vector for every query: 16 queries over 100k x 256 cost
16 passes over 100 MB (about 64 ms on one core with AVX-512, 93 ms on an AVX2 EPYC).
`BatchedFlatScan` scores the whole batch with one rough matrix product in torch and re-scores in
float32 every row whose rough score could reach the top k. The rough product is bfloat16 on
CPUs that run it natively (oneDNN, AVX-512 BF16 or AMX), int8 where torch has FBGEMM's int8
product (x86: a quarter of the bytes per pass; a whole search of one query over 100k x 256 costs
4.1 ms of CPU against 9.3 ms with float32 on an AVX2 core, 8.2 against 13.7 ms for 4 queries),
float32 elsewhere and for a memory-mapped index, so that no CPU feature decides whether the
speed target is met.

The result is exact, not hoped for: the rough score of any vector is within `eps` of its exact
score (rounding or quantization of the operands, the product and the float32 re-score, bounded
through Cauchy-Schwarz). After each block the k-th best exact score so far is a floor under the
final k-th score, so a row whose rough score is below floor - eps cannot be in the top k; every
other row is re-scored. A loose bound costs re-scoring, never a wrong hit. Equal scores are
ordered by row, so a query's hits do not depend on its batch.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from functools import cached_property
from typing import NamedTuple

import faiss
import numpy as np
import torch

CANDIDATES_PER_K = 4
MIN_CANDIDATES = 32
# Rows scored per product: bounds the (queries x rows) score matrix of a large or memory-mapped
# index to 32 x 131072 floats (16 MiB); an index of 100k rows is one block.
BLOCK_ROWS = 1 << 17
# A lone query is scanned by FAISS when the rough product is float32 or bf16 (its float32 scores
# are as good a rough score as any): one pass either way, and FAISS's costs 8.7-9.0 ms against
# 10.4 ms for the packed float32 product plus top-k (CPU time, one AVX2 core, 100k x 256). From 2
# queries on, one product for all is cheaper (11.2-11.6 ms against FAISS's 17.1 ms for 2); the
# int8 product is cheaper from 1 (4.3 ms).
BATCHED_FROM = 2
# The int8 product quantizes each batch of queries to 7 bits (FBGEMM's `reduce_range`, which
# keeps its int16 pair sums from saturating on AVX2): one step is the batch's range over 127.
INT8_QUERY_LEVELS = 127
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


def int8_query_error(queries: np.ndarray) -> float:
    """Bound on |q_j - q'_j| of every element of a batch of queries after the int8 product's
    quantization: half a step. The quantizer's range spans the batch's values and 0, its zero
    point is nudged to an integer (at most half a step), so a value beyond the nudged range is
    at most half a step past its end and lands on it; 5 % slack for the float arithmetic."""
    low, high = min(0.0, float(queries.min())), max(0.0, float(queries.max()))
    return (high - low) / INT8_QUERY_LEVELS / 2 * 1.05


def bf16_is_fast() -> bool:
    """True when oneDNN runs bf16 matrix products on this CPU: natively with AVX-512 BF16 or AMX
    (measured: AVX-512 BF16), emulated with plain AVX-512 (not measured). False on AVX2 CPUs
    (measured: AMD EPYC family 25), where the int8 or float32 product is used."""
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


class Int8Bounds(NamedTuple):
    """What the int8 product's error bound needs to know of the vectors (largest over rows)."""

    row_error: float  # |x - x'| (L2): a row against its int8 codes times its scale
    l1: float  # |x|_1
    norm: float  # |x| (L2)

    def widest(self, other: Int8Bounds) -> Int8Bounds:
        return Int8Bounds(*(max(a, b) for a, b in zip(self, other, strict=True)))


def int8_product(vectors: np.ndarray) -> tuple[Product, Int8Bounds] | None:
    """(float32 queries -> rough float32 scores, the bounds of `int8_eps`) through FBGEMM's int8
    product, or None where this torch has no such product or it breaks its bound.

    torch marks its quantized-tensor API deprecated (pytorch#184982) but still ships it; the
    pinned torch has it, and a torch without it gets None, hence the float32 product. The int8
    codes cost a quarter of the float32 vectors; no float32 copy is kept beside them."""
    try:
        product, bounds = quantized_product(vectors)
        if not _int8_bound_holds(vectors, product, bounds):
            return None
    except (AttributeError, RuntimeError, NotImplementedError):
        return None
    return product, bounds


def quantized_product(vectors: np.ndarray) -> tuple[Product, Int8Bounds]:
    """`quantized::linear_dynamic` over `vectors` quantized per row to int8 (the queries are
    quantized per batch, the sums are int32), and the vectors' bounds. Raises where this torch
    has no such product."""
    count = len(vectors)
    scales = np.abs(vectors).max(axis=1) / 127
    # float32 scales (as FBGEMM keeps them), never 0 (a zero row quantizes to zeros)
    scales = np.maximum(scales, np.finfo(np.float32).tiny).astype(np.float32).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the deprecation notice
        codes = torch.quantize_per_channel(torch.from_numpy(vectors), torch.from_numpy(scales),
                                           torch.zeros(count, dtype=torch.long), 0, torch.qint8)  # fmt: skip
        packed = torch.ops.quantized.linear_prepack(codes, None)

    def product(queries: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(queries, packed, True)

    return product, _int8_bounds(vectors, codes.int_repr().numpy(), scales)


def _int8_bounds(vectors: np.ndarray, codes: np.ndarray, scales: np.ndarray) -> Int8Bounds:
    """The largest row error, L1 and L2 norm, 65,536 rows at a time (no full copy). In float32,
    whose rounding (a few 2^-24 of a row's norm) the slack covers: 2^-16 relative, and 2^-16 of
    the largest norm added to the row error (which can be 0, for a row its codes hold exactly)."""
    error, l1, norm = 0.0, 0.0, 0.0
    factors = scales.astype(np.float32)[:, None]
    for start in range(0, len(vectors), 65536):
        part = slice(start, start + 65536)
        rows = vectors[part]
        error = max(error, float(np.linalg.norm(codes[part] * factors[part] - rows, axis=1).max()))
        l1 = max(l1, float(np.abs(rows).sum(axis=1).max()))
        norm = max(norm, float(np.linalg.norm(rows, axis=1).max()))
    slack = 1 + 2.0**-16
    return Int8Bounds((error + norm * 2.0**-16) * slack, l1 * slack, norm * slack)


def _int8_bound_holds(vectors: np.ndarray, product: Product, bounds: Int8Bounds) -> bool:
    """The int8 product against float64 on a few rows and queries, within `int8_eps`: a product
    that quantizes differently from what the bound assumes is not used."""
    rng = np.random.default_rng(0)
    rows = vectors[: min(len(vectors), 256)]
    queries = np.concatenate([rows[:8], rng.standard_normal((8, vectors.shape[1]))]).astype(
        np.float32
    )
    rough = product(torch.from_numpy(queries)).numpy()[:, : len(rows)]
    exact = queries.astype(np.float64) @ rows.T.astype(np.float64)
    return bool((np.abs(rough - exact) <= int8_eps(queries, bounds)[:, None]).all())


def int8_eps(queries: np.ndarray, bounds: Int8Bounds) -> np.ndarray:
    """Per query, a bound on |int8 rough score - float32 re-score| over every row x:
    q.x - q'.x' = (q - q').x + q'.(x - x'), and |(q - q').x| <= max_j |q_j - q'_j| |x|_1,
    |q'.(x - x')| <= |q'| |x - x'| with |q'| <= |q| + |q - q'|; plus the float32 rounding of the
    rough product's output and of the re-score."""
    element = int8_query_error(queries)
    norms = np.linalg.norm(queries, axis=1).astype(np.float64)
    quantized_norms = norms + element * math.sqrt(queries.shape[1])
    quantized = element * bounds.l1 + quantized_norms * bounds.row_error
    fp32 = fp32_relative_error(queries.shape[1])
    rounding = fp32 * (quantized_norms * (bounds.norm + bounds.row_error) + norms * bounds.norm)
    return quantized + 2 * rounding


def scan_precision(mmap: bool) -> str:
    """The rough product `BatchedFlatScan` prefers: 'bf16' for vectors read into memory on a CPU
    with fast bf16 products, 'int8' for other in-memory vectors, 'fp32' for a mapped index
    (never copied). Where torch lacks the int8 product, the scan falls back to 'fp32'."""
    if mmap:
        return "fp32"
    return "bf16" if bf16_is_fast() else "int8"


def describe_scan(index: faiss.Index, mmap: bool) -> str:
    """Which scan serves `index` on this CPU, in words (printed by bench_serve and /api/info)."""
    if not BatchedFlatScan.usable_for(index, mmap):
        return "FAISS's own search"
    return BatchedFlatScan(index, mmap=mmap).description


DESCRIPTIONS = {
    "bf16": "batched bf16 scan (oneDNN, packed), exact re-score",
    "int8": "batched int8 scan (FBGEMM), exact re-score",
    "fp32": "batched float32 scan (oneDNN, packed), exact re-score",
}


class BatchedFlatScan:
    """Exact top-k of a FAISS flat inner-product index, one product per batch of queries.

    `precision`: 'bf16', 'int8' or 'fp32' (None: `scan_precision(mmap)`; 'int8' where torch
    cannot becomes 'fp32'); `mmap`: the index is mapped, so the float32 product runs on the
    mapped vectors instead of a packed copy.
    """

    def __init__(
        self, index: faiss.IndexFlat, precision: str | None = None, mmap: bool = False
    ) -> None:
        self.index = index
        count, dim = index.ntotal, index.d
        self.vectors = faiss.rev_swig_ptr(index.get_xb(), count * dim).reshape(count, dim)
        self.precision = precision or scan_precision(mmap)
        if self.precision not in DESCRIPTIONS:
            raise ValueError(f"precision must be one of {', '.join(DESCRIPTIONS)}, got "
                             f"{self.precision!r}")  # fmt: skip
        self.int8_bounds = Int8Bounds(0.0, 0.0, 0.0)
        self.blocks = self._blocks(mmap)
        self.dtype = torch.bfloat16 if self.precision == "bf16" else torch.float32
        rough = bf16_relative_error if self.precision == "bf16" else fp32_relative_error
        # The rough score and the re-score are both approximations of the real number: the
        # two errors add (each bounded relative to |q| |x|).
        self.relative_error = rough(dim) + fp32_relative_error(dim)
        self.description = DESCRIPTIONS[self.precision]
        if mmap and self.precision == "fp32":
            self.description = "batched float32 scan over the memory-mapped vectors, exact re-score"

    def _blocks(self, mmap: bool) -> list[tuple[int, Product]]:
        starts = range(0, len(self.vectors), BLOCK_ROWS)
        if self.precision == "int8":
            products = [int8_product(self.vectors[start : start + BLOCK_ROWS]) for start in starts]
            if all(products):
                for _, bounds in products:  # type: ignore[misc]
                    self.int8_bounds = self.int8_bounds.widest(bounds)
                return [(start, p[0]) for start, p in zip(starts, products, strict=True)]  # type: ignore[index]
            self.precision = "fp32"  # no int8 product here, or one outside its bound
        return [(start, self._product(self.vectors[start : start + BLOCK_ROWS], mmap))
                for start in starts]  # fmt: skip

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

    def eps(self, queries: np.ndarray) -> np.ndarray:
        """Per query, a bound on |rough score - float32 re-score| of every row."""
        if self.precision == "int8":
            return int8_eps(queries, self.int8_bounds)
        norms = np.linalg.norm(queries, axis=1).astype(np.float64)
        return norms * self.largest_norm * self.relative_error

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows), both (queries, k), best first, ties to the lower row: what
        `index.search` returns, except that the order of equal scores is fixed, so a query's
        hits do not depend on which other queries share its batch."""
        k = min(k, self.index.ntotal)
        if not np.isfinite(queries).all():
            return self._full_scan(queries, k)
        if len(queries) < BATCHED_FROM and self.precision != "int8":
            return self._search_with_faiss(queries, k)
        return self._search_blocks(queries, k)

    def _search_blocks(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Per block: the rough product, the exact scores of its k best rows, then of every
        other row whose rough score reaches the k-th best exact score so far minus eps."""
        top = TopK(len(queries), k)
        eps = self.eps(queries)
        with torch.inference_mode():
            rough_queries = torch.from_numpy(queries).to(self.dtype)
            for start, product in self.blocks:
                rough = product(rough_queries).float().numpy()
                best = torch.topk(torch.from_numpy(rough), min(k, rough.shape[1]), dim=1).indices
                best = best.numpy()
                top.add(best + start, self._rescore(queries, best + start))
                # a row scoring below (k-th best so far) - eps by the rough product cannot reach
                # the final k-th score, which is at least the k-th best so far
                maybe = rough >= (top.floor() - eps).astype(np.float32)[:, None]
                np.put_along_axis(maybe, best, False, axis=1)  # already scored
                query_of, row_of = np.divmod(np.flatnonzero(maybe), maybe.shape[1])  # 2-d
                if len(query_of):  # np.nonzero costs 20 times as much here
                    row_of += start
                    top.add_pairs(query_of, row_of, self._score_pairs(queries[query_of], row_of))
        return top.scores, top.rows

    def _rescore(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Float32 scores of `rows` (queries x candidates) against their queries."""
        pairs = self._score_pairs(np.repeat(queries, rows.shape[1], axis=0), rows.ravel())
        return pairs.reshape(rows.shape)

    def _score_pairs(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Float32 score of each (query, row) pair: every score of the scan is this one sum, so
        a pair scores the same whichever batch or candidate list it comes in."""
        return np.einsum("md,md->m", queries, self.vectors[rows])

    def _search_with_faiss(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """A lone query: FAISS's own scan gives the candidates and their float32 scores; when
        the best one left out could still reach the k-th, every row is scored."""
        count = self.index.ntotal
        kept = min(count, max(CANDIDATES_PER_K * k, MIN_CANDIDATES))
        rough, candidates = self.index.search(queries, kept)
        scores, rows = best_first(self._rescore(queries, candidates), candidates, k)
        if kept < count:
            # strictly below, and written as "not below" so that a NaN counts as unsure
            unsure = ~(rough[:, -1] + self.eps(queries) < scores[:, -1])
            if unsure.any():
                scores[unsure], rows[unsure] = self._full_scan(queries[unsure], k)
        return scores, rows

    def _full_scan(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Float32 scores of every vector (a lone query whose candidates cannot be certified,
        e.g. many exactly tied vectors), with the same tie rule, block by block."""
        best_scores, best_rows = [], []
        for start in range(0, len(self.vectors), BLOCK_ROWS):
            exact = queries @ self.vectors[start : start + BLOCK_ROWS].T
            rows = np.broadcast_to(np.arange(start, start + exact.shape[1]), exact.shape)
            scores, kept_rows = best_first(exact, rows, min(k, exact.shape[1]))
            best_scores.append(scores)
            best_rows.append(kept_rows)
        return best_first(np.concatenate(best_scores, 1), np.concatenate(best_rows, 1), k)


class TopK:
    """The k best (score, row) pairs of every query seen so far, by score, then by lower row."""

    def __init__(self, queries: int, k: int) -> None:
        self.k = k  # k empty places: score -inf, a row after every real one
        self.scores = np.full((queries, k), -np.inf, dtype=np.float32)
        self.rows = np.full((queries, k), np.iinfo(np.int64).max, dtype=np.int64)

    def add(self, rows: np.ndarray, scores: np.ndarray) -> None:
        self.scores, self.rows = best_first(np.concatenate([self.scores, scores], 1),
                                            np.concatenate([self.rows, rows], 1), self.k)  # fmt: skip

    def add_pairs(self, queries: np.ndarray, rows: np.ndarray, scores: np.ndarray) -> None:
        """More candidates as (query, row, score) triples, grouped by query (ascending)."""
        firsts, starts = np.unique(queries, return_index=True)
        for query, part in zip(firsts, np.split(np.arange(len(queries)), starts[1:]), strict=True):
            merged = best_first(np.concatenate([self.scores[query], scores[part]])[None],
                                np.concatenate([self.rows[query], rows[part]])[None], self.k)  # fmt: skip
            self.scores[query], self.rows[query] = merged[0][0], merged[1][0]

    def floor(self) -> np.ndarray:
        """Per query, the k-th best score so far (-inf while fewer than k): the final k-th best
        score is at least this."""
        return self.scores[:, self.k - 1].astype(np.float64)


def best_first(scores: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The `k` best (score, row) pairs of every query row, by score, then by the lower row."""
    order = np.lexsort((rows, -scores), axis=1)[:, :k]
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(rows, order, axis=1)
