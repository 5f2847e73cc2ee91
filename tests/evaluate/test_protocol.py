"""The evaluation protocol: labels, NRCCR fusion direction, batching, ranks, results.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ccrkit.data.batch import TokenBatch, VisualBatch
from ccrkit.evaluate.metrics import fuse, retrieval_metrics
from ccrkit.evaluate.protocol import (
    EvalConfig,
    evaluate_method,
    selection_score,
    validate,
    write_results,
)


class TableEncoder:
    """Fixed embeddings: texts looked up in a table, visual values passed through."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table, self.langs = table, []

    def tokenize(self, texts: list[str]) -> TokenBatch:
        return TokenBatch(torch.zeros(len(texts), 1), torch.ones(len(texts), 1), list(texts))

    def encode_text(self, tokens: TokenBatch, lang: str) -> torch.Tensor:
        self.langs.append(lang)
        return torch.tensor([self.table[t] for t in tokens.texts])

    def encode_visual(self, visual: VisualBatch) -> torch.Tensor:
        return visual.values[:, 0]


class TableSet:
    def __init__(self, items, queries, to_en, query_item, sources=None, source_item=None) -> None:
        self.items = torch.tensor(items, dtype=torch.float32)
        self.item_ids = [f"item{i}" for i in range(len(items))]
        self.query_texts, self.query_texts_to_en = queries, to_en
        self.query_item = np.asarray(query_item)
        self.source_texts, self.source_item = (
            sources,
            None if source_item is None else np.asarray(source_item),
        )

    def visual_batches(self, batch_size: int):
        for start in range(0, len(self.items), batch_size):
            values = self.items[start : start + batch_size, None]
            yield VisualBatch(values, torch.ones(len(values), 1, dtype=torch.bool), "feature")


def two_item_case() -> tuple[TableEncoder, TableSet]:
    # native query a points at the wrong item, its MT into English at the right one
    table = {"qa": [0.0, 1.0], "qb": [0.0, 1.0], "ea": [1.0, 0.0], "eb": [0.0, 1.0]}
    return TableEncoder(table), TableSet(
        [[1.0, 0.0], [0.0, 1.0]], ["qa", "qb"], ["ea", "eb"], [0, 1]
    )


def test_fusion_weight_multiplies_the_english_translation() -> None:
    encoder, data = two_item_case()
    results = evaluate_method(encoder, data, "de", [0.2, 0.8])
    assert list(results) == ["de native", "de fused w=0.2", "de fused w=0.8"]
    # fused scores of query a: [w, 1 - w]; it ranks first only when w > 0.5
    assert results["de native"]["t2v_r1"] == 50.0
    assert results["de fused w=0.2"]["t2v_r1"] == 50.0
    assert results["de fused w=0.8"]["t2v_r1"] == 100.0
    assert set(encoder.langs) == {"de", "en"}


def test_metrics_equal_the_full_matrix_computation_in_small_batches(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    items = rng.standard_normal((6, 4)).tolist()
    names = (
        [f"q{i}" for i in range(12)] + [f"e{i}" for i in range(12)] + [f"s{i}" for i in range(6)]
    )
    table = {name: rng.standard_normal(4).tolist() for name in names}
    query_item = np.repeat(np.arange(6), 2)
    data = TableSet(items, names[:12], names[12:24], query_item, names[24:], np.arange(6))
    config = EvalConfig(batch_size=4)
    results = evaluate_method(TableEncoder(table), data, "de", [0.5], config, ranks_dir=tmp_path)
    gallery = np.asarray(items, dtype=np.float32)
    native = np.asarray([table[n] for n in names[:12]], dtype=np.float32) @ gallery.T
    english = np.asarray([table[n] for n in names[12:24]], dtype=np.float32) @ gallery.T
    sources = np.asarray([table[n] for n in names[24:]], dtype=np.float32) @ gallery.T
    expected = {
        "de native": retrieval_metrics(native, query_item),
        "de fused w=0.5": retrieval_metrics(fuse([english, native], [0.5, 0.5]), query_item),
        "en source": retrieval_metrics(sources, np.arange(6)),
    }
    assert results.keys() == expected.keys()
    for label, metrics in expected.items():
        assert results[label] == pytest.approx(metrics, abs=1e-4)
    assert (tmp_path / "de_fused_w0.5.t2v_ranks.npy").is_file()
    assert np.load(tmp_path / "de_native.v2t_ranks.npy").shape == (6,)


def test_without_translations_only_native_queries_are_scored() -> None:
    encoder, data = two_item_case()
    data.query_texts_to_en = None
    assert list(evaluate_method(encoder, data, "de", [0.2, 0.5])) == ["de native"]
    _, score = validate(encoder, data, "de", EvalConfig())
    assert score == 50.0 + 100.0 + 100.0  # native t2v R@1 + R@5 + R@10


def test_validation_selects_on_the_fused_label() -> None:
    encoder, data = two_item_case()
    results, score = validate(encoder, data, "de", EvalConfig(val_fusion_weight=0.8))
    assert list(results) == ["de native", "de fused w=0.8"]
    assert score == selection_score(results["de fused w=0.8"], "t2v_sum") == 300.0


def test_selection_metrics() -> None:
    metrics = {
        "t2v_r1": 1.0,
        "t2v_r5": 2.0,
        "t2v_r10": 3.0,
        "v2t_r1": 4.0,
        "v2t_r5": 5.0,
        "v2t_r10": 6.0,
        "sumr": 21.0,
        "mr": 3.5,
    }
    assert [selection_score(metrics, m) for m in ("t2v_sum", "v2t_sum", "sumr", "mr")] == [
        6.0,
        15.0,
        21.0,
        3.5,
    ]
    with pytest.raises(ValueError, match=r"select_metric must be one of"):
        EvalConfig(select_metric="r1")


def test_results_file_holds_the_labelled_table(tmp_path: Path) -> None:
    encoder, data = two_item_case()
    path = write_results(tmp_path / "results.md", evaluate_method(encoder, data, "de"), "demo")
    text = path.read_text()
    assert (
        text.startswith("# demo\n")
        and "| de native | 50.0 |" in text
        and "| de fused w=0.5 |" in text
    )
