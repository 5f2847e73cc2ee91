"""Streaming build into the float16 store, re-ranked IVF search, mapped serving, budgets, shards."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest

from ccrkit.cli.main import main
from ccrkit.index import IndexConfig, SearchIndex, build_index, encode_gallery
from ccrkit.index.backend import build_faiss
from ccrkit.index.plan import (
    RecallOutOfReach,
    RecallProbe,
    choose_config,
    exact_top_k,
    index_bytes,
    tune,
)
from ccrkit.index.toy import ToyGallery, ToyModel
from ccrkit.index.vectors import VectorStore


def clustered(count: int, dim: int, seed: int = 0) -> np.ndarray:
    """Unit vectors in 40 clusters of an 8-d subspace: neighbours that mean something."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(np.random.default_rng(99).standard_normal((dim, 8)))[0]
    centres = np.random.default_rng(98).standard_normal((40, 8))
    points = centres[rng.integers(0, 40, count)] + 0.3 * rng.standard_normal((count, 8))
    x = (points @ basis.T + 0.05 * rng.standard_normal((count, dim))).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def vector_gallery(root: Path, features: np.ndarray) -> ToyGallery:
    ids = [f"v{i}" for i in range(len(features))]
    return ToyGallery(root, ids, features, {i: [] for i in ids}, {i: [] for i in ids})


@pytest.fixture(scope="module")
def vectors():
    return clustered(3000, 32)


@pytest.mark.parametrize(
    "config",
    [
        IndexConfig(type="flat"),
        IndexConfig(type="flat16"),
        IndexConfig(
            type="ivfpq", params={"pq_m": 8, "pq_bits": 4, "nlist": 16, "nprobe": 4, "rerank": 0}
        ),
        IndexConfig(
            type="ivfpq", params={"pq_m": 4, "pq_bits": 5, "nlist": 8, "nprobe": 2, "rerank": 0}
        ),
    ],
    ids=["flat", "flat16", "ivfpq-fastscan", "ivfpq-5bit"],
)
def test_a_streaming_build_equals_the_in_memory_build(tmp_path, vectors, config):
    config.batch_size, config.recall_queries = 128, 50  # 24 chunks of encoded vectors
    model, gallery = ToyModel(dim=32), vector_gallery(tmp_path, vectors)
    build_index(model, gallery, tmp_path / "i", config, progress=False)
    stored = np.load(tmp_path / "i" / "vectors.npy")
    # Flat indexes take the encoder's float32 vectors as they come; IVF is trained on and filled
    # from the float16 store. The in-memory build gets the same vectors, all at once.
    encoded = encode_gallery(model, gallery, 3000, progress=False)
    source = encoded if config.type.startswith("flat") else stored.astype(np.float32)
    in_memory, _ = build_faiss(source, config)
    streamed = faiss.read_index(str(tmp_path / "i" / "index.faiss"))
    queries = clustered(20, 32, seed=5)
    for want, got in zip(in_memory.search(queries, 10), streamed.search(queries, 10), strict=True):
        np.testing.assert_array_equal(want, got)
    np.testing.assert_allclose(stored, vectors, atol=1e-3)  # the store: float16 of every row


@pytest.mark.parametrize("kind", ["flat", "ivfpq", "hnsw"])
def test_mapped_search_equals_in_memory_search(tmp_path, vectors, kind):
    config = {"flat": IndexConfig(), "hnsw": IndexConfig(type="hnsw", params={"hnsw_m": 8}),
              "ivfpq": IndexConfig(type="ivfpq", params={"pq_m": 8, "pq_bits": 4, "nprobe": 4,
                                                         "rerank": 50})}[kind]  # fmt: skip
    config.recall_queries = 50
    build_index(ToyModel(dim=32), vector_gallery(tmp_path, vectors), tmp_path / "i", config,
                progress=False)  # fmt: skip
    queries = clustered(15, 32, seed=6)
    found = []
    for mmap in (False, True):
        index = SearchIndex(tmp_path / "i", mmap=mmap)
        found.append(
            [[(h.item.row, h.score) for h in hits] for hits in index.search_vectors(queries, 10)]
        )
        index.close()
    assert found[0] == found[1]


