"""Index parameters from a memory budget and a recall target (`--max-memory`, `--target-recall`).

autofaiss does this for clip-retrieval, but it does not work with the FAISS here (2.18.0 pins
numpy < 2 and calls `faiss.OPQMatrix` with keywords FAISS 1.15 no longer takes), so ccrkit
chooses with FAISS's own `index_factory` strings and tunes the search parameters itself:

- `choose_config`: `type: auto` becomes `flat` (exact) for galleries the exact scan serves fast
  enough (up to `EXACT_MAX_ITEMS`) when its vectors fit the budget, else `ivfpq` with 4-bit
  fast-scan PQ codes and an exact re-score of a shortlist from the on-disk float16 store, with the
  most bytes per item that fit (at most `dim / 4` sub-quantizers). A budget below the smallest
  such index is refused before anything is encoded, with the size it would need. Any other type
  is checked against the budget, its sizes from the type itself (`IndexType.memory_bytes`).
- `scan_fallback`: when no IVF setting reaches the target (vectors with little structure, such
  as random ones), `auto` rebuilds as a scan: exact (`flat`) when it fits the budget, else the
  float16 scan (`flat16`, a quarter of exact's memory: no packed float32 copy), whose recall is
  measured like any approximate index's.
- `tune`: after the build, the cheapest value of the type's search knob (`IndexType.knob`:
  `nprobe` for IVF, `efSearch` for HNSW), and the shortlist of a type that re-ranks, whose
  recall@10 on sampled gallery items reaches the target. When none does, the error says how far
  it got and what would reach it.

Recall@10 is measured against exact search over the store: for `recall_queries` gallery items
drawn at random, the share of their 10 nearest other items that the index returns (the item
itself is left out on both sides: it would be a free hit).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

import faiss
import numpy as np
import torch

from ccrkit.index.config import AUTO, IndexConfig
from ccrkit.index.types.ivfpq import default_lists
from ccrkit.index.vectors import VectorStore

EXACT_MAX_ITEMS = 250_000  # the exact scan's cost grows with n: 100k meets the latency target
EXACT, COMPRESSED = "flat", "ivfpq"  # the two index types `auto` chooses between
HALF = "flat16"  # `auto`'s scan when exact search does not fit the budget
DEFAULT_RERANK = 100  # `auto`'s shortlist when its params say 0
SHORTLISTS = (1, 2, 4, 8, 16, 32)  # shortlists tried, in multiples of the configured `rerank`
GROUND_TRUTH_ROWS = 1 << 16  # store rows scored per exact block while measuring recall
ONE_SIDED_95 = 1.645  # z of a one-sided 95 % bound: the target is met with that confidence
SearchFn = Callable[[np.ndarray, int], np.ndarray]


def show_bytes(size: float) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{int(size)} B"


def index_bytes(config: IndexConfig, count: int, dim: int) -> int:
    """Memory the FAISS index takes once loaded (the on-disk store is not counted: it is mapped
    and only the shortlist rows a query re-scores are read)."""
    return config.kind.memory_bytes(count, dim)


def exact_bytes(count: int, dim: int) -> int:
    """What the exact scan holds in memory: the vectors plus the packed copy it scans."""
    return 2 * index_bytes(IndexConfig(type=EXACT), count, dim)


def ivf_candidates(config: IndexConfig, count: int, dim: int) -> list[IndexConfig]:
    """`auto`'s IVF fast-scan configs from the most to the fewest bytes per item (dim/4 ...
    dim/32 sub-quantizers of 4 bits), re-ranked from the store."""
    auto = config.settings
    subs = [m for m in (dim // 4, dim // 8, dim // 16, dim // 32) if m >= 2 and dim % m == 0]
    lists, rerank = auto.nlist or default_lists(count), auto.rerank or DEFAULT_RERANK
    shared = {"pq_bits": 4, "nlist": lists, "nprobe": auto.nprobe, "rerank": rerank}
    return [config.with_type(COMPRESSED, pq_m=m, **shared) for m in dict.fromkeys(subs or [1])]


def choose_config(config: IndexConfig, count: int, dim: int) -> IndexConfig:
    """The concrete config for `type: auto`; another type is returned with its automatic
    parameters filled in (`IndexType.filled`), after checking it fits `max_memory`."""
    budget = config.memory_budget or math.inf
    if config.type != AUTO:
        config = config.with_params(**config.kind.filled(count, dim))
        need = index_bytes(config, count, dim)
        if need > budget:
            raise ValueError(
                f"--max-memory {show_bytes(budget)} is too small for a {config.type} index of "
                f"{count:,} x {dim}: it needs {show_bytes(need)}"
            )
        return config
    if count <= EXACT_MAX_ITEMS and exact_bytes(count, dim) <= budget:
        return config.with_type(EXACT)
    candidates = ivf_candidates(config, count, dim)
    for candidate in candidates:
        if index_bytes(candidate, count, dim) <= budget:
            return candidate
    smallest = candidates[-1]
    ivf = smallest.settings
    raise ValueError(
        f"--max-memory {show_bytes(budget)} is too small for any index of {count:,} x {dim}: "
        f"the smallest (IVF{ivf.nlist},PQ{ivf.pq_m}x{ivf.pq_bits}fs, re-ranked from the on-disk "
        f"store) needs {show_bytes(index_bytes(smallest, count, dim))}"
    )


def scan_fallback(requested: IndexConfig, count: int, dim: int) -> IndexConfig | None:
    """For `auto` whose IVF index misses the recall target: exact search when it fits the
    budget, else the float16 scan when that fits; else None (the caller reports the miss)."""
    if requested.type != AUTO:
        return None
    budget = requested.memory_budget or math.inf
    if exact_bytes(count, dim) <= budget:
        return requested.with_type(EXACT)
    half = requested.with_type(HALF)
    return half if index_bytes(half, count, dim) <= budget else None


def scan_needs(count: int, dim: int) -> str:
    """What the two scans need in memory: the way out when no IVF setting reaches a target."""
    half = index_bytes(IndexConfig(type=HALF), count, dim)
    return (
        f"exact search reaches 1.0 and needs {show_bytes(exact_bytes(count, dim))}, the float16 "
        f"scan ({HALF}) about 0.99 or more and needs {show_bytes(half)}"
    )


class RecallProbe:
    """Sampled gallery items as queries and their exact 10 nearest other items, from the store."""

    def __init__(self, store: VectorStore, queries: int, seed: int, k: int = 10) -> None:
        count = len(store)
        self.k = min(k, count - 1)
        rows = np.sort(np.random.default_rng(seed).choice(count, min(queries, count), False))
        self.rows, self.queries = rows, store.sample(rows)
        self.truth = _drop_self(exact_top_k(store, self.queries, self.k + 1), rows, self.k)

    def recall(self, search: SearchFn) -> float:
        """Mean share of the exact 10 nearest others that `search(queries, n)` (rows) finds."""
        return float(np.mean(self.per_query(search)))

    def lower_bound(self, search: SearchFn) -> tuple[float, float]:
        """(mean recall, its one-sided 95 % lower confidence bound over the sampled queries).
        Tuning to the mean alone leaves other queries' recall at the target only half of the
        time (1M structured: 0.953 on the probe, 0.945 on held-out queries)."""
        recalls = self.per_query(search)
        spread = float(np.std(recalls, ddof=1)) if len(recalls) > 1 else 0.0
        mean = float(np.mean(recalls))
        return mean, mean - ONE_SIDED_95 * spread / math.sqrt(len(recalls))

    def per_query(self, search: SearchFn) -> np.ndarray:
        """Each query's share of its exact 10 nearest others that `search` finds."""
        if self.k < 1:
            return np.ones(max(1, len(self.rows)))
        found = _drop_self(search(self.queries, self.k + 1), self.rows, self.k)
        hits = [
            len(set(t) & set(f)) for t, f in zip(self.truth.tolist(), found.tolist(), strict=True)
        ]
        return np.array(hits, dtype=np.float64) / self.k


