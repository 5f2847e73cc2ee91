"""The gallery's vectors on disk: one float16 `.npy` file, written chunk by chunk, read mapped.

`index build` writes every encoded chunk here as it comes, so no step holds all vectors in RAM;
the FAISS index is trained on a sample of this file and filled from it chunk by chunk. The
server maps it: an IVF-PQ shortlist is re-scored exactly from the rows it names (a few hundred
pages per query), "more like this" reads an item's own vector, and only the pages touched
become resident. float16 keeps 11 significant bits: scores of unit vectors move by ~1e-4.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import faiss
import numpy as np

from ccrkit.index.scan import best_first

STORE_DTYPE = np.float16


class VectorWriter:
    """Create the store of `count` x `dim` vectors at `path` and fill it in row order.

    Written with plain file writes, not through a writable mapping: dirty mapped pages would
    count in the builder's resident memory until the kernel writes them back."""

    def __init__(self, path: Path, count: int, dim: int) -> None:
        self.path, self.count, self.dim = path, count, dim
        self._file = open(path, "wb")  # noqa: SIM115 (closed in close())
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(STORE_DTYPE)),
                  "fortran_order": False, "shape": (count, dim)}  # fmt: skip
        np.lib.format.write_array_header_2_0(self._file, header)
        self.filled = 0

    def append(self, rows: np.ndarray) -> None:
        if self.filled + len(rows) > self.count:
            raise ValueError(f"{self.path}: more than the {self.count} vectors announced")
        self._file.write(np.ascontiguousarray(rows, dtype=STORE_DTYPE).tobytes())
        self.filled += len(rows)

    def close(self) -> None:
        """Flush to disk; the store must be full by now."""
        self._file.close()
        if self.filled != self.count:
            raise ValueError(f"{self.path}: {self.filled} vectors written, {self.count} announced")


class VectorStore:
    """A store opened read-only and mapped; refused at open when missing, truncated or of
    another shape than the index it belongs to (each error names the file)."""

    def __init__(self, path: Path, count: int, dim: int) -> None:
        self.path = path
        self.offset = _checked_header(path, count, dim)
        self.vectors = np.memmap(path, STORE_DTYPE, "r", self.offset, (count, dim))

    def __len__(self) -> int:
        return len(self.vectors)

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """float32 vectors of `rows` (any shape of row numbers; a new axis of `dim` at the end)."""
        return self.vectors[rows].astype(np.float32)

    def scores(self, queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Inner products of query i with the vectors of `rows[i]` (queries x shortlist)."""
        return np.einsum("qd,qcd->qc", queries, self.rows(rows))

    def chunks(self, size: int) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, float32 rows) in row order, `size` rows at a time. Read from the file,
        not through the mapping: a pass over the whole store (filling an index, exact ground
        truth) then leaves no mapped pages behind in this process's resident memory."""
        count, dim = self.vectors.shape
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            for start in range(0, count, size):
                rows = min(size, count - start)
                chunk = np.fromfile(handle, STORE_DTYPE, rows * dim).reshape(rows, dim)
                yield start, chunk.astype(np.float32)

    def sample(self, rows: np.ndarray) -> np.ndarray:
        """float32 vectors of sorted `rows`, read in one pass over the file (a training sample
        of random rows through the mapping would make most of the file resident)."""
        parts = []
        for start, chunk in self.chunks(1 << 16):
            inside = rows[(rows >= start) & (rows < start + len(chunk))]
            parts.append(chunk[inside - start])
        return np.concatenate(parts) if parts else np.empty((0, self.vectors.shape[1]), np.float32)

    def rerank(
        self, queries: np.ndarray, candidates: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `k` best of each query's candidate rows by exact score (ties to the lower row);
        FAISS's -1 padding (fewer candidates than asked) sorts last and stays -1."""
        scores = self.scores(queries, np.maximum(candidates, 0))
        scores[candidates < 0] = -np.inf
        return best_first(scores, candidates, min(k, candidates.shape[1]))


Search = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]
# Shortlist rows re-scored at a time (64 MiB of float32 at 256-d): 1000 probe queries with a
# shortlist of 3200 would otherwise gather 3.3 GB of vectors at once.
RERANK_ROWS = 1 << 16


def shortlist_search(index: faiss.Index, store: VectorStore | None, shortlist: int) -> Search:
    """(queries, k) -> (scores, rows): FAISS's top `shortlist` (at least k) re-scored exactly
    from `store`; FAISS's own top k when there is no store or no shortlist."""
    if store is None or shortlist < 1:
        return index.search

    def search(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        wanted = min(max(shortlist, k), index.ntotal)
        if len(queries) == 0 or wanted == 0:
            return index.search(queries, k)
        step = max(1, RERANK_ROWS // wanted)  # queries per block: bounds the gathered vectors
        found = []
        for start in range(0, len(queries), step):
            block = queries[start : start + step]
            found.append(store.rerank(block, index.search(block, wanted)[1], k))
        return np.concatenate([s for s, _ in found]), np.concatenate([r for _, r in found])

    return search


def _checked_header(path: Path, count: int, dim: int) -> int:
    """The data offset of the store at `path`, after checking it holds `count` x `dim` float16."""
    try:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(handle)
            offset = handle.tell()
    except FileNotFoundError:
        raise ValueError(f"{path}: vector store not found; rebuild the index") from None
    except (ValueError, OSError, SyntaxError) as err:
        raise ValueError(f"{path}: not a vector store ({err}); rebuild the index") from None
    if dtype != STORE_DTYPE or fortran or tuple(shape) != (count, dim):
        raise ValueError(
            f"{path}: holds {dtype} {tuple(shape)}, the manifest says float16 ({count}, {dim}); "
            "rebuild the index"
        )
    size, expected = path.stat().st_size, offset + count * dim * np.dtype(STORE_DTYPE).itemsize
    if size < expected:
        held = max(0, size - offset) // (dim * np.dtype(STORE_DTYPE).itemsize)
        raise ValueError(
            f"{path}: truncated: {size:,} bytes hold {held:,} of {count:,} vectors; rebuild the index"
        )
    return offset
