"""The one error type of the data layer: every message names the file (and line) and what was expected."""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """Bad or missing data. `path` and `line` (1-based) say where; either may be None.

    `str(err)` reads `path:line: message`, so the CLI can print it as one line and an editor can
    jump to the spot.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(self._render())

    def _render(self) -> str:
        if self.path is None:
            return self.message
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "message": self.message}
