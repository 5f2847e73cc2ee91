"""`flat`: exact inner-product search (IndexFlatIP); best up to a few hundred thousand items.

The server scores a batch of queries in one pass over the vectors (`ccrkit.index.scan`).
"""

from __future__ import annotations

from ccrkit.index.types.base import INDEX_TYPES, IndexType


@INDEX_TYPES.register("flat")
class Flat(IndexType):
    exact = True

    def factory(self, count: int, dim: int) -> str:
        return "Flat"

    def memory_bytes(self, count: int, dim: int) -> int:
        return 4 * dim * count