def test_the_shortlist_is_re_scored_exactly_from_the_store(tmp_path, vectors):
    config = IndexConfig(
        type="ivfpq",
        params={"pq_m": 8, "pq_bits": 4, "nprobe": 16, "rerank": 200},
        recall_queries=50,
    )
    build_index(ToyModel(dim=32), vector_gallery(tmp_path, vectors), tmp_path / "i", config,
                progress=False)  # fmt: skip
    index = SearchIndex(tmp_path / "i")
    assert "re-scored exactly" in index.scan_path
    stored = np.load(tmp_path / "i" / "vectors.npy").astype(np.float32)
    queries = clustered(10, 32, seed=7)
    for query, hits in zip(queries, index.search_vectors(queries, 10), strict=True):
        scores = [h.score for h in hits]
        np.testing.assert_allclose(scores, stored[[h.item.row for h in hits]] @ query, atol=1e-5)
        assert scores == sorted(scores, reverse=True)
    # nprobe covers every list, so the shortlist of 200 holds the exact top 10 here
    truth = np.argsort(-(queries @ stored.T), axis=1)[:, :10]
    rows = [[h.item.row for h in hits] for hits in index.search_vectors(queries, 10)]
    assert np.mean([len(set(t) & set(r)) for t, r in zip(truth.tolist(), rows, strict=True)]) > 9.5
    similar = index.similar("v3", 3)  # from the stored vector, not a PQ approximation
    assert [h.item.row for h in similar] == [
        r for r in np.argsort(-(stored @ stored[3]))[:4] if r != 3
    ][:3]


def test_a_missing_or_truncated_store_is_refused_at_open_naming_it(tmp_path, vectors):
    build_index(ToyModel(dim=32), vector_gallery(tmp_path, vectors), tmp_path / "i",
                IndexConfig(type="flat16", recall_queries=20), progress=False)  # fmt: skip
    store = tmp_path / "i" / "vectors.npy"
    data = store.read_bytes()
    store.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=rf"{store}: truncated: .* hold 1,4\d\d of 3,000 vectors"):
        SearchIndex(tmp_path / "i")
    store.unlink()
    with pytest.raises(ValueError, match=rf"{store}: vector store not found; rebuild the index"):
        SearchIndex(tmp_path / "i")
    np.save(store, np.zeros((3000, 16), np.float16))
    with pytest.raises(ValueError, match=r"holds float16 \(3000, 16\), the manifest says"):
        SearchIndex(tmp_path / "i")
    store.write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="not a vector store"):
        SearchIndex(tmp_path / "i")


def test_indexes_built_before_the_store_still_open(tmp_path, vectors):
    build_index(ToyModel(dim=32), vector_gallery(tmp_path, vectors), tmp_path / "i",
                IndexConfig(type="hnsw", params={"hnsw_m": 8}, recall_queries=20), progress=False)  # fmt: skip
    manifest = json.loads((tmp_path / "i" / "manifest.json").read_text())
    for key in ("store", "rerank", "index_bytes"):
        del manifest[key]
    (tmp_path / "i" / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "i" / "vectors.npy").unlink()
    index = SearchIndex(tmp_path / "i")
    assert index.store is None and len(index.similar("v1", 3)) == 3


