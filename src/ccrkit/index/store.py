"""Item metadata beside the vectors: one SQLite row per index row (id, pictures, captions).

Row numbers equal FAISS row numbers, so a search hit is one primary-key lookup. Media paths are
stored relative to the collection root; the server resolves and checks them on every request.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA = """
CREATE TABLE items (
    row INTEGER PRIMARY KEY,
    item_id TEXT NOT NULL UNIQUE,
    media TEXT NOT NULL,      -- JSON list of root-relative POSIX paths: [], [picture] or frames
    captions TEXT NOT NULL,   -- JSON list of strings (English where the collection has it)
    lang_captions TEXT NOT NULL DEFAULT '{}'  -- JSON {language: [strings]}, shown per query
);
"""


@dataclass(frozen=True)
class ItemRecord:
    row: int
    item_id: str
    media: tuple[str, ...]
    captions: tuple[str, ...]
    lang_captions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def captions_in(self, lang: str | None) -> tuple[str | None, tuple[str, ...]]:
        """(language, captions) to show for a query in `lang`: that language's captions when the
        collection has them, else the default ones (language None)."""
        if lang and self.lang_captions.get(lang):
            return lang, tuple(self.lang_captions[lang])
        return None, self.captions

    @property
    def kind(self) -> str:
        """'image' (one picture), 'video' (several frames) or 'none' (nothing to show)."""
        return {0: "none", 1: "image"}.get(len(self.media), "video")


def write_items(path: Path, items: Iterable[ItemRecord]) -> int:
    """Create the metadata database at `path` (a new file) and return the number of rows."""
    with sqlite3.connect(path) as connection:
        connection.executescript(SCHEMA)
        rows = (
            (item.row, item.item_id, json.dumps(item.media), json.dumps(item.captions),
             json.dumps(dict(item.lang_captions), ensure_ascii=False))
            for item in items
        )  # fmt: skip
        connection.executemany(
            "INSERT INTO items (row, item_id, media, captions, lang_captions) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        (count,) = connection.execute("SELECT COUNT(*) FROM items").fetchone()
    connection.close()
    return int(count)


class ItemStore:
    """Read-only access to an index's item metadata, shareable between server threads."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise ValueError(f"{path}: item metadata not found; rebuild the index")
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                   check_same_thread=False)  # fmt: skip
        try:
            self._count = int(self._query("SELECT COUNT(*) FROM items")[0][0])
        except sqlite3.DatabaseError as err:
            self._db.close()
            raise ValueError(f"{path}: not an item metadata database ({err})") from None

    def __len__(self) -> int:
        return self._count

    def by_rows(self, rows: Sequence[int]) -> list[ItemRecord]:
        """Records of `rows`, in that order (rows must exist)."""
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        found = self._query(f"SELECT * FROM items WHERE row IN ({marks})", [int(r) for r in rows])
        by_row = {record.row: record for record in map(_record, found)}
        return [by_row[int(row)] for row in rows]

    def get(self, item_id: str) -> ItemRecord | None:
        found = self._query("SELECT * FROM items WHERE item_id = ?", [item_id])
        return _record(found[0]) if found else None

    def close(self) -> None:
        self._db.close()

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()


def _record(row: tuple) -> ItemRecord:
    position, item_id, media, captions, *more = row  # indexes built before lang_captions: 4
    by_lang = {lang: tuple(texts) for lang, texts in json.loads(more[0]).items()} if more else {}
    return ItemRecord(int(position), item_id, tuple(json.loads(media)),
                      tuple(json.loads(captions)), by_lang)  # fmt: skip
