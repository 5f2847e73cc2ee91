"""Consistency across query languages (methods.md §4.3, §5.4): ranks aligned per item, MRV in
both directions, and the spread of mR over languages.

The per-query ranks of every evaluated label are saved with the query → item map and the gallery's
item ids (`save_rank_files`), so ranks of one model queried in several languages, or of several
per-language models, can be aligned afterwards (`LanguageRanks.load`). Alignment is by item id:
every language must rank the same gallery.

MRV (`metrics.mrv`) needs one rank per (unit, language), 0-based as in the official code (the
spread is the same for 1-based ranks):

- v2t: unit = gallery item; r_{i,l} = rank of item i's best caption in language l (the protocol's
  v2t rank), so MRV_v2t = (1/N) Σ_i std_l(r_{i,l}).
- t2v, `unit="item"` (default): r_{i,l} = the mean of the ranks of item i's captions in language l
  used as queries. With one caption per item and language (xFlickr&CO, Multi30K test) this is the
  official per-item rank; with several (the world, COCO) every caption counts once, and the item
  needs no caption aligned with another language's (the world's human captions are written
  independently per language).
- t2v, `unit="caption"`: r_{(i,j),l} = the rank of item i's j-th caption in language l (file
  order), for test sets whose captions are parallel across languages; every language must have
  the same number of captions for each item.

The spread of mR is the population standard deviation (and min/max) of the per-language mR of the
native queries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ccrkit.evaluate.metrics import mrv
from ccrkit.retrieval.ranking import Ranks, caption_table
from ccrkit.tables import pipe_table

CROSS_LABEL = "cross-language"
T2V_UNITS = ("item", "caption")
T2vUnit = Literal["item", "caption"]
CROSS_KEYS = (
    "t2v_mrv_std", "t2v_mrv_var", "v2t_mrv_std", "v2t_mrv_var",
    "mr_mean", "mr_std", "mr_min", "mr_max", "languages",
)  # fmt: skip


def default_eval_langs(
    lang: str, target_langs: Sequence[str], eval_langs: Sequence[str] = ()
) -> list[str]:
    """The languages a run is validated and tested on: `eval_langs` when given; else every
    target language when there are several (`lang` first), else `lang` alone."""
    if eval_langs:
        return list(dict.fromkeys(eval_langs))
    if len(target_langs) > 1:
        return list(dict.fromkeys([lang, *target_langs]))
    return [lang]


@dataclass(frozen=True)
class LanguageRanks:
    """One language's ranks over one gallery: 1-based t2v per query, v2t per item."""

    lang: str
    item_ids: list[str]
    query_item: np.ndarray
    t2v: np.ndarray
    v2t: np.ndarray

    @classmethod
    def from_ranks(
        cls, lang: str, ranks: Ranks, query_item: np.ndarray, item_ids: Sequence[str]
    ) -> LanguageRanks:
        return cls(lang, list(item_ids), np.asarray(query_item), ranks.t2v, ranks.v2t)

    @classmethod
    def load(cls, directory: str | Path, prefix: str, lang: str) -> LanguageRanks:
        """Read the files `save_rank_files` wrote under `prefix` (e.g. "de_native.")."""
        directory = Path(directory)
        paths = {name: directory / f"{prefix}{name}" for name in RANK_FILES}
        missing = [str(path) for path in paths.values() if not path.is_file()]
        if missing:
            raise FileNotFoundError(
                f"rank files missing for '{lang}': {', '.join(missing)} (runs evaluated before "
                "ccrkit saved the query -> item map cannot be aligned; evaluate them again)"
            )
        items = paths["items.txt"].read_text(encoding="utf-8").split()
        return cls(
            lang, items, np.load(paths["query_item.npy"]), np.load(paths["t2v_ranks.npy"]),
            np.load(paths["v2t_ranks.npy"]),
        )  # fmt: skip


RANK_FILES = ("items.txt", "query_item.npy", "t2v_ranks.npy", "v2t_ranks.npy")


def save_rank_files(
    directory: str | Path, prefix: str, ranks: Ranks, query_item: np.ndarray,
    item_ids: Sequence[str],
) -> None:  # fmt: skip
    """`Ranks.save` plus `<prefix>query_item.npy` and `<prefix>items.txt` (gallery order)."""
    directory = Path(directory)
    ranks.save(directory, prefix)
    np.save(directory / f"{prefix}query_item.npy", np.asarray(query_item, dtype=np.int64))
    (directory / f"{prefix}items.txt").write_text("\n".join(item_ids) + "\n", encoding="utf-8")


def item_t2v_ranks(t2v: np.ndarray, query_item: np.ndarray, n_items: int) -> np.ndarray:
    """(n_items,) mean 0-based t2v rank of each item's captions (items without one: NaN)."""
    counts = np.bincount(query_item, minlength=n_items).astype(np.float64)
    sums = np.bincount(query_item, weights=t2v.astype(np.float64) - 1.0, minlength=n_items)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def caption_t2v_ranks(t2v: np.ndarray, query_item: np.ndarray, n_items: int) -> np.ndarray:
    """(n_items, captions) 0-based t2v rank of item i's j-th caption; -1 where it has none."""
    captions = caption_table(query_item, n_items)
    return np.where(captions >= 0, t2v[np.maximum(captions, 0)] - 1.0, -1.0)


