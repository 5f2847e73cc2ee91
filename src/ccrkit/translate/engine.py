"""Translate many segments with any backend: cache lookups, deduplication, length-sorted batches,
one cache transaction per batch, a progress bar with sentences/s.

For a cacheable backend every distinct source text is translated once, ever: texts already in the
cache are not sent again, so a killed run continues where it stopped, and repeated captions cost
one translation. Other backends (`file`) get every segment, in order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from tqdm import tqdm

from ccrkit.translate.backend import Backend, Output, Segment, TranslationError
from ccrkit.translate.cache import TranslationCache, cache_key

T = TypeVar("T")


@dataclass
class EngineStats:
    """What one call of `translate_segments` did."""

    segments: int = 0
    unique: int = 0  # distinct source texts (= segments for backends that are not cacheable)
    cached: int = 0  # distinct texts found in the cache
    translated: int = 0  # texts sent to the backend
    batches: int = 0
    seconds: float = 0.0  # time spent translating (inside the backend's `translate`)
    load_seconds: float = 0.0  # time spent loading the backend (its model)
    warnings: list[str] = field(default_factory=list)

    @property
    def sentences_per_s(self) -> float | None:
        return self.translated / self.seconds if self.translated and self.seconds > 0 else None


def translate_segments(
    segments: Sequence[Segment],
    backend: Backend,
    cache: TranslationCache | None = None,
    progress: bool = True,
    desc: str = "translate",
) -> tuple[list[Output], EngineStats]:
    """One output per segment, in order; cached where possible, the rest from the backend."""
    _check_segments(segments)
    stats = EngineStats(segments=len(segments))
    stats.warnings += backend.prepare(segments)
    if not backend.cacheable:
        stats.unique = len(segments)
        outputs = _run_batches(list(segments), backend, stats, progress, desc, None, None)
        return outputs, stats
    first: dict[str, Segment] = {}
    for segment in segments:
        first.setdefault(segment.text, segment)
    key = cache.register(backend.identity()) if cache is not None else None
    known = cache.get_many(key, first) if cache is not None and key is not None else {}
    stats.unique, stats.cached = len(first), len(known)
    pending = sorted((s for t, s in first.items() if t not in known), key=lambda s: -len(s.text))
    fresh = _run_batches(pending, backend, stats, progress, desc, cache, key)
    known.update((segment.text, out) for segment, out in zip(pending, fresh, strict=True))
    return [known[segment.text] for segment in segments], stats


def cached_count(
    segments: Sequence[Segment], backend: Backend, cache: TranslationCache | None
) -> tuple[int, int]:
    """(distinct texts, of which cached): what a run would find, without translating anything."""
    texts = {segment.text for segment in segments}
    if not backend.cacheable or cache is None:
        return len(texts) if backend.cacheable else len(segments), 0
    return len(texts), len(cache.get_many(cache_key(backend.identity()), texts))


def cached_outputs(
    segments: Sequence[Segment], backend: Backend, cache: TranslationCache | None
) -> dict[str, Output]:
    """source text -> cached output, for the texts of `segments` that have one."""
    if not backend.cacheable or cache is None:
        return {}
    return cache.get_many(cache_key(backend.identity()), (s.text for s in segments))


def _run_batches(
    pending: list[Segment],
    backend: Backend,
    stats: EngineStats,
    progress: bool,
    desc: str,
    cache: TranslationCache | None,
    key: str | None,
) -> list[Output]:
    outputs: list[Output] = []
    if pending:
        started = time.perf_counter()
        backend.load()
        stats.load_seconds += time.perf_counter() - started
    with tqdm(
        total=len(pending), desc=desc, unit="sent", disable=not progress or not pending
    ) as bar:
        for batch in _chunks(pending, backend.batch_size):
            started = time.perf_counter()
            fresh = backend.translate(batch)
            stats.seconds += time.perf_counter() - started
            if len(fresh) != len(batch):
                raise TranslationError(
                    f"backend '{backend.name}' returned {len(fresh)} outputs for {len(batch)} inputs"
                )
            if cache is not None and key is not None:
                cache.put_many(key, zip((s.text for s in batch), fresh, strict=True))
            outputs += fresh
            stats.translated += len(batch)
            stats.batches += 1
            bar.update(len(batch))
    return outputs


def _check_segments(segments: Sequence[Segment]) -> None:
    for segment in segments:
        if not segment.text.strip():
            raise TranslationError(
                f"caption '{segment.id}' is empty; there is nothing to translate"
            )


def _chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), max(1, size)):
        yield items[start : start + size]