def test_auto_picks_by_size_and_budget_and_says_what_a_small_budget_needs():
    assert choose_config(IndexConfig(type="auto"), 100_000, 256).type == "flat"
    assert choose_config(IndexConfig(type="auto", max_memory="200MB"), 100_000, 256).type == "flat"
    # exact needs 2 x 97.7 MiB (the vectors and the packed copy the batched scan reads)
    assert choose_config(IndexConfig(type="auto", max_memory="190MB"), 100_000, 256).type == "ivfpq"
    assert choose_config(IndexConfig(type="auto"), 300_000, 256).type == "ivfpq"
    big = choose_config(IndexConfig(type="auto", max_memory="2GB"), 10_000_000, 256)
    ivf = big.params
    chosen = (big.type, ivf["pq_m"], ivf["pq_bits"], ivf["nlist"], ivf["rerank"])
    assert chosen == ("ivfpq", 64, 4, 2048, 100)
    assert index_bytes(big, 10_000_000, 256) == 10_000_000 * (32 + 8) + 2048 * 256 * 4 + 64 * 16 * 4
    tight = choose_config(IndexConfig(type="auto", max_memory="200MB"), 10_000_000, 256)
    assert tight.params["pq_m"] == 16  # 8 + 8 bytes per item: the most that fits 200 MB
    with pytest.raises(ValueError, match=r"100.0 MB is too small for any index of 10,000,000 x 256: "
                       r"the smallest \(IVF2048,PQ8x4fs.*\) needs 116.4 MB"):  # fmt: skip
        choose_config(IndexConfig(type="auto", max_memory="100MB"), 10_000_000, 256)
    with pytest.raises(
        ValueError, match=r"too small for a hnsw index of 1,000,000 x 256: it needs"
    ):
        choose_config(IndexConfig(type="hnsw", max_memory="1GB"), 1_000_000, 256)
    with pytest.raises(ValueError, match="not a memory size: '2 gigs'"):
        IndexConfig(max_memory="2 gigs")


def test_the_recall_target_is_tuned_to_and_an_unreachable_one_is_named(tmp_path, vectors):
    gallery = vector_gallery(tmp_path, vectors)
    config = IndexConfig(type="auto", max_memory="100KB", target_recall=0.9, recall_queries=200)
    manifest = build_index(ToyModel(dim=32), gallery, tmp_path / "i", config, progress=False)
    assert manifest.index_type == "ivfpq" and manifest.factory.endswith("x4fs")
    assert manifest.recall_at_10 >= 0.9 and manifest.rerank in (100, 200, 400, 800)
    assert manifest.index_bytes <= 100 * 1024
    index = SearchIndex(tmp_path / "i")

    def served(queries: np.ndarray, k: int) -> np.ndarray:
        return np.array([[h.item.row for h in hits] for hits in index.search_vectors(queries, k)])

    assert RecallProbe(index.store, 200, 0).recall(served) == pytest.approx(manifest.recall_at_10)
    hopeless = IndexConfig(type="ivfpq", params={"pq_m": 2, "pq_bits": 4, "nlist": 64, "rerank": 1},
                           target_recall=1.0, recall_queries=200)  # fmt: skip
    with pytest.raises(ValueError, match=r"recall@10 1.0 is out of reach of IVF64,PQ2x4: at best "
                       r"0\.\d+ \(nprobe=64, shortlist \d+, 95 % lower bound 0\.\d+\); .* exact search reaches 1.0 and needs"):  # fmt: skip
        build_index(ToyModel(dim=32), gallery, tmp_path / "j", hopeless, progress=False)
    assert not (tmp_path / "j").exists()


def test_hnsw_is_tuned_too_and_flat16_only_measured(tmp_path, vectors):
    gallery = vector_gallery(tmp_path, vectors)
    hnsw = IndexConfig(type="hnsw", params={"hnsw_m": 8}, target_recall=0.95, recall_queries=100)
    manifest = build_index(ToyModel(dim=32), gallery, tmp_path / "h", hnsw, progress=False)
    assert manifest.recall_at_10 >= 0.95 and set(manifest.search_params) == {"efSearch"}
    flat16 = IndexConfig(type="flat16", target_recall=0.95, recall_queries=100)
    manifest = build_index(ToyModel(dim=32), gallery, tmp_path / "f", flat16, progress=False)
    assert manifest.recall_at_10 >= 0.99 and manifest.search_params == {}


def test_the_recall_probe_leaves_each_item_out_of_its_own_neighbours(tmp_path):
    vectors = clustered(500, 16)
    path = tmp_path / "v.npy"
    np.save(path, vectors.astype(np.float16))
    store = VectorStore(path, 500, 16)
    probe = RecallProbe(store, 40, 0)
    stored = vectors.astype(np.float16).astype(np.float32)
    for row, truth in zip(probe.rows, probe.truth, strict=True):
        assert row not in truth
        others = [r for r in np.argsort(-(stored @ stored[row]), kind="stable") if r != row][:10]
        assert sorted(truth) == sorted(others)
    assert probe.recall(lambda q, k: exact_top_k(store, q, k)) == 1.0
    assert probe.recall(lambda q, k: np.tile(np.arange(k), (len(q), 1))) < 0.2


