"""The batched exact scan: same top-k as FAISS's exact search, a bound that holds, a fallback.

Every exactness test runs every rough product: bf16 (CPUs with native bf16), int8 (FBGEMM, where
torch has it) and float32 (memory-mapped indexes, and the fallback), so every path is checked on
whichever CPU runs the tests (int8 becomes float32 where torch has no int8 product).
"""

from __future__ import annotations

import threading

import faiss
import numpy as np
import pytest
import torch

from ccrkit.index import scan
from ccrkit.index.backend import one_faiss_thread
from ccrkit.index.scan import (
    BatchedFlatScan,
    bf16_relative_error,
    fp32_relative_error,
    int8_eps,
    int8_product,
    packed_product,
    quantized_product,
)
from ccrkit.serve.batching import MicroBatcher


def unit_rows(rng: np.random.Generator, rows: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((rows, dim), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def flat_index(vectors: np.ndarray) -> faiss.IndexFlatIP:
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    return index


@pytest.fixture(scope="module")
def gallery():
    rng = np.random.default_rng(0)
    vectors = unit_rows(rng, 5000, 64) * rng.uniform(0.5, 2.0, (5000, 1)).astype(np.float32)
    return vectors, flat_index(vectors)


PATHS = [("bf16", False), ("int8", False), ("fp32", False), ("fp32", True)]  # (precision, mmap)
PRECISIONS = ["bf16", "int8", "fp32"]


@pytest.mark.parametrize(("precision", "mmap"), PATHS)
@pytest.mark.parametrize("batch", [1, 7, 40])
@pytest.mark.parametrize("k", [1, 10, 100])
def test_same_top_k_as_faiss_exact_search(gallery, batch, k, precision, mmap):
    vectors, index = gallery
    queries = unit_rows(np.random.default_rng(batch * 1000 + k), batch, 64) * 3
    scores, rows = BatchedFlatScan(index, precision, mmap).search(queries, k)
    want_scores, want_rows = index.search(queries, k)
    assert scores.shape == rows.shape == (batch, k)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores, np.einsum("qd,qkd->qk", queries, vectors[rows]), atol=1e-5)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_every_vector_a_candidate_and_ties_to_the_lower_row(precision):
    base = unit_rows(np.random.default_rng(1), 6, 8)
    vectors = np.concatenate([base, base])  # rows i and i + 6 are the same vector
    queries = base[:3].copy()
    scores, rows = BatchedFlatScan(flat_index(vectors), precision).search(queries, 4)
    assert rows[:, :2].tolist() == [[0, 6], [1, 7], [2, 8]]
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-6)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("batch", [1, 5])
def test_a_loose_bound_rescores_more_rows_and_never_changes_the_top_k(gallery, precision, batch):
    _, index = gallery
    queries = unit_rows(np.random.default_rng(2), batch, 64)
    scanner = BatchedFlatScan(index, precision)
    scanner.eps = lambda q: np.full(len(q), 10.0)  # every row could be in the top k
    rescored = []
    score_pairs = scanner._score_pairs
    scanner._score_pairs = lambda q, rows: rescored.append(rows.size) or score_pairs(q, rows)
    scores, rows = scanner.search(queries, 10)
    want_scores, want_rows = index.search(queries, 10)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_allclose(scores, want_scores, atol=1e-5)
    if scanner.precision == "int8" or batch > 1:  # the product's path: every row re-scored
        assert sum(rescored) == batch * index.ntotal


