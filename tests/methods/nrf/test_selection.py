"""NRF's parallel-data selectors: exact fractions, the round-trip scores (file, computed, missing),
per-batch similarity, and what they record."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from nrccr_helpers import build_world

from ccrkit.config import ConfigError, build
from ccrkit.data import DataError, TrainDataset
from ccrkit.methods.nrf import NrfConfig, SelectionInput, build_selector, kept_count, top_fraction
from ccrkit.translate.quality import sentence_chrf
from ccrkit.translate.roundtrip import write_roundtrip

TEXT = "worldimage/TextData"
MT = f"{TEXT}/worldimagetrain_synthetic_enc2de.caption.txt"
BT = f"{TEXT}/worldimagetrain_synthetic_enc2de2enc.caption.txt"
TSV = f"{TEXT}/worldimagetrain_synthetic_enc2de.roundtrip.tsv"


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """The world-contract miniature: 3 training items x 5 captions = 15 training rows."""
    return build_world(tmp_path / "world")


def train_set(root: Path) -> TrainDataset:
    return TrainDataset("world-image", root, "train", target_langs=["de"], roles=("mt",))


def test_kept_count_rounds_half_up() -> None:
    assert [kept_count(f, 10) for f in (0.0, 0.25, 0.3, 0.35, 1.0)] == [0, 3, 3, 4, 10]
    assert kept_count(0.5, 15) == 8 and kept_count(0.5, 3) == 2


def test_top_fraction_keeps_exactly_the_highest_and_breaks_ties_by_row() -> None:
    scores = torch.tensor([0.1, 0.9, 0.5, 0.9, 0.2, 0.5])
    assert top_fraction(scores, 0.5).tolist() == [False, True, True, True, False, False]
    assert top_fraction(scores, 0.0).sum() == 0 and top_fraction(scores, 1.0).all()


@pytest.mark.parametrize("fraction", [0.0, 0.2, 0.5, 0.7, 1.0])
def test_the_fraction_selector_keeps_exactly_the_configured_fraction(world, fraction) -> None:
    selector = build_selector("fraction", {"fraction": fraction, "seed": 3})
    summary = selector.prepare(train_set(world))
    kept = selector.keep(SelectionInput("de", 15, torch.arange(15)))
    assert int(kept.sum()) == kept_count(fraction, 15) == summary["languages"]["de"]["kept"]
    assert summary["languages"]["de"]["total"] == 15 and "random" in summary["rule"]
    again = build_selector("fraction", {"fraction": fraction, "seed": 3})
    again.prepare(train_set(world))
    assert torch.equal(again.keep(SelectionInput("de", 15, torch.arange(15))), kept)


def roundtrip_rows(root: Path, scores: list[float]) -> None:
    """A .roundtrip.tsv beside the MT file with the given chrF per training row (in row order)."""
    rows = []
    for i, score in enumerate(scores):
        item, n = f"img{i // 5:05d}", i % 5
        rows.append((f"{item}#enc2de#{n}", f"{item}#enc#{n}", score))
    write_roundtrip(root / TSV, rows)


def test_roundtrip_keeps_the_best_pairs_from_the_translation_stage_file(world) -> None:
    scores = [float(s) for s in (3, 90, 15, 60, 42, 7, 88, 51, 33, 12, 75, 20, 64, 5, 99)]
    roundtrip_rows(world, scores)
    selector = build_selector("roundtrip", {"fraction": 0.4})
    summary = selector.prepare(train_set(world))["languages"]["de"]
    kept = selector.keep(SelectionInput("de", 15, torch.arange(15)))
    best = sorted(range(15), key=lambda i: -scores[i])[:6]  # round(0.4 * 15) = 6
    assert sorted(torch.nonzero(kept).flatten().tolist()) == sorted(best)
    assert (
        summary["kept"] == 6
        and summary["threshold"] == 60.0
        and summary["scores"].endswith("worldimagetrain_synthetic_enc2de.roundtrip.tsv")
    )
    # a batch looks its rows up, in batch order
    rows = torch.tensor([14, 0, 6])
    assert selector.keep(SelectionInput("de", 3, rows)).tolist() == [True, False, True]
    # a threshold instead of a fraction
    by_value = build_selector("roundtrip", {"min_chrf": 51.0})
    assert by_value.prepare(train_set(world))["languages"]["de"]["kept"] == 7


def test_roundtrip_scores_are_computed_from_back_translations_without_the_file(world) -> None:
    data = train_set(world)
    selector = build_selector("roundtrip", {"fraction": 0.5})
    summary = selector.prepare(data)["languages"]["de"]
    assert summary["scores"].startswith("computed: sentence chrF of") and summary["kept"] == 8
    back = [line.split(" ", 1)[1] for line in (world / BT).read_text().splitlines()]
    expected = [sentence_chrf(b, s) for b, s in zip(back, data.texts("source"), strict=True)]
    assert summary["mean_chrf"] == pytest.approx(sum(expected) / 15, abs=0.01)


def test_missing_roundtrip_scores_name_the_translate_command(world) -> None:
    (world / BT).unlink()
    with pytest.raises(DataError) as err:
        build_selector("roundtrip", {}).prepare(train_set(world))
    message = str(err.value)
    assert "ccrkit translate --data world-image" in message and "--tgt de --back" in message
    assert str(world / TSV) in message and "method.selector=fraction" in message


def test_missing_error_asks_for_the_file_even_with_back_translations(world) -> None:
    with pytest.raises(DataError, match="missing=error asks for the file"):
        build_selector("roundtrip", {"missing": "error"}).prepare(train_set(world))


def test_an_out_of_date_roundtrip_file_names_the_missing_caption(world) -> None:
    roundtrip_rows(world, [50.0] * 14)  # the 15th row has no score
    with pytest.raises(DataError) as err:
        build_selector("roundtrip", {}).prepare(train_set(world))
    assert "img00002#enc2de#4" in str(err.value) and "roundtrip.tsv" in str(err.value)


def test_dataset_selectors_need_prepare_and_example_rows(world) -> None:
    selector = build_selector("fraction", {})
    with pytest.raises(RuntimeError, match="prepare_training"):
        selector.keep(SelectionInput("de", 2, torch.tensor([0, 1])))
    selector.prepare(train_set(world))
    with pytest.raises(ValueError, match="example_index"):
        selector.keep(SelectionInput("de", 2, None))


def test_similarity_keeps_the_most_similar_share_of_each_batch() -> None:
    selector = build_selector("similarity", {"fraction": 0.5})
    source = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    target = torch.tensor([[1.0, 0.1], [-1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    kept = selector.keep(SelectionInput("de", 4, None, source, target))
    assert kept.tolist() == [True, False, True, False]  # cosines ≈ .995, −1, 1, .707
    assert selector.needs == "encoder"
    assert selector.prepare(None) == {"rule": selector.rule(), "fraction": 0.5, "per": "batch"}


def test_selector_config_errors_are_reported_early() -> None:
    with pytest.raises(ConfigError, match="unknown pair selector 'best'; known: all, fraction"):
        build(NrfConfig, {"selector": "best"}, "test", "method")
    with pytest.raises(ConfigError, match="fraction"):
        build(NrfConfig, {"selection": {"fraction": 1.5}}, "test", "method")
    with pytest.raises(ConfigError, match="between"):
        build(NrfConfig, {"selector": "similarity", "selection": {"between": "x"}}, "t", "method")


def test_training_batches_carry_their_dataset_rows(world) -> None:
    """`TrainBatch.example_index` names each example's row, also after NRCCR's sort by length."""
    from ccrkit.data import TrainCollate

    data = train_set(world)
    rows = (4, 0, 9)
    for sort_by in (None, "source"):
        batch = TrainCollate(_tokens, sort_by=sort_by)([data[i] for i in rows])
        assert sorted(batch.example_index.tolist()) == sorted(rows)
        for row, text in zip(batch.example_index.tolist(), batch.views["mt:de"].texts, strict=True):
            assert data.texts("mt", "de")[row] == text


def _tokens(texts: list[str]):
    """A whitespace "tokenizer" whose lengths differ per caption (so sorting reorders)."""
    from ccrkit.data.batch import TokenBatch

    lengths = [len(t) % 7 + 1 for t in texts]
    mask = torch.tensor([[k < n for k in range(max(lengths))] for n in lengths])
    return TokenBatch(mask.long(), mask, list(texts))


def test_ccrkit_train_names_the_translate_command_before_building_anything(
    world, tmp_path, capsys
) -> None:
    from ccrkit.cli.main import main

    (world / BT).unlink()
    out = tmp_path / "run"
    assert main(["train", "--config", "nrf-world", f"data.root={world}", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ccrkit translate --data world-image" in err
    assert "--back --keep-existing" in err and not out.exists()
