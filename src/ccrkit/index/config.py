"""How an index is built: the `configs/index/*.yaml` schema (`ccrkit index build --config NAME`)."""

from __future__ import annotations

from dataclasses import dataclass

INDEX_TYPES = ("flat", "flat16", "ivfpq", "hnsw")


@dataclass
class IndexConfig:
    """FAISS index type and its parameters; every index uses inner product on unit vectors.

    - flat: exact search (IndexFlatIP); best up to a few hundred thousand items.
    - flat16: FAISS's scan over vectors stored as float16 (SQfp16): half the memory. On a CPU
      without fast bfloat16, where `flat` uses FAISS's own per-query scan, about 1.5x its served
      queries per second; elsewhere `flat`'s batched scan (`index.scan`) is faster. Scores
      differ from float32 by ~1e-4, so only near-ties can swap (recall@10 against float32 is
      reported at build time).
    - ivfpq: inverted lists + product quantisation, for millions of items. `nlist` lists
      (0: 4·sqrt(n), at most n/39 so every list trains on 39 points), `pq_m` sub-vectors of
      `pq_bits` bits (dim must be divisible by `pq_m`), `nprobe` lists searched per query.
    - hnsw: a graph over the full vectors; `hnsw_m` links per node, `ef_construction` and
      `ef_search` beam widths.
    Approximate indexes report recall@10 against exact search on `recall_queries` gallery vectors.
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