def test_store_chunks_and_samples_read_from_the_file_equal_the_mapped_rows(tmp_path):
    vectors = clustered(1000, 16).astype(np.float16)
    np.save(tmp_path / "v.npy", vectors)
    store = VectorStore(tmp_path / "v.npy", 1000, 16)
    chunks = list(store.chunks(300))  # the last chunk is short
    assert [start for start, _ in chunks] == [0, 300, 600, 900]
    assert np.array_equal(np.concatenate([c for _, c in chunks]), vectors.astype(np.float32))
    rows = np.array([0, 5, 299, 300, 999])
    assert np.array_equal(store.sample(rows), vectors[rows].astype(np.float32))
    assert store.sample(np.array([], int)).shape == (0, 16)


def test_the_target_is_met_with_95_percent_confidence_not_only_on_average(tmp_path):
    """38 of 40 sampled items find all 10 neighbours, 2 find none: mean 0.95, but the one-sided
    95 % bound is 0.95 - 1.645 * 0.22072 / sqrt(40) = 0.8926, so a 0.95 target is not met."""
    vectors = clustered(500, 16)
    np.save(tmp_path / "v.npy", vectors.astype(np.float16))
    probe = RecallProbe(VectorStore(tmp_path / "v.npy", 500, 16), 40, 0)

    def two_misses(queries: np.ndarray, n: int) -> np.ndarray:
        lines = np.column_stack([probe.rows, probe.truth])[:, :n]
        for q in (0, 1):
            lines[q] = [r for r in range(500) if r not in lines[q]][:n]
        return lines

    mean, bound = probe.lower_bound(two_misses)
    assert mean == pytest.approx(0.95) and bound == pytest.approx(0.892591, abs=1e-6)
    index = faiss.index_factory(16, "IVF4,Flat", faiss.METRIC_INNER_PRODUCT)
    index.train(vectors)
    config = IndexConfig(type="ivfpq", params={"nlist": 4, "rerank": 100}, target_recall=0.95)
    with pytest.raises(RecallOutOfReach, match=r"at best 0\.950 .* 95 % lower bound 0\.893"):
        tune(index, config, probe, lambda shortlist: two_misses, way_out="")
    config = dataclasses.replace(config, target_recall=0.89)
    tuned = tune(index, config, probe, lambda shortlist: two_misses, way_out="")
    assert tuned.search_params == {"nprobe": 1} and tuned.recall == pytest.approx(0.95)


def test_cli_build_with_a_budget_and_a_target(tmp_path, monkeypatch, capsys, vectors):
    gallery = vector_gallery(tmp_path, vectors)
    monkeypatch.setattr("ccrkit.index.build.load_retrieval_model", lambda run_dir: ToyModel(dim=32))
    monkeypatch.setattr("ccrkit.index.build.open_gallery", lambda *args: gallery)
    argv = ["index", "build", "--checkpoint", str(tmp_path), "--data", "x", "--out",
            str(tmp_path / "i"), "--max-memory", "100KB", "--target-recall", "0.9",
            "recall_queries=100"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "PQ8x4fs, recall@10 0.9" in out and "re-scored from vectors.npy" in out
    argv[argv.index("100KB")] = "1KB"
    argv[argv.index(str(tmp_path / "i"))] = str(tmp_path / "j")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "1.0 KB is too small for any index of 3,000 x 32" in err and err.count("\n") == 1


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_searching_a_mapped_store_reads_no_copy_of_it(tmp_path):
    """The store stays a file mapping: searches add no anonymous memory of its size. (The
    kernel may map large file folios around each row read, so the mapped share of the RSS is
    page cache, shared and reclaimable, and is not what this checks.)"""
    vectors = clustered(30_000, 256)
    build_index(ToyModel(dim=256), vector_gallery(tmp_path, vectors), tmp_path / "i",
                IndexConfig(type="ivfpq", params={"pq_m": 32, "pq_bits": 4, "nprobe": 4, "rerank": 100},
                            recall_queries=50, batch_size=8192), progress=False)  # fmt: skip
    store_mb = (tmp_path / "i" / "vectors.npy").stat().st_size / 2**20  # ~15 MiB
    probe = (
        "import sys, numpy as np; from ccrkit.index import SearchIndex\n"
        "def rss(): return int(open('/proc/self/status').read().split('RssAnon:')[1].split()[0])\n"
        "index = SearchIndex(sys.argv[1], mmap=True); q = np.load(sys.argv[2])\n"
        "before = rss(); index.search_vectors(q, 10); print(rss() - before)"
    )
    np.save(tmp_path / "q.npy", clustered(20, 256, seed=3))
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "i"), str(tmp_path / "q.npy")],
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert int(out.stdout) / 1024 < 0.25 * store_mb  # 20 queries x 100 rows, not a copy


