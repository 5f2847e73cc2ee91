"""Ranks of the relevant items, block by block and vectorised (methods.md §1.4, §5.3–5.5).

t2v: every caption is a query with exactly one relevant item, ranked against the whole gallery.
v2t: an item's rank is the rank of its first caption in the item's ordering of all captions; its
average precision treats all of its captions as relevant. Items without any caption (distractors,
as real search galleries have) take part in every t2v ranking but have no v2t rank: their entry
in `Ranks.v2t` is 0 and their AP NaN, and v2t metrics are taken over the items that have one. Ties are broken *against* the relevant entries ("pessimistic", the default:
rank = 1 + number of non-relevant candidates scoring >= the relevant one), *in their favour*
("optimistic": only strictly higher scores count), or by candidate index ("stable": the order a
stable argsort of the negated scores gives, which reproduces published numpy code on tied scores).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from ccrkit.retrieval.scores import DEFAULT_BLOCK_BYTES, ScoreSource, block_rows

Ties = Literal["pessimistic", "optimistic", "stable"]
TIE_POLICIES: tuple[str, ...] = get_args(Ties)


@dataclass(frozen=True)
class Ranks:
    """Per-query and per-item results from which every metric is computed."""

    t2v: np.ndarray  # (n_queries,) 1-based rank of each query's item
    v2t: np.ndarray  # (n_items,) 1-based rank of each item's best caption; 0: it has none
    v2t_ap: np.ndarray  # (n_items,) average precision, all of the item's captions relevant

    @property
    def ranked_items(self) -> np.ndarray:
        """(n_items,) bool: the items that have a caption, hence a v2t rank (not distractors)."""
        return self.v2t > 0

    def save(self, directory: str | Path, prefix: str = "") -> list[Path]:
        """Write `<prefix>t2v_ranks.npy`, `<prefix>v2t_ranks.npy`, `<prefix>v2t_ap.npy`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for name in ("t2v", "v2t", "v2t_ap"):
            path = directory / f"{prefix}{name}{'' if name.endswith('ap') else '_ranks'}.npy"
            np.save(path, getattr(self, name))
            paths.append(path)
        return paths


def compute_ranks(
    source: ScoreSource,
    query_item: np.ndarray,
    # pessimistic by default: a model that gives many items the same score (a collapsed one
    # gives all of them one) must not get credit for them; optimistic ties would rank a
    # constant scorer first for every query
    ties: Ties = "pessimistic",
    block_bytes: int = DEFAULT_BLOCK_BYTES,
) -> Ranks:
    """Rank every query (t2v) and every item (v2t) without holding more than a few score blocks."""
    if ties not in TIE_POLICIES:
        raise ValueError(f"ties must be one of {', '.join(TIE_POLICIES)}; got {ties!r}")
    query_item = check_query_item(query_item, source.n_queries, source.n_items)
    positives = caption_table(query_item, source.n_items)
    valid = positives >= 0
    step = block_rows(source.n_items, block_bytes)

    def t2v(start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        return _t2v_block(source.query_block(start, stop), query_item[start:stop], ties)

    t2v_parts = _map_blocks(t2v, source.n_queries, step)
    own = np.concatenate([score for _, score in t2v_parts])  # each caption's score for its item
    scores = np.where(valid, own[np.where(valid, positives, 0)], np.inf)  # (items, slots)

    def v2t(start: int, stop: int) -> np.ndarray:
        block = source.query_block(start, stop)
        return _captions_before(block, scores, positives, valid, ties, offset=start)

    # v2t reads the same row slabs as t2v (contiguous), each adding its captions' counts
    before_all = sum(_map_blocks(v2t, source.n_queries, step))
    v2t_ranks, v2t_ap = _v2t_from_counts(before_all, scores, positives, valid, ties)
    return Ranks(t2v=np.concatenate([rank for rank, _ in t2v_parts]), v2t=v2t_ranks, v2t_ap=v2t_ap)


def check_query_item(query_item: np.ndarray, n_queries: int, n_items: int) -> np.ndarray:
    """The item index of every query: integers in [0, n_items) (items no query names are
    distractors)."""
    query_item = np.asarray(query_item)
    whole = query_item.dtype.kind == "f" and np.all(np.isfinite(query_item))
    if whole and np.all(query_item == np.round(query_item)):  # integers saved as floats
        query_item = query_item.astype(np.int64)
    if query_item.dtype.kind not in "iu":
        raise ValueError(f"query_item must hold integer item indices, got dtype {query_item.dtype}")
    if query_item.shape != (n_queries,):
        raise ValueError(
            f"query_item has shape {query_item.shape}; expected ({n_queries},), one item index "
            "per query (row of the similarity matrix)"
        )
    query_item = query_item.astype(np.int64, copy=False)
    outside = (query_item < 0) | (query_item >= n_items)
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"query_item[{first}] = {query_item[first]} is out of range; expected item indices "
            f"0..{n_items - 1} (one per column of the similarity matrix)"
        )
    if n_queries == 0:
        raise ValueError("no queries: the similarity matrix has no rows")
    return query_item


