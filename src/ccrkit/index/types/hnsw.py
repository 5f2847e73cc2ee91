"""`hnsw`: a graph over the full vectors; fast approximate search, more memory than IVF-PQ."""

from __future__ import annotations

from dataclasses import dataclass

import faiss

from ccrkit.index.types.base import INDEX_TYPES, IndexType, positive

MAX_EF_SEARCH = 4096  # the widest beam `target_recall` tuning tries


@dataclass
class HnswParams:
    """`hnsw_m` links per node; `ef_construction` and `ef_search` the beam widths of the build
    and of a search (the knob `target_recall` tunes)."""

    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 64

    def __post_init__(self) -> None:
        positive(self, "hnsw_m", "ef_construction", "ef_search")


@INDEX_TYPES.register("hnsw")
class Hnsw(IndexType):
    params_class = HnswParams
    knob = "efSearch"
    params: HnswParams

    def factory(self, count: int, dim: int) -> str:
        return f"HNSW{self.params.hnsw_m},Flat"

    def memory_bytes(self, count: int, dim: int) -> int:
        return count * (4 * dim + 2 * self.params.hnsw_m * 4 + 16)

    def search_params(self) -> dict[str, int]:
        return {"efSearch": self.params.ef_search}

    def knob_limit(self) -> int:
        return MAX_EF_SEARCH

    def describe(self) -> str:
        return f"HNSW{self.params.hnsw_m}"

    def configure(self, index: faiss.Index) -> None:
        index.hnsw.efConstruction = self.params.ef_construction
