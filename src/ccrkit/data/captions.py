"""Caption files: the NRCCR text layout (`<item>#<tag>#<n> <text>` per line) and CCLM/CCRk JSON.

methods.md §1.5: a line is split on its first space into the caption id and the text; the caption
id is `<item>#<tag>#<n>`, and the item id is the text before the first `#` with a trailing `.jpg` or
`.mp4` removed. The views of one caption in different files (source, MT, back-translation, ...) are
joined by rebuilding the id with the other tag and the same n (`CaptionRecord.with_tag`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ccrkit.data.errors import DataError
from ccrkit.data.text import OnError, foreign_encoding, iter_lines, raise_error

ITEM_SUFFIXES = (".jpg", ".mp4")
LINE_FORMAT = "expected '<item>#<tag>#<n> <text>'"


@dataclass(frozen=True)
class CaptionRecord:
    """One caption. `prefix` is the id text before the first `#` (kept to rebuild joined ids)."""

    cap_id: str
    item_id: str
    tag: str
    n: str
    text: str
    line: int | None = None

    @property
    def prefix(self) -> str:
        return self.cap_id.split("#", 1)[0]

    def with_tag(self, tag: str) -> str:
        """The id of this caption's view under another tag: same item prefix, same n."""
        return f"{self.prefix}#{tag}#{self.n}"


def item_id_of(prefix: str) -> str:
    """`1000092795.jpg` -> `1000092795`; `video7010.mp4` -> `video7010`; others unchanged."""
    for suffix in ITEM_SUFFIXES:
        if prefix.endswith(suffix):
            return prefix[: -len(suffix)]
    return prefix


def parse_caption_id(cap_id: str) -> tuple[str, str, str] | None:
    """(item id, tag, n) of a well-formed caption id, else None."""
    parts = cap_id.split("#")
    if len(parts) != 3 or not all(parts):
        return None
    prefix, tag, n = parts
    item = item_id_of(prefix)
    return (item, tag, n) if item else None


def parse_caption_line(text: str, path: Path, line: int) -> CaptionRecord:
    cap_id, sep, caption = text.partition(" ")
    if not text.strip():
        raise DataError(f"empty line; {LINE_FORMAT}", path, line)
    if not sep or not caption.strip():
        raise DataError(f"caption line without text ('{_short(text)}'); {LINE_FORMAT}", path, line)
    parsed = parse_caption_id(cap_id)
    if parsed is None:
        raise DataError(f"malformed caption id '{_short(cap_id)}'; {LINE_FORMAT}", path, line)
    item, tag, n = parsed
    return CaptionRecord(cap_id, item, tag, n, caption, line)


def read_captions(
    path: str | Path, on_error: OnError = raise_error, json_tag: str = "enc"
) -> list[CaptionRecord]:
    """All captions of an NRCCR caption file (or of a CCLM `.json` file, tagged `json_tag`).

    The text is kept exactly as written after the first space (leading spaces, tabs, no-break and
    zero-width spaces included); only the line ending is removed. Bad lines and duplicate caption
    ids go to `on_error`, which raises by default (pass a collector to see every problem).
    """
    path = Path(path)
    if path.suffix == ".json":
        return read_cclm_json(path, tag=json_tag, on_error=on_error)
    records: list[CaptionRecord] = []
    first_line: dict[str, int] = {}
    for number, text in iter_lines(path, on_error):
        try:
            record = parse_caption_line(text, path, number)
        except DataError as err:
            on_error(err)
            continue
        if record.cap_id in first_line:
            dup = f"duplicate caption id '{record.cap_id}' (first on line {first_line[record.cap_id]})"
            on_error(DataError(dup, path, number))
            continue
        first_line[record.cap_id] = number
        records.append(record)
    return records


def read_cclm_json(
    path: str | Path, tag: str = "enc", on_error: OnError = raise_error
) -> list[CaptionRecord]:
    """CCLM/CCRk JSON (methods.md §4.4) as caption records.

    Train files are a list of `{caption, image, image_id}` (one caption per entry); val/test files a
    list of `{image, caption: [...], image_id}`. Captions of one image are numbered 0, 1, ... in
    file order, so aligned files of different languages join like NRCCR files (same item, same n).
    """
    path = Path(path)
    entries = _load_json_list(path)
    records: list[CaptionRecord] = []
    counts: dict[str, int] = {}
    for number, entry in enumerate(entries):
        try:
            item, captions = _cclm_entry(entry, number)
        except DataError as err:
            on_error(DataError(err.message, path))
            continue
        for caption in captions:
            n = counts.get(item, 0)
            counts[item] = n + 1
            records.append(CaptionRecord(f"{item}#{tag}#{n}", item, tag, str(n), caption))
    return records


def read_cclm_images(path: str | Path) -> dict[str, str]:
    """item id -> relative image path, from the `image` fields of a CCLM JSON file."""
    path = Path(path)
    images: dict[str, str] = {}
    for number, entry in enumerate(_load_json_list(path)):
        try:
            item, _ = _cclm_entry(entry, number)
        except DataError as err:
            raise DataError(err.message, path) from None
        if not isinstance(entry.get("image"), str):
            raise DataError(f"entry {number}: 'image' must be a relative path string", path)
        images.setdefault(item, entry["image"])
    return images


def _load_json_list(path: Path) -> list:
    try:
        raw = path.read_bytes()
        foreign = foreign_encoding(raw)
        if foreign is not None:
            raise DataError(f"the file is {foreign[0]}, not UTF-8; re-encode it as UTF-8", path)
        data = json.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except UnicodeDecodeError as err:
        raise DataError(f"not UTF-8 text (byte offset {err.start})", path) from None
    except json.JSONDecodeError as err:
        raise DataError(f"invalid JSON: {err.msg}", path, err.lineno) from None
    if not isinstance(data, list):
        raise DataError(f"expected a JSON list of entries, got {type(data).__name__}", path)
    return data


def _cclm_entry(entry: object, number: int) -> tuple[str, list[str]]:
    where = f"entry {number}"
    if not isinstance(entry, dict) or "caption" not in entry or "image_id" not in entry:
        raise DataError(f"{where}: expected an object with 'caption' and 'image_id'")
    item = str(entry["image_id"]).strip()
    caption = entry["caption"]
    captions = [caption] if isinstance(caption, str) else caption
    if not item:
        raise DataError(f"{where}: empty 'image_id'")
    if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
        raise DataError(f"{where}: 'caption' must be a string or a list of strings")
    if not captions or any(not c.strip() for c in captions):
        raise DataError(f"{where}: empty caption for image '{item}'")
    return item, captions


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
