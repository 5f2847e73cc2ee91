"""BLEU/chrF against hand-computed values and sacrebleu's own, the zh/ja tokenisers, multi-reference
streams, and the round-trip score files."""

from __future__ import annotations

import builtins
import logging

import pytest
import sacrebleu

from ccrkit.data import CaptionRecord, DataError, load_data_spec
from ccrkit.mtscores import mecab_available
from ccrkit.translate import (
    bleu_tokenizer,
    corpus_scores,
    read_roundtrip,
    roundtrip_path,
    roundtrip_scores,
    sentence_chrf,
)
from ccrkit.translate.quality import item_references
from ccrkit.translate.roundtrip import write_roundtrip


def test_bleu_of_a_hand_computed_pair():
    # n-gram precisions 5/6, 3/5, 2/4, 1/3, equal lengths (no brevity penalty):
    # BLEU = (5/6 * 3/5 * 2/4 * 1/3) ** (1/4) = 0.0833.. ** 0.25 = 53.73
    scores = corpus_scores(["the cat sat on the mat"], [["the cat sat on a mat"]], "en")
    assert scores["bleu"] == pytest.approx(53.73, abs=0.005)
    assert scores["tokenize"] == "13a" and scores["sentences"] == 1


PAIRS = {
    "de": (["Ein Mann fährt Fahrrad.", "Zwei Hunde spielen im Gras."],
           ["Ein Mann fährt ein Fahrrad.", "Zwei Hunde spielen auf dem Rasen."]),
    "zh": (["一个男人在骑自行车。", "两只狗在草地上玩耍。"], ["一个男人骑着自行车。", "两条狗在草地上玩。"]),
    "ja": (["男性が自転車に乗っている。", "二匹の犬が芝生で遊んでいる。"],
           ["男性が自転車に乗っています。", "二匹の犬が草の上で遊んでいる。"]),
}  # fmt: skip


@pytest.mark.parametrize(("lang", "tokenize"), [("de", "13a"), ("zh", "zh"), ("ja", "ja-mecab")])
def test_scores_match_sacrebleu(lang, tokenize):
    hyps, refs = PAIRS[lang]
    scores = corpus_scores(hyps, [refs], lang)
    assert scores["tokenize"] == tokenize
    assert scores["bleu"] == round(sacrebleu.corpus_bleu(hyps, [refs], tokenize=tokenize).score, 2)
    assert scores["chrf"] == round(sacrebleu.corpus_chrf(hyps, [refs]).score, 2)
    assert 0 < scores["bleu"] < 100


def test_sentence_chrf_matches_sacrebleu():
    hyp, ref = "A man rides a bike.", "A man is riding a bicycle."
    assert sentence_chrf(hyp, ref) == pytest.approx(sacrebleu.sentence_chrf(hyp, [ref]).score)
    assert sentence_chrf(ref, ref) == pytest.approx(100.0)


def test_japanese_falls_back_to_characters_without_mecab(monkeypatch, caplog):
    real_import = builtins.__import__

    def no_mecab(name, *args, **kwargs):
        if name in ("MeCab", "ipadic"):
            raise ImportError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mecab)
    mecab_available.cache_clear()  # probed once per process: probe again without MeCab
    try:
        with caplog.at_level(logging.WARNING):
            assert bleu_tokenizer("ja") == "char"
    finally:
        mecab_available.cache_clear()
    assert "MeCab is not installed" in caplog.text and "'char'" in caplog.text
    assert bleu_tokenizer("zh") == "zh" and bleu_tokenizer("fr") == "13a"


def record(cap_id: str, text: str) -> CaptionRecord:
    prefix, tag, n = cap_id.split("#")
    return CaptionRecord(cap_id, prefix, tag, n, text)


def test_every_caption_of_an_item_is_a_reference():
    hyps = [record("a#enc2de#0", "ein Hund läuft"), record("b#enc2de#0", "eine Katze"),
            record("c#enc2de#0", "ohne Referenz")]  # fmt: skip
    refs = [record("a#de#0", "ein Hund rennt"), record("a#de#1", "ein Hund läuft schnell"),
            record("b#de#0", "eine Katze schläft")]  # fmt: skip
    texts, streams = item_references(hyps, refs)
    assert texts == ["ein Hund läuft", "eine Katze"]  # 'c' has no reference and is not scored
    assert streams == [["ein Hund rennt", "eine Katze schläft"], ["ein Hund läuft schnell", None]]
    expected = sacrebleu.corpus_bleu(texts, streams).score
    assert corpus_scores(texts, streams, "de")["bleu"] == round(expected, 2)


def test_roundtrip_file_round_trips_and_is_found_through_the_spec(tmp_path):
    spec = load_data_spec("world-image")
    mt = spec.caption_path(tmp_path, "train", "mt", "de")
    assert roundtrip_path(mt).name == "worldimagetrain_synthetic_enc2de.roundtrip.tsv"
    rows = [
        ("img00000#enc2de#0", "img00000#enc#0", 61.4167),
        ("img00000#enc2de#1", "img00000#enc#1", 0.0),
    ]
    write_roundtrip(roundtrip_path(mt), rows)
    assert roundtrip_path(mt).read_text().splitlines()[:2] == [
        "mt_id\tsource_id\tchrf", "img00000#enc2de#0\timg00000#enc#0\t61.42"]  # fmt: skip
    assert roundtrip_scores(spec, tmp_path, "train", "de") == {
        "img00000#enc2de#0": 61.42, "img00000#enc2de#1": 0.0}  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id\tscore\n", ":1: expected the header"),
        (
            "mt_id\tsource_id\tchrf\na#enc2de#0\ta#enc#0\n",
            ":2: expected 3 tab-separated fields, got 2",
        ),
        ("mt_id\tsource_id\tchrf\na#enc2de#0\ta#enc#0\thigh\n", ":2: chrF 'high' is not a number"),
        ("", "empty file"),
    ],
)
def test_bad_roundtrip_files_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "x.roundtrip.tsv"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as err:
        read_roundtrip(path)
    assert str(path) in str(err.value)
