"""A score threshold below which a search has no good match, calibrated on held-out queries.

Cosine scores of one model have no absolute meaning, so "is the top hit any good?" needs the
model's own scale. On the validation split (captions whose item is known), two scores per query:
- `own`: the score of its own item — what a query with a true match in the gallery scores;
- `other`: the best score of any other item — what the top hit scores when the gallery holds no
  match for the query.
The threshold is the score that separates the two best (it maximises the share of `own` at or
above it minus the share of `other` at or above it, Youden's J). The search page shows "no good
match" when the top hit scores below it; the manifest keeps both shares, so a reader knows what
the threshold promises on held-out data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ccrkit.index.model import RetrievalModel, check_embeddings

MAX_QUERIES = 2000  # per calibration; drawn evenly over the split's captions


@dataclass(frozen=True)
class Calibration:
    threshold: float
    split: str
    queries: int
    items: int
    langs: list[str]
    kept: float  # share of `own` scores >= threshold: true matches shown as good
    flagged: float  # share of `other` scores < threshold: no-match queries flagged as such

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def separating_threshold(own: np.ndarray, other: np.ndarray) -> tuple[float, float, float]:
    """(threshold, kept, flagged): the score t maximising P(own >= t) - P(other >= t), the
    lowest such t (a new query just above the best wrong match still counts as a match)."""
    own, other = np.sort(np.asarray(own, np.float64)), np.sort(np.asarray(other, np.float64))
    seen = np.unique(np.concatenate([own, other]))
    # midway between neighbouring scores: a threshold never sits on a score it must separate
    candidates = np.concatenate([seen[:1], (seen[1:] + seen[:-1]) / 2, seen[-1:] + 1e-6])
    kept = 1.0 - np.searchsorted(own, candidates, side="left") / len(own)
    passed = 1.0 - np.searchsorted(other, candidates, side="left") / len(other)
    best = int(np.argmax(kept - passed))
    return float(candidates[best]), float(kept[best]), float(1.0 - passed[best])


def calibrate(
    model: RetrievalModel,
    item_vectors: np.ndarray,
    queries: Sequence[tuple[str, str | None, int]],
    split: str,
    batch_size: int = 256,
) -> Calibration:
    """The threshold for `model` from `queries` (text, language, row of its item in
    `item_vectors`, the unit vectors of the split's gallery)."""
    if len(item_vectors) < 2 or not queries:
        raise ValueError("calibration needs queries and a gallery of at least two items")
    chosen = _evenly(list(queries), MAX_QUERIES)
    own, other = [], []
    for lang in dict.fromkeys(lang for _, lang, _ in chosen):
        group = [(text, row) for text, code, row in chosen if code == lang]
        for start in range(0, len(group), batch_size):
            part = group[start : start + batch_size]
            texts, rows = [t for t, _ in part], np.array([r for _, r in part])
            encoded = model.encode_texts(texts, lang)
            vectors = check_embeddings(encoded, len(texts), model.dim, "encode_texts")
            scores = vectors @ item_vectors.T
            own.append(scores[np.arange(len(rows)), rows])
            scores[np.arange(len(rows)), rows] = -np.inf
            other.append(scores.max(axis=1))
    threshold, kept, flagged = separating_threshold(np.concatenate(own), np.concatenate(other))
    langs = sorted({lang or "any" for _, lang, _ in chosen})
    return Calibration(round(threshold, 6), split, len(chosen), len(item_vectors), langs,
                       round(kept, 4), round(flagged, 4))  # fmt: skip


def _evenly(items: list, limit: int) -> list:
    if len(items) <= limit:
        return items
    picks = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in picks]
