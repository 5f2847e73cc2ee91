"""Markdown pipe tables, as every results file and report of ccrkit writes them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def pipe_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A header row, a `---` separator and one line per row (cells shown with `str`, each made
    safe by `table_cell`)."""
    lines = ["| " + " | ".join(table_cell(cell) for cell in header) + " |"]
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(table_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def table_cell(value: Any) -> str:
    """`str(value)` on one line with `|` escaped: a line break (a folded YAML string keeps its
    last one) would end the row, and a bare `|` would split the cell."""
    return _UNESCAPED_PIPE.sub(r"\\|", " ".join(str(value).split()))
