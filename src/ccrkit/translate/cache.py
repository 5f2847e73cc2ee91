"""An on-disk translation cache (SQLite): a sentence is translated once per settings, ever.

Rows are keyed by a hash of the backend's identity (backend, model, languages, decoding
settings) and the exact source text. Each batch is stored in one transaction, so a run killed at
any moment leaves every finished batch in the cache and no half-written one; a new run asks for
what is missing and continues from there. WAL journaling lets a `--dry-run` read while a run
writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ccrkit.runs import DiskFullError, is_disk_full, now_iso
from ccrkit.translate.backend import Output

CACHE_FILE = "translations.sqlite"
_LOOKUP_CHUNK = 500  # well under SQLite's limit on bound parameters
_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY, identity TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS translations (
    key TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL,
    truncated INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (key, source)) WITHOUT ROWID;
"""


def default_cache_path() -> Path:
    """`$CCRKIT_CACHE_DIR/translations.sqlite`, else `~/.cache/ccrkit/translations.sqlite`."""
    folder = os.environ.get("CCRKIT_CACHE_DIR")
    base = Path(folder) if folder else Path.home() / ".cache" / "ccrkit"
    return base / CACHE_FILE


def cache_key(identity: Mapping[str, Any]) -> str:
    """A stable hash of a backend identity (key order does not matter)."""
    text = json.dumps(identity, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class TranslationCache:
    """Cached translations of one SQLite file; use as a context manager or call `close()`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=60)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as err:
            raise ValueError(
                f"{self.path}: not a usable translation cache ({err}); "
                "move it away or pass another --cache file"
            ) from None

    def register(self, identity: Mapping[str, Any]) -> str:
        """The key of `identity`, recorded (once) with its readable settings."""
        key = cache_key(identity)
        with self._writing(), self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO settings VALUES (?, ?, ?)",
                (key, json.dumps(identity, sort_keys=True, default=str), now_iso()),
            )
        return key

    def get_many(self, key: str, sources: Iterable[str]) -> dict[str, Output]:
        """Cached outputs of those `sources` that have one."""
        found: dict[str, Output] = {}
        for chunk in _chunks(list(dict.fromkeys(sources)), _LOOKUP_CHUNK):
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                "SELECT source, target, truncated FROM translations "
                f"WHERE key = ? AND source IN ({marks})",
                (key, *chunk),
            )
            found.update((src, Output(tgt, bool(cut))) for src, tgt, cut in rows)
        return found

    def put_many(self, key: str, pairs: Iterable[tuple[str, Output]]) -> int:
        """Store one batch atomically (all rows or none); outputs without text are not stored."""
        rows = [
            (key, src, out.text, int(out.truncated)) for src, out in pairs if out.text is not None
        ]
        with self._writing(), self._db:
            self._db.executemany("INSERT OR REPLACE INTO translations VALUES (?, ?, ?, ?)", rows)
        return len(rows)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """SQLite's "database or disk is full" as a `DiskFullError` (the transaction is rolled
        back: the cache keeps every batch stored before)."""
        try:
            yield
        except sqlite3.OperationalError as err:
            if not is_disk_full(err):
                raise
            outcome = "the cache keeps every batch stored before this one"
            raise DiskFullError(self.path, "while storing translations", outcome) from err

    def rows(self, key: str) -> Iterator[tuple[str, Output]]:
        """Every cached (source, output) of `key` (to merge one cache into another)."""
        found = self._db.execute(
            "SELECT source, target, truncated FROM translations WHERE key = ?", (key,)
        )
        for source, target, cut in found:
            yield source, Output(target, bool(cut))

    def count(self, key: str | None = None) -> int:
        query, args = "SELECT COUNT(*) FROM translations", ()
        if key is not None:
            query, args = query + " WHERE key = ?", (key,)
        return int(self._db.execute(query, args).fetchone()[0])

    def settings(self) -> dict[str, dict[str, Any]]:
        """key -> identity of every settings combination in the cache."""
        rows = self._db.execute("SELECT key, identity FROM settings")
        return {key: json.loads(identity) for key, identity in rows}

    def integrity_ok(self) -> bool:
        return self._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> TranslationCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