def aligned_ranks(
    languages: Sequence[LanguageRanks], unit: T2vUnit = "item"
) -> tuple[np.ndarray, np.ndarray]:
    """0-based rank matrices (languages × units): t2v per `unit`, v2t per item, in the first
    language's gallery order; every language must rank the same items."""
    if len(languages) < 2:
        raise ValueError(f"aligning ranks needs two or more languages, got {len(languages)}")
    if unit not in T2V_UNITS:
        raise ValueError(f"unit must be one of {', '.join(T2V_UNITS)}, got {unit!r}")
    first = languages[0]
    t2v_rows, v2t_rows = [], []
    for lang in languages:
        order = _gallery_order(first, lang)
        n = len(lang.item_ids)
        per_item = (
            item_t2v_ranks(lang.t2v, lang.query_item, n)
            if unit == "item"
            else caption_t2v_ranks(lang.t2v, lang.query_item, n)
        )
        t2v_rows.append(per_item[order])
        v2t_rows.append(lang.v2t[order] - 1.0)
    if unit == "caption":
        _check_parallel(languages, t2v_rows)
        t2v_rows = [rows.reshape(-1) for rows in t2v_rows]
    t2v, v2t = np.stack(t2v_rows), np.stack(v2t_rows)
    keep = np.isfinite(t2v).all(axis=0) & (t2v >= 0).all(axis=0)
    ranked = (v2t >= 0).all(axis=0)  # a v2t rank of 0 (here -1): a distractor in that language
    return t2v[:, keep], v2t[:, ranked]


def _gallery_order(first: LanguageRanks, other: LanguageRanks) -> np.ndarray:
    """Positions in `other`'s gallery of `first`'s items, in `first`'s order."""
    if first.item_ids == other.item_ids:
        return np.arange(len(first.item_ids))
    index = {item: i for i, item in enumerate(other.item_ids)}
    if len(index) != len(first.item_ids) or any(item not in index for item in first.item_ids):
        raise ValueError(
            f"languages '{first.lang}' and '{other.lang}' rank different galleries "
            f"({len(first.item_ids)} vs {len(other.item_ids)} items); MRV needs the same items"
        )
    return np.array([index[item] for item in first.item_ids])


def _check_parallel(languages: Sequence[LanguageRanks], tables: list[np.ndarray]) -> None:
    shapes = {lang.lang: table.shape for lang, table in zip(languages, tables, strict=True)}
    counts = [(table >= 0).sum(axis=1) for table in tables]
    if len(set(shapes.values())) != 1 or any((c != counts[0]).any() for c in counts[1:]):
        raise ValueError(
            "unit='caption' needs the same number of captions per item in every language "
            f"(captions per item table shapes: {shapes}); use unit='item'"
        )


def rank_spread(ranks: np.ndarray) -> np.ndarray:
    """Per-unit population standard deviation over languages of a (languages × units) matrix."""
    return np.std(ranks, axis=0)


def cross_language_metrics(
    languages: Sequence[LanguageRanks],
    mr: Mapping[str, float],
    unit: T2vUnit = "item",
) -> dict[str, float]:
    """MRV (std and var, t2v and v2t) over the languages' aligned ranks, and the mR spread."""
    return aligned_metrics(*aligned_ranks(languages, unit), [mr[lang.lang] for lang in languages])


def aligned_metrics(t2v: np.ndarray, v2t: np.ndarray, mr: Sequence[float]) -> dict[str, float]:
    """`cross_language_metrics` from rank matrices already aligned (`aligned_ranks`) and the
    languages' mR in the same order."""
    values = np.asarray(mr, dtype=np.float64)
    return {
        "t2v_mrv_std": mrv(t2v, "std"), "t2v_mrv_var": mrv(t2v, "var"),
        "v2t_mrv_std": mrv(v2t, "std"), "v2t_mrv_var": mrv(v2t, "var"),
        "mr_mean": float(values.mean()), "mr_std": float(values.std()),
        "mr_min": float(values.min()), "mr_max": float(values.max()),
        "languages": float(len(values)),
    }  # fmt: skip


def cross_language_table(metrics: Mapping[str, float], langs: Sequence[str]) -> str:
    """A one-row Markdown table of `cross_language_metrics`."""
    head = ["languages", "t2v MRV (std)", "t2v MRV (var)", "v2t MRV (std)", "v2t MRV (var)",
            "mR mean", "mR std", "mR min", "mR max"]  # fmt: skip
    keys = CROSS_KEYS[:-1]
    return pipe_table(head, [[", ".join(langs), *(f"{metrics[k]:.2f}" for k in keys)]])
