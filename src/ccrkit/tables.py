"""Markdown pipe tables, as every results file and report of ccrkit writes them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def pipe_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A header row, a `---` separator and one line per row (cells shown with `str`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
