"""What the HTTP routes do, without HTTP: check a request's inputs, search, describe hits.

Every user mistake becomes a `RequestError` with a status and a message (never a 500). Queries
go through a two-stage pipeline of micro-batchers: one thread runs the text encoder over every
query waiting, another runs FAISS over every vector waiting. Both libraries release the GIL, so
the encoder of one batch and the index search of the previous one run on two cores at once.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from ccrkit.index.backend import one_faiss_thread
from ccrkit.index.build import MAX_ID_LENGTH
from ccrkit.index.search import Hit, Query, TextSearcher, language_hint
from ccrkit.serve.batching import MicroBatcher
from ccrkit.serve.language import Detected, detect
from ccrkit.serve.media import PreviewCache, media_type


@dataclass
class ServeSettings:
    """Limits and knobs of the server (`ccrkit serve` flags map onto these)."""

    token: str | None = None
    default_k: int = 20
    max_k: int = 100
    max_query_chars: int = 1000
    max_query_bytes: int = 16384
    max_batch: int = 32
    max_wait_ms: float = 0.0
    mmap: bool | None = None
    preview_cache: int = 256

    def __post_init__(self) -> None:
        if not 1 <= self.default_k <= self.max_k:
            raise ValueError(f"need 1 <= default_k ({self.default_k}) <= max_k ({self.max_k})")
        if self.max_query_chars < 1 or self.max_batch < 1 or self.max_wait_ms < 0:
            raise ValueError("max_query_chars and max_batch must be >= 1, max_wait_ms >= 0")
        if self.token is not None and not self.token.strip():
            raise ValueError("the API token must not be empty")


class RequestError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SearchService:
    def __init__(self, searcher: TextSearcher, settings: ServeSettings) -> None:
        self.searcher, self.settings = searcher, settings
        self.index = searcher.index
        wait_s = settings.max_wait_ms / 1000
        self.encoder: MicroBatcher[Query, np.ndarray] = MicroBatcher(
            lambda queries: list(searcher.encode(queries)), settings.max_batch, wait_s, "encoder"
        )
        self.finder: MicroBatcher[tuple[np.ndarray, int], list[Hit]] = MicroBatcher(
            self._find, settings.max_batch, 0.0, "index-search", one_faiss_thread
        )
        self.previews = PreviewCache(settings.preview_cache)

    def query(self, q: str | None, k: int | None, lang: str | None) -> Query:
        text = (q or "").strip()
        if not text:
            raise RequestError(400, "empty query: give some words in q=")
        if len(text) > self.settings.max_query_chars:
            raise RequestError(
                413,
                f"query too long ({len(text)} characters; at most {self.settings.max_query_chars})",
            )
        try:
            hint = language_hint(lang, self.searcher.model.languages)
        except ValueError as err:
            raise RequestError(400, str(err)) from None
        return Query(text, hint, self.check_k(k))

    def submit(self, query: Query) -> Future[list[Hit]]:
        """Encode `query` (batched with others), then search the index (batched with others)."""
        done: Future[list[Hit]] = Future()

        def encoded(vector: Future[np.ndarray]) -> None:
            if done.done():  # cancelled: the client went away
                return
            if vector.exception() is not None:
                done.set_exception(vector.exception())  # type: ignore[arg-type]
                return
            _forward(self.finder.submit((vector.result(), query.k)), done)

        self.encoder.submit(query).add_done_callback(encoded)
        return done

    def answer(self, query: Query, hits: list[Hit]) -> dict[str, Any]:
        """The /api/search reply: the hits, with captions in the query's language where the
        collection has them; `good_match`: whether the best hit reaches the index's calibrated
        threshold (None: not calibrated); `foreign_lang`: the query's language is clearly not
        one the model was trained on (detected when the query gives none); `model_langs`: the
        languages it was trained on, so the page's note needs no other request."""
        manifest = self.index.manifest
        if query.lang is None:
            found = detect(query.text, self.searcher.model.languages, manifest.caption_langs)
        else:
            found = Detected(query.lang, False)
        threshold = manifest.score_threshold
        good = None if threshold is None or not hits else hits[0].score >= threshold
        return {"query": query.text, "lang": query.lang, "k": query.k,
                "detected_lang": found.lang, "foreign_lang": found.foreign,
                "model_langs": sorted(self.searcher.model.languages),
                "threshold": threshold, "good_match": good,
                "results": [hit_json(hit, found.lang) for hit in hits]}  # fmt: skip

    def _find(self, items: list[tuple[np.ndarray, int]]) -> list[list[Hit]]:
        return self.searcher.search_encoded(np.stack([v for v, _ in items]), [k for _, k in items])

    def check_k(self, k: int | None) -> int:
        if k is None:
            return self.settings.default_k
        if not 1 <= k <= self.settings.max_k:
            raise RequestError(400, f"k must be between 1 and {self.settings.max_k}, got {k}")
        return k

    def similar(self, item_id: str | None, k: int | None) -> list[Hit]:
        count = self.check_k(k)
        if not item_id or len(item_id) > MAX_ID_LENGTH:
            raise RequestError(400, "give the id of an item in id=")
        hits = self.index.similar(item_id, count)
        if hits is None:
            raise RequestError(404, f"no item with id {item_id[:80]!r}")
        return hits

    def media(self, item_id: str) -> tuple[Path | bytes, str]:
        """The picture of an item: (file, type) for an image, (GIF bytes, type) for a video."""
        item = self.index.items.get(item_id) if len(item_id) <= MAX_ID_LENGTH else None
        files = self.index.media_files(item) if item is not None else []
        if not files:
            raise RequestError(404, "no picture for this item")
        if len(files) == 1:
            return files[0], media_type(files[0])
        try:
            return self.previews.get(item_id, files), "image/gif"
        except OSError:  # Pillow: unreadable or truncated frame files
            raise RequestError(404, "the frames of this item cannot be read") from None

    def info(self) -> dict[str, Any]:
        m, s = self.index.manifest, self.settings
        return {
            "model": m.model_id, "dim": m.dim, "languages": sorted(self.searcher.model.languages),
            "items": m.count,
            "index": {"type": m.index_type, "factory": m.factory, "recall_at_10": m.recall_at_10,
                      "built": m.built, "data": m.data, "split": m.split,
                      "search": self.index.scan_path},
            "limits": {"default_k": s.default_k, "max_k": s.max_k,
                       "max_query_chars": s.max_query_chars},
            "score_threshold": m.score_threshold, "calibration": m.calibration,
            "caption_langs": m.caption_langs,
        }  # fmt: skip

    def close(self) -> None:
        self.encoder.close()
        self.finder.close()
        self.index.close()


def _forward(source: Future, target: Future) -> None:
    def copy(finished: Future) -> None:
        if target.done():  # cancelled: the client went away
            return
        error = finished.exception()
        if error is not None:
            target.set_exception(error)
        else:
            target.set_result(finished.result())

    source.add_done_callback(copy)


def hit_json(hit: Hit, lang: str | None = None) -> dict[str, Any]:
    """A hit as JSON; captions in `lang` when the item has some (`caption_lang` says which)."""
    item = hit.item
    url = f"/media/{quote(item.item_id, safe='')}" if item.media else None
    caption_lang, captions = item.captions_in(lang)
    return {"id": item.item_id, "score": round(hit.score, 5), "media_url": url,
            "kind": item.kind, "captions": list(captions), "caption_lang": caption_lang}  # fmt: skip
