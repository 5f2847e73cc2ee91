"""Index build and search with the toy model: retrieval, manifest, atomic writes, bad input."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ccrkit.index import (
    IndexConfig,
    IndexMismatchError,
    SearchIndex,
    TextSearcher,
    build_index,
    language_hint,
    read_manifest,
)
from ccrkit.index.toy import ToyGallery, ToyModel, bag_vector, make_toy_gallery


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("index")
    model, gallery = ToyModel(), make_toy_gallery(root / "collection", videos=1)
    manifest = build_index(model, gallery, root / "index", IndexConfig(batch_size=5),
                           checkpoint="runs/toy", data="toy", split="test", progress=False)  # fmt: skip
    return model, gallery, root / "index", manifest


def test_manifest_and_files(built):
    _model, gallery, index_dir, manifest = built
    assert {p.name for p in index_dir.iterdir()} == {
        "index.faiss", "items.sqlite", "manifest.json", "vectors.npy"
    }  # fmt: skip
    saved = json.loads((index_dir / "manifest.json").read_text())
    assert saved["model_id"] == "toy-bag-of-concepts" and saved["dim"] == 64
    assert saved["count"] == 24 and saved["index_type"] == "flat" and saved["factory"] == "Flat"
    assert saved["checkpoint"] == "runs/toy" and saved["data"] == "toy" and saved["split"] == "test"
    assert saved["languages"] == ["de", "en", "fr", "ja", "zh"] and saved["recall_at_10"] is None
    assert saved["media_root"] == str(gallery.root.resolve()) and saved["built"]
    assert saved["store"] == "vectors.npy" and saved["rerank"] == 0
    assert saved["index_bytes"] == 24 * 64 * 4
    stored = np.load(index_dir / "vectors.npy")  # float16, gallery order, unit rows
    assert stored.dtype == np.float16 and stored.shape == (24, 64)
    unit = gallery.features / np.linalg.norm(gallery.features, axis=1, keepdims=True)
    np.testing.assert_allclose(stored, unit, atol=1e-3)
    assert read_manifest(index_dir) == manifest


def test_item_metadata_rows_follow_gallery_order(built):
    _, gallery, index_dir, _ = built
    with sqlite3.connect(index_dir / "items.sqlite") as db:
        rows = db.execute("SELECT row, item_id, media, captions FROM items ORDER BY row").fetchall()
    assert [r[1] for r in rows] == gallery.item_ids and [r[0] for r in rows] == list(range(24))
    assert json.loads(rows[0][2]) == [f"red-star/frame{i:02d}.png" for i in range(4)]  # a video
    assert json.loads(rows[1][2]) == ["red-square.png"]
    assert json.loads(rows[1][3]) == ["a red square"]


def test_every_caption_retrieves_its_item(built):
    model, gallery, index_dir, _ = built
    searcher = TextSearcher(model, SearchIndex(index_dir))
    captions = [gallery.captions(i)[0] for i in gallery.item_ids]
    tops = [hits[0].item.item_id for hits in searcher.search(captions, "en", 3)]
    assert tops == gallery.item_ids
    german = searcher.search(["ein gelbes Dreieck", "ein lila Kreis"], "de", 1)
    assert [h[0].item.item_id for h in german] == ["yellow-triangle", "purple-circle"]


def test_scores_are_inner_products_best_first(built):
    _model, gallery, index_dir, _ = built
    index = SearchIndex(index_dir)
    query = bag_vector("a green star", 64)
    hits = index.search_vectors(query[None], 24)[0]
    expected = sorted((float(query @ gallery.features[i]) for i in range(24)), reverse=True)
    np.testing.assert_allclose([h.score for h in hits], expected, atol=1e-6)
    assert index.search_vectors(query[None], 500)[0][-1].item.row in range(24)  # k > n: n hits


def test_mmap_loading_gives_the_same_results(built):
    _, gallery, index_dir, _ = built
    queries = np.stack([bag_vector(t, 64) for t in ("a red star", "blue", "a circle")])
    plain = SearchIndex(index_dir, mmap=False).search_vectors(queries, 5)
    mapped = SearchIndex(index_dir, mmap=True).search_vectors(queries, 5)
    # The toy's scores tie; FAISS (mapped) and the batched scan (in memory) may pick and order
    # equal-scored items differently, so compare the scores rank by rank, and each hit's score.
    assert [[h.score for h in hits] for hits in plain] == [
        [h.score for h in hits] for hits in mapped
    ]
    for found in (plain, mapped):
        for query, hits in zip(queries, found, strict=True):
            inner = [float(query @ gallery.features[h.item.row]) for h in hits]
            np.testing.assert_allclose([h.score for h in hits], inner, atol=1e-6)


def test_similar_and_media_files(built):
    _, gallery, index_dir, _ = built
    index = SearchIndex(index_dir)
    similar = index.similar("blue-square", 5)
    assert "blue-square" not in [h.item.item_id for h in similar] and len(similar) == 5
    assert index.similar("no-such-item", 5) is None
    frames = index.media_files(index.items.get("red-star"))
    assert frames == [gallery.root.resolve() / f"red-star/frame{i:02d}.png" for i in range(4)]


def test_approximate_indexes_report_recall_against_exact(tmp_path):
    rng = np.random.default_rng(0)
    features = rng.standard_normal((1500, 32)).astype(np.float32)
    gallery = _vector_gallery(tmp_path, features)
    model = ToyModel(dim=32)
    for name, config in {
        "flat16": IndexConfig(type="flat16", recall_queries=300),
        "hnsw": IndexConfig(
            type="hnsw", params={"hnsw_m": 16, "ef_search": 64}, recall_queries=300
        ),
        "ivfpq": IndexConfig(
            type="ivfpq", params={"pq_m": 8, "pq_bits": 4, "nprobe": 8}, recall_queries=300
        ),
    }.items():
        manifest = build_index(model, gallery, tmp_path / name, config, progress=False)
        assert 0.0 < manifest.recall_at_10 <= 1.0
        assert manifest.factory == {"flat16": "SQfp16", "hnsw": "HNSW16,Flat",
                                    "ivfpq": "IVF38,PQ8x4fs"}[name]  # fmt: skip
        # The recorded recall is the one a fresh check measures on the same sampled items: the
        # share of each one's 10 nearest other items (exact, over the stored vectors) found.
        stored = np.load(tmp_path / name / "vectors.npy").astype(np.float32)
        sample = np.sort(np.random.default_rng(0).choice(1500, 300, replace=False))
        order = np.argsort(-(stored[sample] @ stored.T), axis=1, kind="stable")
        index = SearchIndex(tmp_path / name)
        found = [[h.item.row for h in hits] for hits in index.search_vectors(stored[sample], 11)]
        others = [
            ([r for r in truth if r != me][:10], [r for r in hits if r != me][:10])
            for me, truth, hits in zip(sample.tolist(), order[:, :11].tolist(), found, strict=True)
        ]
        measured = np.mean([len(set(t) & set(f)) / 10 for t, f in others])
        assert manifest.recall_at_10 == pytest.approx(measured, abs=0.01)
        mapped = SearchIndex(tmp_path / name, mmap=True)  # "more like this" needs stored vectors
        similar = [h.item.item_id for h in mapped.similar("item7", 5)]
        assert len(similar) == 5 and "item7" not in similar
    assert read_manifest(tmp_path / "flat16").recall_at_10 >= 0.99
    assert read_manifest(tmp_path / "hnsw").recall_at_10 > 0.9
    ivfpq = read_manifest(tmp_path / "ivfpq")
    assert ivfpq.search_params == {"nprobe": 8} and ivfpq.rerank == 100
    plain = IndexConfig(
        type="ivfpq", params={"pq_m": 8, "pq_bits": 4, "nprobe": 8, "rerank": 0}, recall_queries=300
    )
    unranked = build_index(model, gallery, tmp_path / "plain", plain, progress=False)
    assert unranked.rerank == 0
    assert ivfpq.recall_at_10 > unranked.recall_at_10 + 0.1  # 4-bit codes alone rank poorly


def test_ivfpq_on_a_tiny_gallery_is_refused_clearly(tmp_path):
    gallery = _vector_gallery(tmp_path, np.eye(24, 32, dtype=np.float32))
    with pytest.raises(ValueError, match=r"needs at least 9984 items to train.*use type=flat"):
        build_index(
            ToyModel(dim=32), gallery, tmp_path / "i", IndexConfig(type="ivfpq", params={"pq_m": 8})
        )


def test_existing_index_is_kept_unless_forced(built, tmp_path):
    model, gallery, _, _ = built
    out = tmp_path / "index"
    build_index(model, gallery, out, progress=False)
    with pytest.raises(FileExistsError, match="already exists; pass --force"):
        build_index(model, gallery, out, progress=False)
    first = read_manifest(out).built
    rebuilt = build_index(model, gallery, out, IndexConfig(type="hnsw"), force=True, progress=False)
    assert rebuilt.index_type == "hnsw" and read_manifest(out).index_type == "hnsw" and first
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a ccrkit index"):
        build_index(model, gallery, tmp_path / "notes", force=True, progress=False)
    assert (tmp_path / "notes" / "todo.txt").read_text() == "mine"


def test_a_crash_mid_build_leaves_the_previous_index_usable(built, tmp_path):
    model, gallery, _, _ = built
    out = tmp_path / "index"
    build_index(model, gallery, out, progress=False)
    before = SearchIndex(out).search_vectors(bag_vector("a red star", 64)[None], 3)

    class Crashing(ToyGallery):
        def visual_batches(self, batch_size):
            yield next(super().visual_batches(batch_size))
            raise RuntimeError("disk unplugged")

    crashing = Crashing(
        gallery.root, gallery.item_ids, gallery.features, gallery.media, gallery.texts
    )
    with pytest.raises(RuntimeError, match="disk unplugged"):
        build_index(model, crashing, out, force=True, progress=False)
    assert SearchIndex(out).search_vectors(bag_vector("a red star", 64)[None], 3) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]  # no staging folder left


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda g: g.item_ids.append(g.item_ids[0]), "duplicate item id 'red-star'"),
        (lambda g: g.item_ids.clear(), "the gallery is empty"),
        (lambda g: g.item_ids.insert(3, ""), "item #3: id must be a non-empty string"),
        (
            lambda g: g.media.update({"red-star": [g.root / "missing.png"]}),
            "'red-star': picture .* not found",
        ),
        (lambda g: g.media.update({"red-star": [g.root / "notes.txt"]}), "is not a picture"),
    ],
)
def test_bad_galleries_are_refused_with_the_item_named(tmp_path, change, message):
    gallery = make_toy_gallery(tmp_path / "collection")
    (gallery.root / "notes.txt").write_text("not a picture")
    change(gallery)
    with pytest.raises(ValueError, match=message):
        build_index(ToyModel(), gallery, tmp_path / "index", progress=False)
    assert not (tmp_path / "index").exists()


def test_a_model_returning_the_wrong_shape_is_named(tmp_path):
    class Broken(ToyModel):
        def encode_visual(self, batch):
            return np.zeros((len(batch), 3), dtype=np.float32)

    gallery = make_toy_gallery(tmp_path / "collection")
    with pytest.raises(ValueError, match=r"encode_visual of items 0..9: expected .*\(10, 64\)"):
        build_index(
            Broken(), gallery, tmp_path / "index", IndexConfig(batch_size=10), progress=False
        )


def test_a_gallery_yielding_too_few_items_is_refused(tmp_path):
    gallery = make_toy_gallery(tmp_path / "collection")
    gallery.features = gallery.features[:20]
    with pytest.raises(ValueError, match="yielded 20 items, its item_ids list 24"):
        build_index(ToyModel(), gallery, tmp_path / "index", progress=False)


def test_searching_with_another_model_is_refused(built):
    _, _, index_dir, _ = built
    index = SearchIndex(index_dir)
    with pytest.raises(IndexMismatchError, match=r"64-d vectors but model .* encodes 16-d"):
        TextSearcher(ToyModel(dim=16), index)
    with pytest.raises(IndexMismatchError, match="built by model 'toy-bag-of-concepts', not by"):
        TextSearcher(replace(ToyModel(), model_id="run-7"), index)


def test_broken_index_folders_are_named(built, tmp_path):
    _, _, index_dir, _ = built
    with pytest.raises(ValueError, match="index folder not found"):
        SearchIndex(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"manifest\.json: not found"):
        SearchIndex(tmp_path / "empty")
    import shutil

    shutil.copytree(index_dir, tmp_path / "copy")
    manifest = json.loads((tmp_path / "copy" / "manifest.json").read_text())
    (tmp_path / "copy" / "manifest.json").write_text(json.dumps({**manifest, "count": 25}))
    with pytest.raises(ValueError, match="inconsistent index"):
        SearchIndex(tmp_path / "copy")
    (tmp_path / "copy" / "index.faiss").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable FAISS index"):
        SearchIndex(tmp_path / "copy")


def test_language_hint():
    assert language_hint(None, ["en", "de"]) is None
    assert language_hint(" Auto ", ["en", "de"]) is None
    assert language_hint("DE", ["en", "de"]) == "de"
    with pytest.raises(ValueError, match="unknown language 'xx'; the model was trained on: de, en"):
        language_hint("xx", ["en", "de"])


def _vector_gallery(tmp_path, features: np.ndarray) -> ToyGallery:
    picture = tmp_path / "p.png"
    from PIL import Image

    Image.new("RGB", (4, 4)).save(picture)
    ids = [f"item{i}" for i in range(len(features))]
    return ToyGallery(
        tmp_path, ids, features, {key: [picture] for key in ids}, {i: [] for i in ids}
    )


@pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads resident memory from /proc"
)
def test_mmap_maps_the_vectors_instead_of_reading_them(tmp_path):
    features = np.random.default_rng(0).standard_normal((40_000, 256), dtype=np.float32)
    ids = [f"v{i}" for i in range(len(features))]
    gallery = ToyGallery(tmp_path, ids, features, {i: [] for i in ids}, {i: [] for i in ids})
    build_index(ToyModel(dim=256), gallery, tmp_path / "index", IndexConfig(batch_size=4096),
                progress=False)  # fmt: skip
    size_mb = (tmp_path / "index" / "index.faiss").stat().st_size / 2**20  # ~39 MiB

    def growth_mb(mmap: bool) -> float:
        """In a fresh process: this one may keep freed memory (ccrkit.allocator) to refill."""
        probe = (
            "import sys; from ccrkit.index import SearchIndex\n"
            "def rss(): return int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])\n"
            f"before = rss(); index = SearchIndex(sys.argv[1], mmap={mmap}); print(rss() - before)"
        )
        out = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "index")],
                             capture_output=True, text=True, check=True)  # fmt: skip
        return int(out.stdout) / 1024

    assert growth_mb(mmap=False) > 0.8 * size_mb
    assert growth_mb(mmap=True) < 0.2 * size_mb


def test_an_index_moved_aside_by_an_interrupted_replacement_is_named(built, tmp_path):
    """A kill between the two renames of a replacement leaves no index at its place; opening it
    names where the previous one is, and the next build clears it."""
    import shutil

    out = tmp_path / "index"
    shutil.copytree(built[2], tmp_path / ".index.old-1a2b3c4d")
    with pytest.raises(
        ValueError, match=r"index folder not found; an interrupted .*\.index\.old-1a2b3c4d"
    ):
        SearchIndex(out)
    build_index(ToyModel(), make_toy_gallery(tmp_path / "collection"), out, progress=False)
    build_index(ToyModel(), make_toy_gallery(tmp_path / "collection"), out, force=True,
                progress=False)  # fmt: skip
    assert not list(tmp_path.glob(".index.*"))