@pytest.mark.parametrize("precision", PRECISIONS)
def test_many_ties_at_the_k_th_score_are_cut_by_row(precision):
    vectors = np.zeros((200, 4), dtype=np.float32)
    vectors[:, 0] = 1.0  # 200 equal scores: more than the candidates kept for k = 5
    vectors[150, 0] = 2.0
    scan = BatchedFlatScan(flat_index(vectors), precision)
    scores, rows = scan.search(np.eye(4, dtype=np.float32), 5)
    assert rows[0].tolist() == [150, 0, 1, 2, 3]
    np.testing.assert_allclose(scores[0], [2, 1, 1, 1, 1])
    assert rows[1].tolist() == [0, 1, 2, 3, 4]  # all scores 0
    lone = np.eye(4, dtype=np.float32)[1:2]  # one query: FAISS's own scan gives the candidates
    assert scan.search(lone, 5)[1].tolist() == [[0, 1, 2, 3, 4]]


def test_the_bf16_error_bound_holds_for_the_product_in_use():
    rng = np.random.default_rng(3)
    for dim in (16, 256, 1024):
        vectors = rng.standard_normal((3000, dim), dtype=np.float32)
        vectors[:10] *= 50  # a few long vectors: the bound scales with the norms
        queries = rng.standard_normal((16, dim), dtype=np.float32)
        product = packed_product(torch.from_numpy(vectors).to(torch.bfloat16))
        rough = product(torch.from_numpy(queries).to(torch.bfloat16)).float().numpy()
        exact = queries.astype(np.float64) @ vectors.T.astype(np.float64)
        norms = np.outer(np.linalg.norm(queries, axis=1), np.linalg.norm(vectors, axis=1))
        assert (np.abs(rough - exact) <= norms * bf16_relative_error(dim)).all()


def test_the_float32_error_bound_holds_for_the_products_in_use():
    rng = np.random.default_rng(4)
    for dim in (16, 256, 1024):
        vectors = rng.standard_normal((3000, dim), dtype=np.float32)
        vectors[:10] *= 50
        queries = rng.standard_normal((16, dim), dtype=np.float32)
        exact = queries.astype(np.float64) @ vectors.T.astype(np.float64)
        norms = np.outer(np.linalg.norm(queries, axis=1), np.linalg.norm(vectors, axis=1))
        packed = packed_product(torch.from_numpy(vectors))(torch.from_numpy(queries)).numpy()
        rescored = np.einsum("qd,cd->qc", queries, vectors)
        for rough in (packed, rescored):
            assert (np.abs(rough - exact) <= norms * fp32_relative_error(dim)).all()


def int8_or_skip(vectors: np.ndarray):
    """The int8 product without its own check of the bound (the bound is what is tested)."""
    try:
        return quantized_product(vectors)
    except (AttributeError, RuntimeError, NotImplementedError):
        pytest.skip("this torch has no int8 product (FBGEMM)")


def test_the_int8_error_bound_holds_for_the_product_in_use():
    rng = np.random.default_rng(6)
    for dim in (16, 256, 1024):
        vectors = rng.standard_normal((3000, dim), dtype=np.float32)
        vectors[:10] *= 50  # a few long vectors: the bound scales with the norms
        vectors[10] = 0.0  # a zero row quantizes to zeros
        product, bounds = int8_or_skip(vectors)
        for scale in (1e-3, 1.0, 40.0):
            queries = rng.standard_normal((16, dim), dtype=np.float32) * scale
            queries[3] *= 30  # one long query widens the batch's quantization step
            rough = product(torch.from_numpy(queries)).numpy()
            exact = queries.astype(np.float64) @ vectors.T.astype(np.float64)
            assert (np.abs(rough - exact) <= int8_eps(queries, bounds)[:, None]).all()


def test_an_int8_product_outside_its_bound_or_missing_is_not_used(gallery, monkeypatch):
    _, index = gallery
    int8_or_skip(np.ones((4, 8), np.float32))
    assert BatchedFlatScan(index, "int8").precision == "int8"
    with monkeypatch.context() as patch:
        patch.setattr(scan, "int8_eps", lambda q, _: np.zeros(len(q)))  # claims no error
        assert BatchedFlatScan(index, "int8").precision == "fp32"

    def missing(*_args):
        raise RuntimeError("no FBGEMM here")

    monkeypatch.setattr(torch.ops.quantized, "linear_prepack", missing, raising=False)
    fallback = BatchedFlatScan(index, "int8")
    assert fallback.precision == "fp32"
    assert "float32" in fallback.description
    queries = unit_rows(np.random.default_rng(8), 3, 64)
    np.testing.assert_array_equal(fallback.search(queries, 5)[1], index.search(queries, 5)[1])


