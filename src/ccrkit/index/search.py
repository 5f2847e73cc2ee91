"""Search an index folder: vectors in FAISS, item metadata in SQLite, pictures under the root.

`SearchIndex` knows nothing about text; `TextSearcher` pairs it with the model that built it
(checked through the manifest), so a caption-like query in any trained language finds items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import numpy as np

from ccrkit.index.backend import read_faiss
from ccrkit.index.build import PICTURE_SUFFIXES
from ccrkit.index.manifest import FAISS_FILE, ITEMS_FILE, Manifest, read_manifest
from ccrkit.index.model import (
    RetrievalModel,
    check_compatible,
    check_embeddings,
    load_retrieval_model,
)
from ccrkit.index.scan import BatchedFlatScan
from ccrkit.index.store import ItemRecord, ItemStore
from ccrkit.index.types import INDEX_TYPES, IndexType
from ccrkit.index.vectors import VectorStore, shortlist_search

MMAP_THRESHOLD_BYTES = 256 * 2**20
AUTO_LANG = ("", "auto")


@dataclass(frozen=True)
class Hit:
    item: ItemRecord
    score: float


class Query(NamedTuple):
    text: str
    lang: str | None
    k: int


class SearchIndex:
    """An index folder opened read-only; safe to search from several threads at once.

    `mmap`: map the FAISS file instead of reading it (None: only when it is over 256 MiB).
    An exact flat index is searched batch-wise (`index.scan`, bf16 or float32 by CPU, mapped or
    not): the hits of FAISS's exact scan, with equal scores ordered by row; `scan_path` says which.
    """

    def __init__(self, index_dir: str | Path, mmap: bool | None = None) -> None:
        self.dir = Path(index_dir)
        self.manifest = read_manifest(self.dir)
        faiss_path = self.dir / FAISS_FILE
        if not faiss_path.is_file():
            raise ValueError(f"{faiss_path}: not found; rebuild the index")
        if mmap is None:
            mmap = faiss_path.stat().st_size >= MMAP_THRESHOLD_BYTES
        m = self.manifest
        kind = _index_type(m, self.dir)
        # An index of compressed codes (IVF-PQ) with a store reads "more like this" vectors from
        # it (exact, no direct map of every row); other indexes reconstruct their vectors.
        self._from_store = bool(m.store) and not kind.holds_vectors
        self.faiss = read_faiss(faiss_path, mmap, m.search_params, kind,
                                direct_map=not self._from_store)  # fmt: skip
        self.items = ItemStore(self.dir / ITEMS_FILE)
        self.media_root = Path(m.media_root).resolve()
        self._check_consistent()
        self.store = VectorStore(self.dir / m.store, m.count, m.dim) if m.store else None
        usable = BatchedFlatScan.usable_for(self.faiss, mmap)
        self._scan = BatchedFlatScan(self.faiss, mmap=mmap) if usable else None
        self._search = (
            self._scan.search if self._scan else shortlist_search(self.faiss, self.store, m.rerank)
        )
        self.scan_path = self._scan.description if self._scan else "FAISS's own search"
        if m.rerank and self.store is not None and self._scan is None:
            self.scan_path += f", top {m.rerank} re-scored exactly from the mapped store"

    def __len__(self) -> int:
        return self.manifest.count

    def search_vectors(self, queries: np.ndarray, k: int) -> list[list[Hit]]:
        """Top-`k` items of every query vector (rows of `queries`), best first."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.manifest.dim)
        scores, rows = self._search(queries, min(k, len(self)))
        return [self._hits(s, r) for s, r in zip(scores, rows, strict=True)]

    def similar(self, item_id: str, k: int) -> list[Hit] | None:
        """The `k` items nearest to item `item_id` (itself excluded); None for an unknown id."""
        item = self.items.get(item_id)
        if item is None:
            return None
        if self._from_store:  # the stored vector itself, not a PQ approximation
            vector = self.store.rows(np.array([item.row]))
        else:
            vector = self.faiss.reconstruct(item.row).reshape(1, -1)
        hits = self.search_vectors(vector, k + 1)[0]
        return [hit for hit in hits if hit.item.row != item.row][:k]

    def media_files(self, item: ItemRecord) -> list[Path]:
        """The item's picture files, each checked to be a picture file inside the collection.

        Checked on every call, after resolving symlinks: a file replaced by a link out of the
        collection after the build is refused. [] when any of them fails the check.
        """
        files = [self._inside_root(relative) for relative in item.media]
        return [] if any(f is None for f in files) else files  # type: ignore[misc]

    def close(self) -> None:
        self.items.close()

    def _hits(self, scores: np.ndarray, rows: np.ndarray) -> list[Hit]:
        keep = rows >= 0  # FAISS pads with -1 when it finds fewer than k
        records = self.items.by_rows(rows[keep].tolist())
        return [Hit(r, float(s)) for r, s in zip(records, scores[keep].tolist(), strict=True)]

    def _inside_root(self, relative: str) -> Path | None:
        parts = PurePosixPath(relative)
        if parts.is_absolute() or ".." in parts.parts:
            return None
        path = (self.media_root / parts).resolve()
        if not path.is_relative_to(self.media_root) or not path.is_file():
            return None
        return path if path.suffix.lower() in PICTURE_SUFFIXES else None

    def _check_consistent(self) -> None:
        m = self.manifest
        if self.faiss.d != m.dim or self.faiss.ntotal != m.count or len(self.items) != m.count:
            raise ValueError(
                f"{self.dir}: inconsistent index (manifest: {m.count} x {m.dim}, FAISS: "
                f"{self.faiss.ntotal} x {self.faiss.d}, metadata: {len(self.items)} rows); rebuild it"
            )