def caption_table(query_item: np.ndarray, n_items: int) -> np.ndarray:
    """(n_items, max captions) caption indices of each item in ascending order, padded with -1."""
    order = np.argsort(query_item, kind="stable")
    counts = np.bincount(query_item, minlength=n_items)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(len(order)) - np.repeat(starts, counts)
    table = np.full((n_items, int(counts.max())), -1, dtype=np.int64)
    table[query_item[order], slot] = order
    return table


def _before(
    values: np.ndarray,
    value_index: np.ndarray,
    score: np.ndarray,
    index: np.ndarray | None,
    ties: str,
) -> np.ndarray:
    """Whether each candidate (value, value_index) is ordered before an entry (score, index).

    For "pessimistic" an entry counts as being before itself, for the others it does not; callers
    subtract the same predicate evaluated over the relevant entries, so that cancels out.
    """
    if ties == "pessimistic":
        return values >= score
    if ties == "optimistic":
        return values > score
    return (values > score) | ((values == score) & (value_index < index))


def _t2v_block(block: np.ndarray, targets: np.ndarray, ties: str) -> tuple[np.ndarray, np.ndarray]:
    """Ranks of a slab of queries, and each query's score for its own item."""
    rows = np.arange(len(targets))
    score = block[rows, targets][:, None]
    items = np.arange(block.shape[1])[None, :]
    before = _count_true(_before(block, items, score, targets[:, None], ties), axis=1)
    return before - (ties == "pessimistic") + 1, score[:, 0]


def _v2t_from_counts(
    before_all: np.ndarray, scores: np.ndarray, positives: np.ndarray, valid: np.ndarray, ties: str
) -> tuple[np.ndarray, np.ndarray]:
    """Each item's rank (its best relevant caption among the negatives) and AP, from how many
    captions precede each relevant caption in the item's column."""
    pairs = (scores[:, None, :], positives[:, None, :], scores[:, :, None], positives[:, :, None])
    negatives_before = before_all - np.count_nonzero(
        _before(*pairs, ties) & valid[:, None, :], axis=2
    )
    # among an item's own captions, ties are broken by index whatever the policy: the policy
    # decides how relevant captions fare against other items' captions, while AP needs each
    # relevant caption to have one distinct place among the relevant ones
    positives_before = np.count_nonzero(_before(*pairs, "stable") & valid[:, None, :], axis=2)
    position = np.where(valid, positives_before + negatives_before + 1, 1)  # 1-based, in the list
    captions = valid.sum(axis=1)
    ap_sum = np.where(valid, (positives_before + 1) / position, 0.0).sum(axis=1)
    ap = np.divide(ap_sum, captions, out=np.full(len(captions), np.nan), where=captions > 0)
    best = np.where(valid, negatives_before, np.iinfo(np.int64).max).min(axis=1)
    rank = np.where(captions > 0, best + 1, 0)  # 0: a distractor, no caption to rank
    return rank, ap


