"""The engine and its SQLite cache: each distinct sentence translated once, length-sorted
batches, and a crash (an exception, or a killed process) that never corrupts the cache."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ccrkit.translate import (
    Output,
    Segment,
    TranslationCache,
    TranslationError,
    cache_key,
    translate_segments,
)


class Reverser:
    """A cacheable stand-in backend: 'translates' by reversing the text; fails on batch `fail_at`."""

    name = "reverser"
    cacheable = True

    def __init__(self, batch_size: int = 2, fail_at: int | None = None) -> None:
        self.batch_size, self.fail_at = batch_size, fail_at
        self.batches: list[list[str]] = []

    def identity(self):
        return {"backend": "reverser", "src": "en", "tgt": "xx", "beams": 1}

    def prepare(self, segments):
        return []

    def load(self):
        pass

    def translate(self, segments):
        if self.fail_at is not None and len(self.batches) + 1 == self.fail_at:
            raise RuntimeError("injected crash")
        self.batches.append([s.text for s in segments])
        return [Output(s.text[::-1]) for s in segments]


TEXTS = ["a cat", "a dog runs", "a cat", "two birds sing loudly", "one", "a dog runs", "seven fish"]


def segments(texts=TEXTS) -> list[Segment]:
    return [Segment(f"item{i}#enc#0", text) for i, text in enumerate(texts)]


def test_each_distinct_sentence_is_translated_once_then_cached(tmp_path):
    with TranslationCache(tmp_path / "cache.sqlite") as cache:
        backend = Reverser()
        outputs, stats = translate_segments(segments(), backend, cache, progress=False)
        assert [o.text for o in outputs] == [t[::-1] for t in TEXTS]
        assert (stats.segments, stats.unique, stats.cached, stats.translated) == (7, 5, 0, 5)
        assert sorted(t for batch in backend.batches for t in batch) == sorted(set(TEXTS))
        again = Reverser()
        outputs2, stats2 = translate_segments(segments(), again, cache, progress=False)
        assert outputs2 == outputs and again.batches == []
        assert (stats2.cached, stats2.translated, stats2.batches) == (5, 0, 0)


def test_batches_are_sorted_longest_first():
    backend = Reverser(batch_size=2)
    translate_segments(segments(), backend, None, progress=False)
    assert backend.batches == [
        ["two birds sing loudly", "a dog runs"],
        ["seven fish", "a cat"],
        ["one"],
    ]


def test_a_crash_keeps_finished_batches_and_the_next_run_resumes(tmp_path):
    path = tmp_path / "cache.sqlite"
    with TranslationCache(path) as cache, pytest.raises(RuntimeError, match="injected"):
        translate_segments(segments(), Reverser(batch_size=2, fail_at=3), cache, progress=False)
    with TranslationCache(path) as cache:
        assert cache.integrity_ok()
        key = cache_key(Reverser().identity())
        assert cache.count(key) == 4  # two whole batches, nothing of the third
        resumed = Reverser(batch_size=2)
        outputs, stats = translate_segments(segments(), resumed, cache, progress=False)
    assert resumed.batches == [["one"]] and (stats.cached, stats.translated) == (4, 1)
    assert [o.text for o in outputs] == [t[::-1] for t in TEXTS]


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from ccrkit.translate.backend import Output
    from ccrkit.translate.cache import TranslationCache
    cache = TranslationCache(sys.argv[1])
    print("ready", flush=True)
    batch = 0
    while True:  # 50 rows per transaction, until killed
        rows = [(f"sentence {batch} {i} " + "x" * 2000, Output("y" * 2000)) for i in range(50)]
        cache.put_many("k", rows)
        batch += 1
    """
)


def test_a_killed_process_leaves_whole_batches_only(tmp_path):
    path = tmp_path / "cache.sqlite"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        with TranslationCache(path) as probe:
            while probe.count("k") < 200 and time.monotonic() < deadline:
                time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    with TranslationCache(path) as cache:
        assert cache.integrity_ok()
        rows = cache.count("k")
    assert rows >= 200 and rows % 50 == 0


def test_cache_key_covers_the_settings_not_their_order():
    base = {"backend": "hf", "model": "m", "src": "en", "tgt": "de", "beams": 1}
    assert cache_key(base) == cache_key(dict(reversed(list(base.items()))))
    assert cache_key(base) != cache_key(base | {"beams": 4})
    assert cache_key(base) != cache_key(base | {"tgt": "fr"})


def test_settings_are_recorded_readably(tmp_path):
    with TranslationCache(tmp_path / "c.sqlite") as cache:
        translate_segments(segments(), Reverser(), cache, progress=False)
        assert list(cache.settings().values()) == [Reverser().identity()]


def test_a_file_that_is_not_a_cache_is_refused(tmp_path):
    bad = tmp_path / "cache.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ValueError, match=r"cache.sqlite: not a usable translation cache"):
        TranslationCache(bad)


def test_an_empty_caption_is_refused_by_id():
    with pytest.raises(TranslationError, match=r"caption 'item1#enc#0' is empty"):
        translate_segments(segments(["a cat", " \u00a0"]), Reverser(), None, progress=False)


def test_a_backend_returning_too_few_outputs_is_caught():
    class Short(Reverser):
        def translate(self, segments):
            return super().translate(segments)[:-1]

    with pytest.raises(TranslationError, match="returned 1 outputs for 2 inputs"):
        translate_segments(segments(["a", "bb"]), Short(), None, progress=False)
