"""`ivfpq`: inverted lists + product quantisation, for millions of items, re-ranked.

`nlist` lists (0: a power of two near 2·sqrt(n), at most 2048 and n/39), `pq_m` sub-vectors of
`pq_bits` bits (the dimension must be divisible by `pq_m`; 4 bits use FAISS's fast-scan
kernels), `nprobe` lists searched per query (the knob `target_recall` tunes), and the `rerank`
best of them re-scored exactly from the on-disk float16 store (0: FAISS's ranking as it is).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import faiss

from ccrkit.index.types.base import INDEX_TYPES, IndexType, positive

ID_BYTES = 8  # FAISS stores an int64 id per IVF entry
MIN_POINTS_PER_LIST = 39  # FAISS warns below this many training points per cluster
# k-means training and the assignment of every vector grow with the lists: 2048 lists train in
# 1.5 min and take 1M items in 70 s on 2 busy cores; 10M items are then 4,900 per list.
MAX_LISTS = 2048


@dataclass
class IvfPqParams:
    nlist: int = 0
    pq_m: int = 16
    pq_bits: int = 8
    nprobe: int = 16
    rerank: int = 100

    def __post_init__(self) -> None:
        positive(self, "pq_m", "pq_bits", "nprobe")
        if self.nlist < 0:
            raise ValueError(f"nlist must be >= 0 (0: automatic), got {self.nlist}")
        if self.pq_bits > 16:
            raise ValueError(f"pq_bits must be <= 16, got {self.pq_bits}")
        if self.rerank < 0:
            raise ValueError(f"rerank must be >= 0 (0: no re-ranking), got {self.rerank}")


def default_lists(count: int) -> int:
    """A power of two near 2 sqrt(n), at most `MAX_LISTS`, with 39 training points per list."""
    lists = 2 ** round(math.log2(max(1.0, 2 * math.sqrt(count))))
    return max(1, min(lists, MAX_LISTS, count // MIN_POINTS_PER_LIST))


@INDEX_TYPES.register("ivfpq")
class IvfPq(IndexType):
    params_class = IvfPqParams
    knob = "nprobe"
    holds_vectors = False  # PQ codes: "more like this" reads the item's vector from the store
    mmap_flags = ("IO_FLAG_MMAP", "IO_FLAG_READ_ONLY")
    params: IvfPqParams

    def factory(self, count: int, dim: int) -> str:
        p = self.params
        if dim % p.pq_m:
            raise ValueError(f"ivfpq: pq_m ({p.pq_m}) must divide the dimension ({dim})")
        needed = MIN_POINTS_PER_LIST * 2**p.pq_bits
        if count < needed:
            raise ValueError(
                f"ivfpq with pq_bits={p.pq_bits} needs at least {needed} items to train, the "
                f"gallery has {count}; use type=flat (exact) or fewer pq_bits"
            )
        fast_scan = "fs" if p.pq_bits == 4 else ""
        return f"IVF{self.lists(count)},PQ{p.pq_m}x{p.pq_bits}{fast_scan}"

    def memory_bytes(self, count: int, dim: int) -> int:
        p = self.params
        code = math.ceil(p.pq_m * p.pq_bits / 8)
        centroids = self.lists(count) * dim * 4
        return count * (code + ID_BYTES) + centroids + p.pq_m * 2**p.pq_bits * 4

    def search_params(self) -> dict[str, int]:
        return {"nprobe": self.params.nprobe}

    def knob_limit(self) -> int:
        return self.params.nlist

    @property
    def rerank(self) -> int:
        return self.params.rerank

    def describe(self) -> str:
        return f"IVF{self.params.nlist},PQ{self.params.pq_m}x{self.params.pq_bits}"

    def filled(self, count: int, dim: int) -> dict[str, Any]:
        return {} if self.params.nlist else {"nlist": default_lists(count)}

    def training_size(self, index: faiss.Index, count: int) -> int:
        """64 points per list, and at least what the product quantizer's codebooks need."""
        return max(
            super().training_size(index, count), MIN_POINTS_PER_LIST * 2**self.params.pq_bits
        )

    def lists(self, count: int) -> int:
        return self.params.nlist or default_lists(count)
