"""Strict text reading: UTF-8 only, with the file and line of any byte that is not.

Caption and id files are read as bytes and decoded line by line, so a bad byte is reported with its
line number instead of as an offset deep inside a `UnicodeDecodeError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from ccrkit.data.errors import DataError

BOM = "\ufeff"
OnError = Callable[[DataError], None]


def raise_error(err: DataError) -> None:
    raise err


def read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a file", path)
    return path.read_bytes()


def iter_lines(path: str | Path, on_error: OnError = raise_error) -> Iterator[tuple[int, str]]:
    """(line number, text without its line ending) for every line of a UTF-8 file.

    A final line without a newline counts; the empty string after a final newline does not. A line
    that is not valid UTF-8 goes to `on_error` (raises by default) and is skipped.
    """
    path = Path(path)
    raw_lines = read_bytes(path).split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    for number, raw in enumerate(raw_lines, start=1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            on_error(
                DataError(
                    f"not UTF-8 text: byte 0x{raw[err.start]:02x} at column {err.start + 1}; "
                    "expected UTF-8 (re-encode the file, e.g. `iconv -f GB18030 -t UTF-8`)",
                    path,
                    number,
                )
            )
            continue
        if number == 1 and text.startswith(BOM):
            text = text[1:]
        yield number, text


def read_id_list(path: str | Path, on_error: OnError = raise_error) -> list[str]:
    """One id per line (blank lines are errors); surrounding whitespace is not part of an id."""
    path = Path(path)
    ids: list[str] = []
    seen: dict[str, int] = {}
    for number, text in iter_lines(path, on_error):
        item = text.strip()
        if not item:
            on_error(DataError("empty line; expected one id per line", path, number))
            continue
        if item in seen:
            on_error(DataError(f"duplicate id '{item}' (first on line {seen[item]})", path, number))
            continue
        seen[item] = number
        ids.append(item)
    return ids
