"""FAISS: build the configured index over unit vectors, measure its recall, save and load it."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from ccrkit.index.config import IndexConfig
from ccrkit.index.types import IndexType
from ccrkit.runs import write_atomic_with

KMEANS_ITERATIONS = 10  # FAISS's default is 25; the centroids barely move after 10


class IndexBuilder:
    """An empty configured index, filled chunk by chunk: `add` each chunk of vectors (after
    `train` on a sample, for IVF), so the build never needs all vectors in memory at once.
    What differs by index type comes from the type (`config.kind`, `ccrkit.index.types`)."""

    def __init__(self, config: IndexConfig, count: int, dim: int) -> None:
        self.kind, self.count, self.seed = config.kind, count, config.seed
        self.factory = self.kind.factory(count, dim)
        self.index = faiss.index_factory(dim, self.factory, faiss.METRIC_INNER_PRODUCT)
        self.kind.configure(self.index)
        ivf = _ivf_or_none(self.index)
        if ivf is not None:
            ivf.cp.seed, ivf.cp.niter = config.seed, KMEANS_ITERATIONS

    def training_rows(self) -> np.ndarray | None:
        """Rows of the training sample of an untrained (IVF) index, in row order (as many as the
        type asks for); None when the index needs no training."""
        if self.index.is_trained:
            return None
        wanted = self.kind.training_size(self.index, self.count)
        if wanted >= self.count:
            return np.arange(self.count)
        rng = np.random.default_rng(self.seed)
        return np.sort(rng.choice(self.count, wanted, replace=False))

    def train(self, sample: np.ndarray) -> None:
        self.index.train(np.ascontiguousarray(sample, dtype=np.float32))

    def add(self, vectors: np.ndarray) -> None:
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def finish(self) -> faiss.Index:
        apply_parameters(self.index, self.kind.search_params())
        return self.index


def build_faiss(vectors: np.ndarray, config: IndexConfig) -> tuple[faiss.Index, str]:
    """The configured index over `vectors` held in memory, built as the streaming build does
    (same training sample, same vectors), in one `add`."""
    builder = IndexBuilder(config, *vectors.shape)
    rows = builder.training_rows()
    if rows is not None:
        builder.train(vectors[rows])
    builder.add(vectors)
    return builder.finish(), builder.factory


def apply_parameters(index: faiss.Index, params: dict[str, int]) -> None:
    space = faiss.ParameterSpace()
    for name, value in params.items():
        space.set_index_parameter(index, name, value)


def one_faiss_thread() -> None:
    """Let FAISS calls from the calling thread use one OpenMP thread. For the few queries of a
    server's batch, FAISS's parallel scan is slower than its serial one (one query over 100k x
    256: 11.5 ms with 2 threads, 4.2 ms with 1, on 2 cores), and OpenMP's thread count is a
    per-thread setting: the server's search thread must set it itself."""
    faiss.omp_set_num_threads(1)


def write_faiss(index: faiss.Index, path: Path) -> None:
    """Streamed by FAISS into `write_atomic_with`'s file through a Python callback, so no
    serialised copy of the index is held in memory (4.8 GB for 10M x 256 float16) and a failed
    write raises here, as the callback's own exception (an OSError of a full disk): FAISS's own
    file writer reports an error of its last buffered block on stderr only, leaving a truncated
    file that looks written."""
    write_atomic_with(
        path,
        lambda handle: faiss.write_index(index, faiss.PyCallbackIOWriter(handle.write)),
        f"(writing a FAISS index of {index.ntotal:,} vectors)",
    )


def read_faiss(
    path: Path, mmap: bool, params: dict[str, int], kind: type[IndexType], direct_map: bool = True
) -> faiss.Index:
    """Load an index of type `kind`; `mmap` maps the file instead of reading it (large indexes,
    many servers) with the type's flags. `direct_map`: let an IVF index fetch an item's vector
    by row (not needed with a store)."""
    flags = 0
    if mmap:
        for name in kind.mmap_flags:
            flags |= getattr(faiss, name, 0)
    try:
        index = faiss.read_index(str(path), flags)
    except RuntimeError as err:
        raise ValueError(f"{path}: not a readable FAISS index ({_first_line(err)})") from None
    apply_parameters(index, params)
    ivf = _ivf_or_none(index)
    if ivf is not None and direct_map:
        ivf.make_direct_map()  # lets "more like this" fetch an item's stored vector by row
    return index


def _ivf_or_none(index: faiss.Index) -> faiss.IndexIVF | None:
    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def _first_line(err: Exception) -> str:
    lines = [line for line in str(err).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(err).__name__
