"""Strict text reading: UTF-8 only, with the file and line of any byte that is not.

Caption and id files are read as bytes and decoded line by line, so a bad byte is reported with its
line number instead of as an offset deep inside a `UnicodeDecodeError`.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from pathlib import Path

from ccrkit.data.errors import DataError

BOM = "\ufeff"
OnError = Callable[[DataError], None]
# Byte-order marks of the encodings a text editor saves "Unicode" files in; UTF-32 LE first, as
# its mark begins with UTF-16 LE's.
FOREIGN_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32 LE (with a byte-order mark)", "UTF-32LE"),
    (codecs.BOM_UTF32_BE, "UTF-32 BE (with a byte-order mark)", "UTF-32BE"),
    (codecs.BOM_UTF16_LE, "UTF-16 LE (with a byte-order mark)", "UTF-16LE"),
    (codecs.BOM_UTF16_BE, "UTF-16 BE (with a byte-order mark)", "UTF-16BE"),
)


def raise_error(err: DataError) -> None:
    raise err


def read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "not a file", path)
    return path.read_bytes()


def iter_lines(path: str | Path, on_error: OnError = raise_error) -> Iterator[tuple[int, str]]:
    """(line number, text without its line ending) for every line of a UTF-8 file.

    A final line without a newline counts; the empty string after a final newline does not. A file
    in another Unicode encoding (UTF-16/32) is one problem naming it, and yields nothing; the lines
    that are not valid UTF-8 are skipped and make one problem, at the first of them. Problems go to
    `on_error` (raises by default).
    """
    path = Path(path)
    data = read_bytes(path)
    foreign = foreign_encoding(data)
    if foreign is not None:
        found, iconv = foreign
        on_error(
            DataError(
                f"the file is {found}, not UTF-8; re-encode it, e.g. "
                f"`iconv -f {iconv} -t UTF-8 {path.name} > {path.name}.utf8`",
                path,
            )
        )
        return
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    undecodable = _undecodable_lines(data, raw_lines)
    for number, raw in enumerate(raw_lines, start=1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            if number == undecodable[0]:
                more = f" ({len(undecodable)} lines are not UTF-8)" if len(undecodable) > 1 else ""
                on_error(
                    DataError(
                        f"not UTF-8 text: byte 0x{raw[err.start]:02x} at column {err.start + 1}"
                        f"{more}; expected UTF-8 (re-encode the file, e.g. "
                        "`iconv -f GB18030 -t UTF-8`)",
                        path,
                        number,
                    )
                )
            continue
        if number == 1 and text.startswith(BOM):
            text = text[1:]
        yield number, text


def foreign_encoding(data: bytes) -> tuple[str, str] | None:
    """(description, iconv name) of a UTF-16/UTF-32 file — by its byte-order mark, or, without one,
    by the zero bytes that pad ASCII characters in them — else None."""
    for bom, found, iconv in FOREIGN_BOMS:
        if data.startswith(bom):
            return found, iconv
    sample = data[:4096]
    if len(sample) < 4 or b"\0" not in sample:
        return None
    for width, order in ((4, "LE"), (4, "BE"), (2, "LE"), (2, "BE")):
        pad = [sample[i::width] for i in range(width)]
        padding = pad[1:] if order == "LE" else pad[:-1]
        if all(p.count(0) >= 0.9 * len(p) for p in padding):
            return f"UTF-{8 * width} {order} (no byte-order mark)", f"UTF-{8 * width}{order}"
    return None


def _undecodable_lines(data: bytes, raw_lines: list[bytes]) -> list[int]:
    """Numbers of the lines that are not valid UTF-8 ([0] when every line is)."""
    try:
        data.decode("utf-8")
        return [0]
    except UnicodeDecodeError:
        pass
    bad = []
    for number, raw in enumerate(raw_lines, start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(number)
    return bad or [0]


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
