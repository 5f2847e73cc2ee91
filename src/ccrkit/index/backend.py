"""FAISS: build the configured index over unit vectors, measure its recall, save and load it."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from ccrkit.index import plan
from ccrkit.index.config import IndexConfig

MIN_POINTS_PER_CENTROID = plan.MIN_POINTS_PER_LIST
# Memory-mapping differs by index kind: flat codes (flat, and HNSW's storage) map with MMAP_IFC,
# IVF inverted lists with MMAP; the two together fail on IVF files.
MMAP_FLAGS = {"ivfpq": ("IO_FLAG_MMAP", "IO_FLAG_READ_ONLY")}
MMAP_FLAT_CODES = ("IO_FLAG_MMAP_IFC", "IO_FLAG_READ_ONLY")


TRAIN_POINTS_PER_LIST = 64  # k-means sample: FAISS warns below 39; more costs time, little recall
KMEANS_ITERATIONS = 10  # FAISS's default is 25; the centroids barely move after 10


def factory_string(config: IndexConfig, count: int, dim: int) -> str:
    """The `faiss.index_factory` description of the configured index for `count` vectors."""
    if config.type == "flat":
        return "Flat"
    if config.type == "flat16":
        return "SQfp16"
    if config.type == "hnsw":
        return f"HNSW{config.hnsw_m},Flat"
    if config.type != "ivfpq":
        raise ValueError(f"type {config.type!r} must be resolved first (ccrkit.index.plan)")
    if dim % config.pq_m:
        raise ValueError(f"ivfpq: pq_m ({config.pq_m}) must divide the dimension ({dim})")
    needed = MIN_POINTS_PER_CENTROID * 2**config.pq_bits
    if count < needed:
        raise ValueError(
            f"ivfpq with pq_bits={config.pq_bits} needs at least {needed} items to train, the "
            f"gallery has {count}; use type=flat (exact) or fewer pq_bits"
        )
    fast_scan = "fs" if config.pq_bits == 4 else ""
    return f"IVF{ivf_lists(config, count)},PQ{config.pq_m}x{config.pq_bits}{fast_scan}"


def ivf_lists(config: IndexConfig, count: int) -> int:
    return config.nlist or plan.ivf_lists(count)


def search_parameters(config: IndexConfig) -> dict[str, int]:
    """Query-time knobs, stored in the manifest and applied on every load."""
    if config.type == "ivfpq":
        return {"nprobe": config.nprobe}
    if config.type == "hnsw":
        return {"efSearch": config.ef_search}
    return {}


class IndexBuilder:
    """An empty configured index, filled chunk by chunk: `add` each chunk of vectors (after
    `train` on a sample, for IVF), so the build never needs all vectors in memory at once."""

    def __init__(self, config: IndexConfig, count: int, dim: int) -> None:
        self.config, self.count = config, count
        self.factory = factory_string(config, count, dim)
        self.index = faiss.index_factory(dim, self.factory, faiss.METRIC_INNER_PRODUCT)
        if config.type == "hnsw":
            self.index.hnsw.efConstruction = config.ef_construction
        ivf = _ivf_or_none(self.index)
        if ivf is not None:
            ivf.cp.seed, ivf.cp.niter = config.seed, KMEANS_ITERATIONS

    def training_rows(self) -> np.ndarray | None:
        """Rows of the training sample of an untrained (IVF) index, in row order: 64 per list,
        at least what its product quantizer needs; None when the index needs no training."""
        if self.index.is_trained:
            return None
        lists = faiss.extract_index_ivf(self.index).nlist
        wanted = max(
            TRAIN_POINTS_PER_LIST * lists, MIN_POINTS_PER_CENTROID * 2**self.config.pq_bits
        )
        if wanted >= self.count:
            return np.arange(self.count)
        rng = np.random.default_rng(self.config.seed)
        return np.sort(rng.choice(self.count, wanted, replace=False))

    def train(self, sample: np.ndarray) -> None:
        self.index.train(np.ascontiguousarray(sample, dtype=np.float32))

    def add(self, vectors: np.ndarray) -> None:
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def finish(self) -> faiss.Index:
        apply_parameters(self.index, search_parameters(self.config))
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
    """Serialised in memory, then written by `write_atomic`: FAISS's own writer reports an error of
    its last buffered block (a disk that fills at the very end) on stderr only, leaving a
    truncated file that looks written."""
    from ccrkit.runs import write_atomic

    write_atomic(path, memoryview(faiss.serialize_index(index)))  # no second copy


def read_faiss(
    path: Path, mmap: bool, params: dict[str, int], index_type: str, direct_map: bool = True
) -> faiss.Index:
    """Load an index; `mmap` maps the file instead of reading it (large indexes, many servers).
    `direct_map`: let an IVF index fetch an item's vector by row (not needed with a store)."""
    flags = 0
    if mmap:
        for name in MMAP_FLAGS.get(index_type, MMAP_FLAT_CODES):
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
