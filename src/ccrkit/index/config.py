"""How an index is built: the `configs/index/*.yaml` schema (`ccrkit index build --config NAME`)."""

from __future__ import annotations

from dataclasses import dataclass

INDEX_TYPES = ("flat", "flat16", "ivfpq", "hnsw", "auto")


@dataclass
class IndexConfig:
    """FAISS index type and its parameters; every index uses inner product on unit vectors.

    - flat: exact search (IndexFlatIP); best up to a few hundred thousand items.
    - flat16: FAISS's scan over vectors stored as float16 (SQfp16): half the memory, but one
      pass per query, so slower to serve than `flat`'s batched scan (`index.scan`, bf16 or
      float32 by CPU). Scores differ from float32 by ~1e-4, so only near-ties can swap
      (recall@10 against exact search is reported at build time).
    - ivfpq: inverted lists + product quantisation, for millions of items. `nlist` lists
      (0: a power of two near 2·sqrt(n), at most 2048 and n/39), `pq_m` sub-vectors of
      `pq_bits` bits (dim must be divisible by `pq_m`; 4 bits use FAISS's fast-scan kernels),
      `nprobe` lists searched per query, and the `rerank` best of them re-scored exactly from
      the on-disk float16 store (0: FAISS's approximate ranking as it is).
    - hnsw: a graph over the full vectors; `hnsw_m` links per node, `ef_construction` and
      `ef_search` beam widths.
    - auto: chosen from `max_memory` (the loaded index's size, e.g. "2GB"; "" no limit) and
      `target_recall`: exact `flat` up to 250k items when it fits, else IVF fast-scan PQ with
      re-ranking (`ccrkit.index.plan`).
    With `target_recall` (0 < r <= 1), the search knobs (nprobe/efSearch, shortlist) are tuned
    after the build to the cheapest that reach it with 95 % confidence over the sampled items;
    a target out of reach is an error.
    Approximate indexes report recall@10 against exact search on `recall_queries` gallery items
    (their 10 nearest other items).
    """

    type: str = "flat"
    batch_size: int = 64
    nlist: int = 0
    pq_m: int = 16
    pq_bits: int = 8
    nprobe: int = 16
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 64
    rerank: int = 100
    max_memory: str = ""
    target_recall: float = 0.0
    recall_queries: int = 1000
    seed: int = 0
    # `index build --checkpoint`: calibrate the no-good-match score threshold on the run's
    # validation split (ccrkit.index.calibrate); false skips it (no threshold in the manifest)
    calibrate: bool = True

    def __post_init__(self) -> None:
        if self.type not in INDEX_TYPES:
            raise ValueError(f"type: unknown index type '{self.type}'; choices: {INDEX_TYPES}")
        positive = ("batch_size", "pq_m", "pq_bits", "nprobe", "hnsw_m", "ef_construction",
                    "ef_search", "recall_queries")  # fmt: skip
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.nlist < 0:
            raise ValueError(f"nlist must be >= 0 (0: automatic), got {self.nlist}")
        if self.pq_bits > 16:
            raise ValueError(f"pq_bits must be <= 16, got {self.pq_bits}")
        if self.rerank < 0:
            raise ValueError(f"rerank must be >= 0 (0: no re-ranking), got {self.rerank}")
        if not 0.0 <= self.target_recall <= 1.0:
            raise ValueError(
                f"target_recall must be in (0, 1] (0: no tuning), got {self.target_recall}"
            )
        if self.max_memory:
            parse_bytes(self.max_memory)  # a bad size fails here, naming the value

    @property
    def memory_budget(self) -> int | None:
        """`max_memory` in bytes (None: no limit)."""
        return parse_bytes(self.max_memory) if self.max_memory else None


def parse_bytes(text: str) -> int:
    """'2GB', '512MB', '1.5G', '800M', '1024' (bytes) -> bytes (powers of 1024)."""
    value = text.strip().upper().removesuffix("B").removesuffix("I")
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    scale = units.get(value[-1:], 1)
    number = value[:-1] if value[-1:] in units else value
    try:
        amount = float(number)
    except ValueError:
        raise ValueError(f"not a memory size: {text!r} (e.g. 2GB, 512MB)") from None
    if amount <= 0:
        raise ValueError(f"memory size must be positive, got {text!r}")
    return int(amount * scale)
