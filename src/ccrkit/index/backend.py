"""FAISS: build the configured index over unit vectors, measure its recall, save and load it."""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

from ccrkit.index.config import IndexConfig

MIN_POINTS_PER_CENTROID = 39  # FAISS warns below this many training points per cluster
# Memory-mapping differs by index kind: flat codes (flat, and HNSW's storage) map with MMAP_IFC,
# IVF inverted lists with MMAP; the two together fail on IVF files.
MMAP_FLAGS = {"ivfpq": ("IO_FLAG_MMAP", "IO_FLAG_READ_ONLY")}
MMAP_FLAT_CODES = ("IO_FLAG_MMAP_IFC", "IO_FLAG_READ_ONLY")


def factory_string(config: IndexConfig, count: int, dim: int) -> str:
    """The `faiss.index_factory` description of the configured index for `count` vectors."""
    if config.type == "flat":
        return "Flat"
    if config.type == "flat16":
        return "SQfp16"
    if config.type == "hnsw":
        return f"HNSW{config.hnsw_m},Flat"
    if dim % config.pq_m:
        raise ValueError(f"ivfpq: pq_m ({config.pq_m}) must divide the dimension ({dim})")
    needed = MIN_POINTS_PER_CENTROID * 2**config.pq_bits
    if count < needed:
        raise ValueError(
            f"ivfpq with pq_bits={config.pq_bits} needs at least {needed} items to train, the "
            f"gallery has {count}; use type=flat (exact) or fewer pq_bits"
        )
    return f"IVF{ivf_lists(config, count)},PQ{config.pq_m}x{config.pq_bits}"


def ivf_lists(config: IndexConfig, count: int) -> int:
    if config.nlist:
        return config.nlist
    return max(1, min(int(4 * math.sqrt(count)), count // MIN_POINTS_PER_CENTROID))


def search_parameters(config: IndexConfig) -> dict[str, int]:
    """Query-time knobs, stored in the manifest and applied on every load."""
    if config.type == "ivfpq":
        return {"nprobe": config.nprobe}
    if config.type == "hnsw":
        return {"efSearch": config.ef_search}
    return {}


def build_faiss(vectors: np.ndarray, config: IndexConfig) -> tuple[faiss.Index, str]:
    """Train (when needed) and fill the configured inner-product index with `vectors`."""
    count, dim = vectors.shape
    description = factory_string(config, count, dim)
    index = faiss.index_factory(dim, description, faiss.METRIC_INNER_PRODUCT)
    if config.type == "hnsw":
        index.hnsw.efConstruction = config.ef_construction
    if not index.is_trained:
        ivf = faiss.extract_index_ivf(index)
        ivf.cp.seed = config.seed
        index.train(vectors)
    index.add(vectors)
    apply_parameters(index, search_parameters(config))
    return index, description


def apply_parameters(index: faiss.Index, params: dict[str, int]) -> None:
    space = faiss.ParameterSpace()
    for name, value in params.items():
        space.set_index_parameter(index, name, value)


def recall_at_k(index: faiss.Index, vectors: np.ndarray, config: IndexConfig, k: int = 10) -> float:
    """Mean fraction of the exact top-k that `index` returns, for sampled gallery vectors."""
    rng = np.random.default_rng(config.seed)
    sample = rng.choice(len(vectors), min(config.recall_queries, len(vectors)), replace=False)
    queries = vectors[np.sort(sample)]
    k = min(k, len(vectors))
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, k)
    _, found = index.search(queries, k)
    hits = [len(set(t) & set(f)) for t, f in zip(truth.tolist(), found.tolist(), strict=True)]
    return float(np.mean(hits) / k)


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


def read_faiss(path: Path, mmap: bool, params: dict[str, int], index_type: str) -> faiss.Index:
    """Load an index; `mmap` maps the file instead of reading it (large indexes, many servers)."""
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
    if ivf is not None:
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