def _drop_self(rows: np.ndarray, own: np.ndarray, k: int) -> np.ndarray:
    """The first `k` of each line of `rows` that are not that line's own row."""
    kept = [
        [r for r in line if r != me][:k]
        for line, me in zip(rows.tolist(), own.tolist(), strict=True)
    ]
    return np.array(kept, dtype=np.int64).reshape(len(rows), k)


def exact_top_k(store: VectorStore, queries: np.ndarray, k: int) -> np.ndarray:
    """Rows of the exact top-k of every query over the whole store, block by block (float32)."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    query_tensor = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32))
    with torch.inference_mode():
        for start, block in store.chunks(GROUND_TRUTH_ROWS):
            scores = query_tensor @ torch.from_numpy(block).T
            top, where = torch.topk(scores, min(k, scores.shape[1]), dim=1)
            best_scores = np.concatenate([best_scores, top.numpy()], axis=1)
            best_rows = np.concatenate([best_rows, where.numpy() + start], axis=1)
            order = np.lexsort((best_rows, -best_scores), axis=1)[:, :k]
            best_scores = np.take_along_axis(best_scores, order, axis=1)
            best_rows = np.take_along_axis(best_rows, order, axis=1)
    return best_rows


@dataclasses.dataclass
class Tuned:
    search_params: dict[str, int]
    rerank: int
    recall: float
    cpu_ms_per_query: float
    recall_bound: float = 0.0  # one-sided 95 % lower confidence bound of `recall`


class RecallOutOfReach(ValueError):
    """No search setting of the built index reaches the target; `best` is the closest."""

    def __init__(self, message: str, best: Tuned) -> None:
        super().__init__(message)
        self.best = best


def tune(
    index: faiss.Index,
    config: IndexConfig,
    probe: RecallProbe,
    rerank_search: Callable[[int], SearchFn],
    way_out: str,
) -> Tuned:
    """The cheapest search parameters reaching `config.target_recall` on `probe` (its one-sided
    95 % lower confidence bound, so that queries outside the sample reach it too).

    `rerank_search(shortlist)` is the index's search with that shortlist re-scored exactly
    (shortlist 0: FAISS's own ranking). Recall grows with both knobs, so each shortlist is
    first tried at the widest search (a miss there rules the shortlist out in one measurement),
    then the smallest power of two that reaches the target is found by bisection. Cost is CPU
    time per query on this thread over the probe's queries. Raises `RecallOutOfReach`, whose
    message ends with `way_out` (`scan_needs`: what more bytes per item would buy).
    """
    kind = config.kind
    knob = kind.knob
    if knob is None:
        raise ValueError(f"index type '{config.type}' has no search knob to tune")
    widest = int(math.log2(kind.knob_limit()))
    shortlists = [kind.rerank * m for m in SHORTLISTS] if kind.rerank else [0]
    tried: dict[tuple[int, int], Tuned] = {}

    def measure(power: int, shortlist: int) -> Tuned:
        if (power, shortlist) not in tried:
            _set(index, knob, 2**power)
            start = time.process_time()
            recall, bound = probe.lower_bound(rerank_search(shortlist))
            cost = (time.process_time() - start) * 1000 / len(probe.queries)
            tried[power, shortlist] = Tuned({knob: 2**power}, shortlist, recall, cost, bound)
        return tried[power, shortlist]

    def meets(power: int, shortlist: int) -> bool:
        return measure(power, shortlist).recall_bound >= config.target_recall

    found = []
    for shortlist in shortlists:
        if not meets(widest, shortlist):
            continue
        low, high = -1, widest  # the target is missed at 2**low (or below 1), met at 2**high
        while high - low > 1:
            middle = (low + high) // 2
            if meets(middle, shortlist):
                high = middle
            else:
                low = middle
        found.append(measure(high, shortlist))
    if not found:
        best = max(tried.values(), key=lambda t: t.recall)
        raise RecallOutOfReach(
            f"recall@10 {config.target_recall} is out of reach of {kind.describe()}: at best "
            f"{best.recall:.3f} ({knob}={best.search_params[knob]}, shortlist {best.rerank}, "
            f"95 % lower bound {best.recall_bound:.3f}); "
            f"lower --target-recall, or give the index more bytes per item: {way_out}",
            best,
        )
    chosen = min(found, key=lambda t: t.cpu_ms_per_query)
    _set(index, knob, chosen.search_params[knob])
    return chosen


def _set(index: faiss.Index, knob: str, value: int) -> None:
    faiss.ParameterSpace().set_index_parameter(index, knob, value)