def _captions_before(
    block: np.ndarray,
    scores: np.ndarray,
    positives: np.ndarray,
    valid: np.ndarray,
    ties: str,
    offset: int = 0,
) -> np.ndarray:
    """(items, slots): how many captions of a slab (rows offset..offset+len) each relevant
    caption's item column orders before it; `scores` is +inf in unused slots.

    Only captions scoring at least an item's lowest relevant score can precede any of its relevant
    captions; with a useful model they are few, so they are gathered once and filtered through
    the item's relevant captions from the easiest to pass to the hardest (sparse path). When they
    are many, every slot is compared against the whole column.
    """
    n_items, width = positives.shape
    lowest = scores.min(axis=1)
    candidates = np.flatnonzero(block >= lowest[None, :])
    counts = np.zeros((n_items, width), dtype=np.int64)
    if len(candidates) > block.size // 8:
        captions = offset + np.arange(block.shape[0])[:, None]
        for slot in range(width):
            cols = np.flatnonzero(valid[:, slot])
            sub = block if len(cols) == n_items else block[:, cols]
            hits = _before(sub, captions, scores[cols, slot], positives[cols, slot], ties)
            counts[cols, slot] = _count_true(hits, axis=0)
        return counts
    rows, cols = np.divmod(candidates, block.shape[1])
    values = block.ravel()[candidates] if block.flags.c_contiguous else block[rows, cols]
    rows = offset + rows if ties == "stable" else None  # only "stable" compares caption indices
    # each item's relevant captions from the easiest to pass to the hardest (a caption ordered
    # before one of them is ordered before every easier one): each level filters the last's hits
    easiest_first = np.lexsort((-positives, scores), axis=-1)
    by_level = np.take_along_axis(scores, easiest_first, axis=1).T.copy()
    index_by_level = np.take_along_axis(positives, easiest_first, axis=1).T.copy()
    counted = np.zeros((width, n_items), dtype=np.int64)
    for level in range(width):  # +inf thresholds (no such slot) are never reached
        if level or ties != "pessimistic":  # pessimistic: every candidate passes the easiest
            index = index_by_level[level][cols] if rows is not None else None
            hits = _before(values, rows, by_level[level][cols], index, ties)
            cols, values = cols[hits], values[hits]
            rows = rows[hits] if rows is not None else None
        counted[level] = np.bincount(cols, minlength=n_items)
    np.put_along_axis(counts, easiest_first, counted.T, axis=1)
    return counts


def _count_true(mask: np.ndarray, axis: int) -> np.ndarray:
    """Number of True values along an axis (summing bytes is faster than count_nonzero)."""
    return mask.view(np.uint8).sum(axis=axis, dtype=np.int32).astype(np.int64)


def _map_blocks(fn: Callable[[int, int], object], total: int, step: int) -> list:
    """Apply `fn(start, stop)` to consecutive blocks of at most `step` rows, in order.

    numpy releases the GIL in its loops, so the blocks run on a thread per core; work is split
    into at least one block per core.
    """
    workers = os.cpu_count() or 1
    step = max(1, min(step, -(-total // workers)))
    spans = [(start, min(start + step, total)) for start in range(0, total, step)]
    if len(spans) == 1 or workers == 1:
        return [fn(*span) for span in spans]
    return list(_thread_pool(workers).map(lambda span: fn(*span), spans))


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _thread_pool(workers: int) -> ThreadPoolExecutor:
    """One pool per process, kept between calls: starting the threads of a fresh pool took a
    fifth of the time of a 1,000 x 5,000 ranking. (Its tasks must not wait on the pool.)"""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ccrkit-ranks")
        return _POOL


def _forget_pool_after_fork() -> None:
    """A forked child inherits the pool object but none of its threads: it must start its own."""
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_after_fork)
