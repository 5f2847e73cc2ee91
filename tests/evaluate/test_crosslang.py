"""Cross-language consistency: MRV on hand-computed ranks, per-item alignment, rank files, and the
protocol's cross-language row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ccrkit.data.batch import TokenBatch, VisualBatch
from ccrkit.evaluate.crosslang import (
    CROSS_LABEL,
    LanguageRanks,
    aligned_ranks,
    cross_language_metrics,
    default_eval_langs,
    item_t2v_ranks,
    save_rank_files,
)
from ccrkit.evaluate.metrics import mrv
from ccrkit.evaluate.protocol import evaluate_languages, validate, validate_languages
from ccrkit.evaluate.ranking import Ranks


class TableEncoder:
    """Fixed embeddings: texts looked up in a table, visual values passed through."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def tokenize(self, texts: list[str]) -> TokenBatch:
        return TokenBatch(torch.zeros(len(texts), 1), torch.ones(len(texts), 1), list(texts))

    def encode_text(self, tokens: TokenBatch, lang: str) -> torch.Tensor:
        return torch.tensor([self.table[t] for t in tokens.texts])

    def encode_visual(self, visual: VisualBatch) -> torch.Tensor:
        return visual.values[:, 0]


class TableSet:
    def __init__(self, items: list[list[float]], queries: list[str], query_item: list[int]):
        self.items = torch.tensor(items)
        self.item_ids = [f"item{i}" for i in range(len(items))]
        self.query_texts, self.query_texts_to_en = queries, None
        self.query_item = np.asarray(query_item)
        self.source_texts = self.source_item = None

    def visual_batches(self, batch_size: int):
        values = self.items[:, None]
        yield VisualBatch(values, torch.ones(len(values), 1, dtype=torch.bool), "feature")


def ranks(lang, items, query_item, t2v, v2t) -> LanguageRanks:
    return LanguageRanks(lang, items, np.array(query_item), np.array(t2v), np.array(v2t))


def test_mrv_std_and_var_on_hand_computed_ranks() -> None:
    # 0-based ranks of three items in two languages: spreads |0-1|/2, 0, |1-4|/2
    zero_based = np.array([[0, 2, 1], [1, 2, 4]])
    assert mrv(zero_based, "std") == pytest.approx((0.5 + 0 + 1.5) / 3)
    assert mrv(zero_based, "var") == pytest.approx((0.25 + 0 + 2.25) / 3)
    assert mrv(zero_based + 1, "std") == pytest.approx(mrv(zero_based, "std"))  # 1-based: same


def test_item_unit_averages_each_items_captions_and_aligns_galleries() -> None:
    # de: item a has captions ranked 1 and 3, item b 2 and 2 -> 0-based means a 1, b 1
    de = ranks("de", ["a", "b"], [0, 0, 1, 1], [1, 3, 2, 2], [1, 4])
    # fr lists its gallery as (b, a): captions 1, 2 are a's (ranks 1, 1 -> 0), 0, 3 are b's
    # (ranks 5, 3 -> 3); v2t b = 2, a = 1
    fr = ranks("fr", ["b", "a"], [0, 1, 1, 0], [5, 1, 1, 3], [2, 1])
    t2v, v2t = aligned_ranks([de, fr], "item")
    np.testing.assert_array_equal(t2v, [[1, 1], [0, 3]])
    np.testing.assert_array_equal(v2t, [[0, 3], [0, 1]])
    found = cross_language_metrics([de, fr], {"de": 50.0, "fr": 70.0})
    assert found["t2v_mrv_std"] == pytest.approx((0.5 + 1.0) / 2)
    assert found["t2v_mrv_var"] == pytest.approx((0.25 + 1.0) / 2)
    assert found["v2t_mrv_std"] == pytest.approx((0 + 1.0) / 2)
    assert found["v2t_mrv_var"] == pytest.approx((0 + 1.0) / 2)
    assert (found["mr_mean"], found["mr_std"], found["mr_min"], found["mr_max"]) == (
        60.0, 10.0, 50.0, 70.0,
    )  # fmt: skip
    assert found["languages"] == 2


def test_caption_unit_pairs_the_jth_captions_of_an_item() -> None:
    de = ranks("de", ["a", "b"], [0, 0, 1, 1], [1, 3, 2, 2], [1, 1])
    fr = ranks("fr", ["a", "b"], [1, 0, 0, 1], [5, 1, 1, 3], [1, 1])
    # a: de (0, 2) vs fr (0, 0); b: de (1, 1) vs fr (4, 2) -> spreads 0, 1, 1.5, 0.5
    t2v, _ = aligned_ranks([de, fr], "caption")
    np.testing.assert_array_equal(t2v, [[0, 2, 1, 1], [0, 0, 4, 2]])
    assert cross_language_metrics([de, fr], {"de": 1, "fr": 1}, "caption")["t2v_mrv_std"] == 0.75
    uneven = ranks("fr", ["a", "b"], [0, 1, 1], [1, 1, 1], [1, 1])
    with pytest.raises(ValueError, match="same number of captions per item"):
        aligned_ranks([de, uneven], "caption")


