"""BigFile: the NRCCR feature store (`feature.bin`, `id.txt`, `shape.txt` in one folder).

methods.md §1.5: `feature.bin` holds N x D float32 rows, row-major, little-endian, no header;
`id.txt` the N row names separated by whitespace; `shape.txt` one line "N D". The store is checked
completely when it is opened (so training never fails on row 29,000) and read through `np.memmap`,
so only the rows asked for are loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ccrkit.data.errors import DataError

FEATURE_FILE, ID_FILE, SHAPE_FILE = "feature.bin", "id.txt", "shape.txt"
DTYPE = np.dtype("<f4")


class BigFile:
    """Read-only access to a BigFile folder; validated on open."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise DataError(
                "BigFile folder not found (expected feature.bin, id.txt, shape.txt)", self.directory
            )
        self.shape = _read_shape(self.directory / SHAPE_FILE)
        self._check_size()
        self.ids = _read_ids(self.directory / ID_FILE, self.shape[0])
        self.index = {name: row for row, name in enumerate(self.ids)}
        self._data: np.memmap | None = None

    @property
    def dim(self) -> int:
        return self.shape[1]

    def __len__(self) -> int:
        return self.shape[0]

    def __contains__(self, name: object) -> bool:
        return name in self.index

    def rows(self, ids: Sequence[str]) -> np.ndarray:
        """Row numbers of `ids`; an unknown id is a DataError naming the folder."""
        try:
            return np.fromiter((self.index[i] for i in ids), dtype=np.int64, count=len(ids))
        except KeyError as err:
            raise DataError(f"id '{err.args[0]}' is not in {ID_FILE}", self.directory) from None

    def read(self, ids: Sequence[str]) -> np.ndarray:
        """(len(ids), D) float32 array of the rows named `ids`, in that order."""
        return np.array(self._memmap()[self.rows(ids)], dtype=np.float32)

    def values(self) -> np.memmap:
        """All N x D rows, memory-mapped (read as they are touched)."""
        return self._memmap()

    def _memmap(self) -> np.memmap:
        if self._data is None:
            self._data = np.memmap(
                self.directory / FEATURE_FILE, dtype=DTYPE, mode="r", shape=self.shape
            )
        return self._data

    def _check_size(self) -> None:
        path = self.directory / FEATURE_FILE
        if not path.is_file():
            raise DataError("feature file not found", path)
        expected = self.shape[0] * self.shape[1] * DTYPE.itemsize
        actual = path.stat().st_size
        if actual != expected:
            rows = actual / (self.shape[1] * DTYPE.itemsize)
            raise DataError(
                f"size {actual} bytes disagrees with {SHAPE_FILE} {self.shape[0]} x {self.shape[1]}: "
                f"expected {expected} bytes of float32 (the file holds {rows:g} rows of {self.shape[1]})",
                path,
            )

    def __getstate__(self) -> dict:
        """Worker processes reopen the memmap instead of receiving a pickled copy of the data."""
        return {**self.__dict__, "_data": None}


def _read_shape(path: Path) -> tuple[int, int]:
    if not path.is_file():
        raise DataError("shape file not found", path)
    text = path.read_bytes().decode("ascii", errors="replace")
    parts = text.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise DataError(
            f"expected one line 'N D' (two whole numbers), got '{text.strip()[:60]}'", path, 1
        )
    rows, dim = int(parts[0]), int(parts[1])
    if dim == 0:
        raise DataError("feature dimension D is 0", path, 1)
    return rows, dim


def _read_ids(path: Path, expected: int) -> list[str]:
    """Whitespace-separated names; UTF-8, or ISO-8859-1 as the NRCCR code reads them."""
    if not path.is_file():
        raise DataError("id file not found", path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    ids = text.split()
    if len(ids) != expected:
        raise DataError(f"holds {len(ids)} ids but {SHAPE_FILE} says {expected} rows", path)
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))
        raise DataError(f"duplicate id '{dup}': every row needs a distinct name", path)
    return ids


def write_bigfile(directory: str | Path, ids: Sequence[str], features: np.ndarray) -> None:
    """Write a complete BigFile (used by tests and small tools; extraction streams its own)."""
    from ccrkit.runs import write_atomic

    directory = Path(directory)
    features = np.ascontiguousarray(features, dtype=DTYPE)
    if features.ndim != 2 or features.shape[0] != len(ids):
        raise ValueError(f"features {features.shape} do not match {len(ids)} ids")
    write_atomic(directory / FEATURE_FILE, features.tobytes())
    write_atomic(directory / ID_FILE, ("\n".join(ids) + "\n").encode("utf-8"))
    write_atomic(directory / SHAPE_FILE, f"{features.shape[0]} {features.shape[1]}\n".encode())