def test_auto_falls_back_to_a_scan_when_no_ivf_setting_reaches_the_target(tmp_path, monkeypatch):
    monkeypatch.setattr("ccrkit.index.plan.EXACT_MAX_ITEMS", 100)  # 3000 items: IVF first
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 32)).astype(np.float32)  # no structure to exploit
    gallery = vector_gallery(tmp_path, vectors)
    config = IndexConfig(type="auto", params={"rerank": 1}, target_recall=0.999, recall_queries=100)
    manifest = build_index(ToyModel(dim=32), gallery, tmp_path / "i", config, progress=False)
    assert (manifest.index_type, manifest.factory, manifest.recall_at_10) == ("flat", "Flat", None)
    index = SearchIndex(tmp_path / "i")
    query = vectors[:1] / np.linalg.norm(vectors[:1])
    assert index.search_vectors(query, 1)[0][0].item.row == 0
    # exact needs 750 KB (the vectors and their packed copy); the float16 scan 3000 x 32 x 2 B
    half = dataclasses.replace(config, max_memory="200KB")
    manifest = build_index(ToyModel(dim=32), gallery, tmp_path / "h", half, progress=False)
    assert (manifest.index_type, manifest.factory) == ("flat16", "SQfp16")
    assert manifest.recall_at_10 >= 0.999 and manifest.index_bytes == 3000 * 32 * 2
    assert SearchIndex(tmp_path / "h").search_vectors(query, 1)[0][0].item.row == 0
    tight = dataclasses.replace(config, max_memory="150KB")
    with pytest.raises(ValueError, match=r"out of reach.*exact search reaches 1\.0 and needs "
                       r"750\.0 KB, the float16 scan \(flat16\) about 0\.99 or more and needs "
                       r"187\.5 KB"):  # fmt: skip
        build_index(ToyModel(dim=32), gallery, tmp_path / "j", tight, progress=False)


def test_an_index_is_streamed_to_disk_without_a_serialised_copy_and_a_full_disk_keeps_the_old_one(
    tmp_path, monkeypatch
):
    """write_faiss streams FAISS's bytes into the atomic file: the file equals FAISS's own
    serialisation, and a write that fails part-way (ENOSPC) raises DiskFullError naming the file,
    leaving the previous index whole and no temporary file."""
    import errno
    import os

    from ccrkit.index import backend
    from ccrkit.runs import DiskFullError

    index = faiss.IndexFlatIP(16)
    index.add(np.random.default_rng(0).random((3000, 16), dtype=np.float32))
    path = tmp_path / "index.faiss"
    backend.write_faiss(index, path)
    assert path.read_bytes() == bytes(faiss.serialize_index(index))
    before = path.read_bytes()

    class FillsUp:  # a file on a disk that is full after 50 kB
        def __init__(self, handle):
            self.handle, self.written = handle, 0

        def write(self, chunk: bytes) -> int:
            self.written += len(chunk)
            if self.written > 50_000:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.handle.write(chunk)

    real = backend.write_atomic_with
    monkeypatch.setattr(
        backend, "write_atomic_with",
        lambda target, write, what: real(target, lambda handle: write(FillsUp(handle)), what),
    )  # fmt: skip
    bigger = faiss.IndexFlatIP(16)
    bigger.add(np.random.default_rng(1).random((6000, 16), dtype=np.float32))
    with pytest.raises(DiskFullError, match=r"index\.faiss: no space left.*6,000 vectors"):
        backend.write_faiss(bigger, path)
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["index.faiss"]