def test_item_means_and_misaligned_galleries() -> None:
    np.testing.assert_array_equal(
        item_t2v_ranks(np.array([1, 5, 2]), np.array([1, 1, 0]), 2), [1, 2]
    )
    de = ranks("de", ["a", "b"], [0, 1], [1, 1], [1, 1])
    other = ranks("fr", ["a", "c"], [0, 1], [1, 1], [1, 1])
    with pytest.raises(ValueError, match="rank different galleries"):
        aligned_ranks([de, other])
    with pytest.raises(ValueError, match="two or more languages"):
        aligned_ranks([de])


def test_rank_files_round_trip(tmp_path: Path) -> None:
    saved = Ranks(np.array([2, 1, 1]), np.array([1, 3]), np.array([1.0, 0.5]))
    save_rank_files(tmp_path, "de_native.", saved, np.array([1, 0, 1]), ["x", "y"])
    loaded = LanguageRanks.load(tmp_path, "de_native.", "de")
    assert loaded.item_ids == ["x", "y"] and loaded.lang == "de"
    np.testing.assert_array_equal(loaded.query_item, [1, 0, 1])
    np.testing.assert_array_equal(loaded.t2v, [2, 1, 1])
    np.testing.assert_array_equal(loaded.v2t, [1, 3])
    with pytest.raises(FileNotFoundError, match="rank files missing for 'fr'"):
        LanguageRanks.load(tmp_path, "fr_native.", "fr")


def test_default_eval_langs() -> None:
    assert default_eval_langs("de", ["de"]) == ["de"]
    assert default_eval_langs("fr", ["de", "fr", "zh"]) == ["fr", "de", "zh"]
    assert default_eval_langs("de", ["de", "fr"], ["zh", "zh", "ja"]) == ["zh", "ja"]


def three_languages() -> tuple[TableEncoder, dict[str, TableSet]]:
    # two items e0, e1; per language two queries (one per item); zh's query of item 0 is wrong
    table = {"de0": [1.0, 0.0], "de1": [0.0, 1.0], "fr0": [0.9, 0.1], "fr1": [0.1, 0.9],
             "zh0": [0.0, 1.0], "zh1": [0.0, 1.0]}  # fmt: skip
    items = [[1.0, 0.0], [0.0, 1.0]]
    sets = {lang: TableSet(items, [f"{lang}0", f"{lang}1"], [0, 1]) for lang in ("de", "fr", "zh")}
    return TableEncoder(table), sets


def test_evaluate_languages_adds_the_cross_language_row(tmp_path: Path) -> None:
    encoder, sets = three_languages()
    results = evaluate_languages(encoder, sets, [0.5], ranks_dir=tmp_path)
    assert list(results) == ["de native", "fr native", "zh native", CROSS_LABEL]
    # zh's query of item 0 scores (0, 1): item 0 comes second; t2v 0-based per item: item 0
    # (de 0, fr 0, zh 1), item 1 (0, 0, 0) -> spreads std(0, 0, 1) and 0
    cross = results[CROSS_LABEL]
    assert cross["t2v_mrv_std"] == pytest.approx(np.std([0, 0, 1]) / 2)
    assert cross["mr_max"] == 100.0 and cross["languages"] == 3
    loaded = LanguageRanks.load(tmp_path, "zh_native.", "zh")
    np.testing.assert_array_equal(loaded.t2v, [2, 1])


def test_validate_languages_selects_on_the_mean() -> None:
    encoder, sets = three_languages()
    from ccrkit.evaluate.protocol import EvalConfig

    config = EvalConfig(select_metric="t2v_sum")
    results, score = validate_languages(encoder, sets, config)
    singles = [validate(encoder, sets[lang], lang, config)[1] for lang in sets]
    assert score == pytest.approx(np.mean(singles)) and len(results) == 3
    assert validate_languages(encoder, {"de": sets["de"]}, config)[1] == singles[0]


def test_languages_over_one_gallery_encode_it_once() -> None:
    """Several languages over the same items share one gallery encoding (per call); a set over
    other items gets its own."""
    from ccrkit.evaluate.protocol import EvalConfig

    encoder, sets = three_languages()
    calls = []
    encode_visual = encoder.encode_visual
    encoder.encode_visual = lambda visual: calls.append(len(visual.values)) or encode_visual(visual)
    evaluate_languages(encoder, sets, [0.5])
    assert len(calls) == 1
    calls.clear()
    other = TableSet([[0.0, 1.0], [1.0, 0.0]], sets["de"].query_texts, [0, 1])
    other.item_ids = ["a", "b"]
    validate_languages(encoder, {**sets, "cs": other}, EvalConfig())
    assert len(calls) == 2
