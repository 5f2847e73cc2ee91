"""The index-type protocol: what one kind of FAISS index is to the build, the planner and search.

An index type is a class registered by name in `INDEX_TYPES` (`@INDEX_TYPES.register("hnsw")`
at its definition; importing `ccrkit.index.types` registers the built-in ones). It owns its
parameters — a dataclass, `params_class`, filled from the `params:` section of
`configs/index/*.yaml` — and everything that differs between kinds of index: the FAISS factory
string, the memory it takes, its query-time knobs, how it is trained and memory-mapped. The
build, the planner and search only call these, so a new type is one module with a decorator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import faiss

from ccrkit.registry import Registry

TRAIN_POINTS_PER_LIST = 64  # k-means sample: FAISS warns below 39; more costs time, little recall
# Flat codes (flat, flat16, HNSW's storage) map with MMAP_IFC; IVF inverted lists with MMAP (the
# two together fail on IVF files).
MMAP_FLAT_CODES = ("IO_FLAG_MMAP_IFC", "IO_FLAG_READ_ONLY")


@dataclass
class NoParams:
    """The parameters of a type that has none (`flat`, `flat16`)."""


class IndexType:
    """One kind of FAISS index over unit vectors (inner product), with its parameters `params`
    (an instance of `params_class`).

    A subclass defines `factory(count, dim)` and `memory_bytes(count, dim)`, and where it
    differs from these defaults:

    - `exact`: search returns the exact top-k (no recall to measure or tune);
    - `knob`: the FAISS search parameter `target_recall` tunes (None: none), its current value in
      `search_params()` and its largest useful value `knob_limit()`;
    - `rerank`: the shortlist re-scored exactly from the on-disk store (0: FAISS's ranking);
    - `holds_vectors`: the index can give back an item's vector ("more like this"); False for
      compressed codes, which then read the store and need no direct map;
    - `mmap_flags`: the FAISS IO flags that map its file;
    - `filled(count, dim)`, `configure(index)`, `training_size(index, count)`: automatic
      parameters given values, build-time settings, and the training sample of an index that
      needs training.
    """

    params_class: ClassVar[type] = NoParams
    exact: ClassVar[bool] = False
    knob: ClassVar[str | None] = None
    holds_vectors: ClassVar[bool] = True
    mmap_flags: ClassVar[tuple[str, ...]] = MMAP_FLAT_CODES

    def __init__(self, params: Any) -> None:
        self.params = params

    def factory(self, count: int, dim: int) -> str:
        """The `faiss.index_factory` description for `count` vectors of `dim`; a ValueError
        (saying what to change) when this gallery cannot have this index."""
        raise NotImplementedError

    def memory_bytes(self, count: int, dim: int) -> int:
        """Memory the FAISS index takes once loaded (what `max_memory` limits)."""
        raise NotImplementedError

    def search_params(self) -> dict[str, int]:
        """Query-time FAISS parameters, stored in the manifest and applied on every load."""
        return {}

    def knob_limit(self) -> int:
        """The largest value of `knob` worth trying while tuning."""
        raise NotImplementedError

    @property
    def rerank(self) -> int:
        return 0

    def describe(self) -> str:
        """A short name of the configured index for messages (e.g. 'HNSW32')."""
        return type(self).__name__

    def filled(self, count: int, dim: int) -> dict[str, Any]:
        """Values for the parameters left automatic, for a gallery of `count` x `dim` ({}: none)."""
        return {}

    def configure(self, index: faiss.Index) -> None:
        """Build-time settings of the freshly made, empty index (none by default)."""

    def training_size(self, index: faiss.Index, count: int) -> int:
        """How many vectors to train an untrained index on: 64 per inverted list for IVF
        indexes, else all of them."""
        try:
            return TRAIN_POINTS_PER_LIST * faiss.extract_index_ivf(index).nlist
        except RuntimeError:
            return count


# Index types by name (the index config's `type`): each registers itself where it is defined,
# `@INDEX_TYPES.register("name")`; importing `ccrkit.index.types` registers the built-in ones.
INDEX_TYPES: Registry[type[IndexType]] = Registry("index type")


def positive(params: Any, *names: str) -> None:
    """Raise a ValueError naming the first of `names` that is below 1 in `params`."""
    for name in names:
        if getattr(params, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(params, name)}")