def test_blocks_of_a_large_index_merge_to_the_same_top_k(gallery, monkeypatch):
    _, index = gallery
    monkeypatch.setattr(scan, "BLOCK_ROWS", 1000)  # 5 blocks of the 5000 vectors
    queries = unit_rows(np.random.default_rng(5), 9, 64)
    for precision, mmap in PATHS:
        scanner = BatchedFlatScan(index, precision, mmap)
        assert len(scanner.blocks) == 5
        scores, rows = scanner.search(queries, 10)
        np.testing.assert_array_equal(rows, index.search(queries, 10)[1])
        np.testing.assert_allclose(scores, index.search(queries, 10)[0], atol=1e-5)
        tied = BatchedFlatScan(flat_index(np.ones((3000, 4), np.float32)), precision, mmap)
        assert tied.search(np.ones((1, 4), np.float32), 3)[1].tolist() == [[0, 1, 2]]


def test_the_cpu_picks_the_precision_and_every_flat_index_is_scanned(gallery, monkeypatch):
    _, index = gallery
    int8 = int8_product(np.ones((4, 8), np.float32)) is not None
    for fast in (True, False):
        monkeypatch.setattr(scan, "bf16_is_fast", lambda fast=fast: fast)
        want = "bf16" if fast else ("int8" if int8 else "fp32")
        assert BatchedFlatScan(index).precision == want
        assert BatchedFlatScan(index, mmap=True).precision == "fp32"  # a mapped index: no copy
        assert "batched" in scan.describe_scan(index, mmap=False)
    assert ("int8" if int8 else "float32") in scan.describe_scan(index, mmap=False)
    assert "memory-mapped" in scan.describe_scan(index, mmap=True)
    assert BatchedFlatScan.usable_for(index, mmap=False)
    assert BatchedFlatScan.usable_for(index, mmap=True)
    assert not BatchedFlatScan.usable_for(faiss.IndexFlatL2(64), mmap=False)
    hnsw = faiss.IndexHNSWFlat(64, 8, faiss.METRIC_INNER_PRODUCT)
    assert not BatchedFlatScan.usable_for(hnsw, mmap=False)
    assert scan.describe_scan(hnsw, mmap=False) == "FAISS's own search"


def openmp_threads_of_a_new_thread() -> int:
    seen = []
    worker = threading.Thread(target=lambda: seen.append(faiss.omp_get_max_threads()))
    worker.start()
    worker.join()
    return seen[0]


def test_the_search_thread_runs_faiss_on_one_openmp_thread():
    if openmp_threads_of_a_new_thread() == 1:
        pytest.skip("one core: a new thread's OpenMP default is 1 already")
    seen = []
    batcher = MicroBatcher(
        lambda items: [seen.append(faiss.omp_get_max_threads()) or i for i in items],
        initializer=one_faiss_thread,
    )
    assert batcher.submit(1).result(5) == 1
    batcher.close()
    assert seen == [1]
    assert openmp_threads_of_a_new_thread() > 1  # other threads are left as they were


def test_without_the_prepacking_ops_the_plain_product_is_used(monkeypatch):
    vectors = torch.randn(50, 16).to(torch.bfloat16)
    queries = torch.randn(3, 16).to(torch.bfloat16)

    def missing(*_args):
        raise RuntimeError("no oneDNN here")

    monkeypatch.setattr(torch.ops.mkldnn, "_reorder_linear_weight", missing, raising=False)
    product = packed_product(vectors)
    assert product.__name__ == "plain"
    torch.testing.assert_close(product(queries), queries @ vectors.T)