def _index_type(manifest: Manifest, index_dir: Path) -> type[IndexType]:
    """The registered type of the index. A plug-in type is registered by its module, which the
    manifest names but never imports (a record does not run code): the user names it."""
    if manifest.index_type in INDEX_TYPES or not manifest.plugins:
        return INDEX_TYPES.get(manifest.index_type)  # an unknown name lists the known ones
    modules = " ".join(f"--plugin {module}" for module in manifest.plugins)
    raise ValueError(
        f"{index_dir}: index type '{manifest.index_type}' is registered by plug-in "
        f"{', '.join(manifest.plugins)}; import it: ccrkit {modules} ..."
    )


class TextSearcher:
    """Text → items with the model that built the index (refused if it is another model)."""

    def __init__(self, model: RetrievalModel, index: SearchIndex) -> None:
        check_compatible(model, index.manifest.model_id, index.manifest.dim, index.dir)
        self.model, self.index = model, index

    def search(self, texts: list[str], lang: str | None, k: int) -> list[list[Hit]]:
        return self.search_many([Query(text, lang, k) for text in texts])

    def search_many(self, queries: Sequence[Query]) -> list[list[Hit]]:
        """Queries with their own language and k: one encoder call per language, one FAISS call."""
        if not queries:
            return []
        return self.search_encoded(self.encode(queries), [q.k for q in queries])

    def encode(self, queries: Sequence[Query]) -> np.ndarray:
        """(n, dim) query vectors, one encoder call per language among `queries`."""
        vectors = np.empty((len(queries), self.model.dim), dtype=np.float32)
        for lang in dict.fromkeys(q.lang for q in queries):
            rows = [i for i, q in enumerate(queries) if q.lang == lang]
            encoded = self.model.encode_texts([queries[i].text for i in rows], lang)
            vectors[rows] = check_embeddings(encoded, len(rows), self.model.dim, "encode_texts")
        return vectors

    def search_encoded(self, vectors: np.ndarray, ks: Sequence[int]) -> list[list[Hit]]:
        """The top `ks[i]` items of each query vector, in one FAISS call."""
        hits = self.index.search_vectors(vectors, max(ks))
        return [found[:k] for found, k in zip(hits, ks, strict=True)]


def language_hint(lang: str | None, languages: list[str]) -> str | None:
    """A query's language hint, checked: None for no hint/'auto', else one of `languages`."""
    if lang is None or lang.strip().lower() in AUTO_LANG:
        return None
    code = lang.strip().lower()
    if code not in {known.lower() for known in languages}:
        choices = ", ".join(sorted(languages)) or "(none recorded)"
        raise ValueError(f"unknown language {lang!r}; the model was trained on: {choices}")
    return code


def open_searcher(
    index_dir: str | Path, checkpoint: str | Path | None = None, mmap: bool | None = None
) -> TextSearcher:
    """Open an index and load the model that built it (its manifest names the run directory)."""
    index = SearchIndex(index_dir, mmap)
    run_dir = checkpoint or index.manifest.checkpoint
    if not run_dir:
        index.close()
        raise ValueError(
            f"{index_dir}: the manifest records no checkpoint; pass --checkpoint RUN_DIR"
        )
    try:
        return TextSearcher(load_retrieval_model(run_dir), index)
    except BaseException:
        index.close()
        raise


def read_queries(path: str | Path) -> list[str]:
    """One query per line of a UTF-8 text file; blank lines are skipped."""
    path = Path(path)
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        raise ValueError(f"{path}: queries file not found") from None
    queries = []
    for number, line in enumerate(lines, 1):
        try:
            text = line.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise ValueError(f"{path}:{number}: not UTF-8 text") from None
        if text:
            queries.append(text)
    if not queries:
        raise ValueError(f"{path}: no queries (expected one per line)")
    return queries


def format_hits(
    query: str, hits: list[Hit], lang: str | None = None, threshold: float | None = None
) -> str:
    """A query and its ranked hits as aligned text lines (rank, score, id, first caption, in
    `lang` where the item has captions in it); a note when the best is under `threshold`."""
    lines = [f"query: {query}"]
    if threshold is not None and hits and hits[0].score < threshold:
        lines[0] += f"  (no good match: best score {hits[0].score:.4f} < threshold {threshold:.4f})"
    for rank, hit in enumerate(hits, 1):
        captions = hit.item.captions_in(lang)[1]
        caption = captions[0] if captions else ""
        lines.append(f"{rank:4d}  {hit.score:7.4f}  {hit.item.item_id}  {caption}".rstrip())
    return "\n".join(lines)
