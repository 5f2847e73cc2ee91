"""`flat16`: FAISS's scan over vectors stored as float16 (SQfp16).

Half the memory of `flat`, but one pass per query, so slower to serve than `flat`'s batched
scan. Scores differ from float32 by ~1e-4, so only near-ties can swap: recall@10 against exact
search is measured at build time; there is no knob to tune.
"""

from __future__ import annotations

from ccrkit.index.types.base import INDEX_TYPES, IndexType


@INDEX_TYPES.register("flat16")
class Flat16(IndexType):
    def factory(self, count: int, dim: int) -> str:
        return "SQfp16"

    def memory_bytes(self, count: int, dim: int) -> int:
        return 2 * dim * count
