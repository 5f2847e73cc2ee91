"""The synthetic MT: clean output, typed noise at the configured rates, BLEU falling with noise."""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from ccrkit.mtscores import score
from ccrkit.world.captions import caption_frame
from ccrkit.world.concepts import COLOURS, SHAPES, Frame, Mention
from ccrkit.world.config import NOISE_TYPES
from ccrkit.world.lang import GRAMMARS, Wording, render_text
from ccrkit.world.lang.base import _cumulative
from ccrkit.world.mt import (
    FrameIndex,
    MTResult,
    Reading,
    Slip,
    applicable,
    translate,
    translate_frames,
    translate_readings,
)
from ccrkit.world.scene import sample_family


def _frames(n_families: int = 250) -> list[Frame]:
    rng = random.Random(3)
    return [
        caption_frame(scene, rng)
        for video in (False, True)
        for _ in range(n_families)
        for scene in sample_family(rng, video, 4)
    ]


def test_noise_zero_records_nothing_and_words_as_the_noisy_mt_does() -> None:
    frames = list(dict.fromkeys(_frames(40)))
    clean = translate_frames(frames, "en", "de", 0.0, 1)
    noisy = translate_frames(frames, "en", "de", 0.3, 1)
    for result, frame in zip(clean, frames, strict=True):
        assert result.noise_types == () and result.frame == frame and result.slips == ()
    untouched = [(c, n) for c, n in zip(clean, noisy, strict=True) if not n.noise_types]
    assert len(untouched) > 20  # noise that did not hit leaves the very same wording
    assert all(c.text == n.text for c, n in untouched)


def test_mt_wording_is_skewed_over_the_options_and_fixed_per_phrase() -> None:
    """German 'circle' is 'Kreis' or 'Scheibe' (options 0 and 1: weights 1 and 2 ** -1.5, so
    73.9 / 26.1 %); every noun phrase keeps its wording in any sentence."""
    assert _cumulative(2) == pytest.approx((1 / (1 + 2**-1.5),))
    rng = random.Random(0)
    phrases = {
        Mention("circle", colour, size, texture)
        for colour in COLOURS for size in (None, "small", "big") for texture in (None, "striped")
    }  # fmt: skip
    nouns: dict[Mention, set[str]] = {m: set() for m in phrases}
    for m in phrases:
        for other in rng.sample(SHAPES[1:], 3):  # the same phrase in different sentences
            frame = Frame((m, Mention(other, "blue")), "left_of")
            tokens = GRAMMARS["de"].render(frame, Wording.sentence("1|en>de", rng.randrange(99)))
            nouns[m] |= {t.text for t in tokens if t.concept == "shape:circle"}
    assert all(len(found) == 1 for found in nouns.values())  # consistent per phrase
    share = sum(found == {"Scheibe"} for found in nouns.values()) / len(nouns)
    assert 0.12 < share < 0.4, share  # not always the first option, and the first one most often


def test_back_translation_translates_the_mt_text_and_carries_its_errors() -> None:
    red_circle = Frame((Mention("circle", "red"), Mention("square", "blue")), "left_of")

    def back(*slips: Slip) -> MTResult:
        return translate_readings([Reading(red_circle, slips)], "de", "en", 0.0, 0)[0]

    clean = back().text
    assert "red" in clean and "circle" in clean and back().carried == ()
    dropped = back(Slip("dropped_word", "colour:red"))
    assert dropped.frame.objects[0].colour is None and "red" not in dropped.text
    assert dropped.carried == ("dropped_word",)
    no_relation_word = back(Slip("dropped_word", "rel:left_of"))  # 'to the left a blue square'
    assert no_relation_word.text != clean and no_relation_word.carried == ("dropped_word",)
    assert back(Slip("dropped_word", "")).fixed == ("dropped_word",)  # a lost article
    assert "place" in back(Slip("wrong_sense", "shape:square")).text
    filler = back(Slip("hallucination", "shape:square", filler=0))
    assert "very square" in filler.text and filler.carried == ("hallucination",)
    swapped = back(Slip("word_order", "colour:red", "shape:circle"))
    assert "circle red" in swapped.text and swapped.carried == ("word_order",)
    assert back(Slip("word_order", "", "colour:red")).fixed == ("word_order",)
    repaired = back(Slip("untranslated", "shape:circle"), Slip("agreement", "colour:red"))
    assert repaired.fixed == ("untranslated", "agreement") and repaired.carried == ()
    assert repaired.frame == red_circle and "red circle" in repaired.text


def test_every_slip_of_the_mt_is_carried_or_fixed_and_counted() -> None:
    frames = list(dict.fromkeys(_frames(60)))
    forward = translate_frames(frames, "en", "fr", 0.3, 4)
    backward = translate_readings([r.reading for r in forward], "fr", "en", 0.0, 4)
    made = Counter(slip.kind for r in forward for slip in r.slips)
    carried = Counter(kind for r in backward for kind in r.carried)
    fixed = Counter(kind for r in backward for kind in r.fixed)
    assert carried + fixed == made
    assert carried["wrong_attribute"] == made["wrong_attribute"] > 0  # the meaning itself
    assert carried["hallucination"] == made["hallucination"] > 0
    assert fixed["untranslated"] == made["untranslated"] > 0 and carried["untranslated"] == 0
    assert 0 < carried["dropped_word"] < made["dropped_word"]


@pytest.mark.parametrize(("src", "tgt"), [("en", "de"), ("en", "zh"), ("ja", "en")])
def test_every_noise_type_hits_at_the_configured_rate(src: str, tgt: str) -> None:
    frames = list(
        dict.fromkeys(_frames())
    )  # the MT is deterministic per frame: count distinct ones
    noise = 0.2
    results = translate_frames(frames, src, tgt, noise, seed=5)
    for kind in NOISE_TYPES:
        eligible = [
            r for r, f in zip(results, frames, strict=True)
            if applicable(kind, GRAMMARS[tgt].render(r.frame if kind != "wrong_attribute" else f, None), tgt, src)
        ]  # fmt: skip
        rate = sum(kind in r.noise_types for r in eligible) / len(eligible)
        assert len(eligible) > 300
        assert abs(rate - noise) < 0.05, (kind, rate)


def test_weights_scale_single_noise_types() -> None:
    frames = list(dict.fromkeys(_frames(100)))
    weights = dict.fromkeys(NOISE_TYPES, 0.0) | {"wrong_attribute": 2.0}
    results = translate_frames(frames, "en", "fr", 0.25, 0, weights)
    assert {t for r in results for t in r.noise_types} == {"wrong_attribute"}
    rate = sum(bool(r.noise_types) for r in results) / len(results)
    assert abs(rate - 0.5) < 0.06


def test_wrong_attribute_changes_the_meaning_and_the_text() -> None:
    frame = Frame((Mention("circle", "red"), Mention("square", "blue")), "left_of")
    weights = dict.fromkeys(NOISE_TYPES, 0.0) | {"wrong_attribute": 1.0}
    result = translate_frames([frame], "en", "cs", 1.0, 0, weights)[0]
    assert result.noise_types == ("wrong_attribute",)
    assert result.frame != frame and result.text != render_text(frame, "cs")


def test_bleu_falls_as_noise_rises() -> None:
    frames = _frames(60)
    clean = [r.text for r in translate_frames(frames, "en", "de", 0.0, 0)]
    bleus = [score([r.text for r in translate_frames(frames, "en", "de", noise, 0)], [clean], "de")["bleu"]
             for noise in (0.0, 0.1, 0.3, 0.6)]  # fmt: skip
    assert bleus[0] == 100.0
    assert bleus == sorted(bleus, reverse=True) and bleus[-1] < 50


def test_translation_is_deterministic_and_the_text_api_uses_the_frame_index() -> None:
    frames = _frames(10)
    index = FrameIndex()
    texts = []
    for frame in frames:
        text = render_text(frame, "en", random.Random(0))
        index.add("en", text, Reading(frame))
        texts.append(text)
    by_text = translate(texts, "en", "ja", 0.3, 9, index)
    by_frame = translate_frames([index.frame("en", t) for t in texts], "en", "ja", 0.3, 9)
    assert by_text == by_frame == translate(texts, "en", "ja", 0.3, 9, index)
    for result in by_text:  # machine output reads with its slips
        index.add("ja", result.text, result.reading)
    back = translate([r.text for r in by_text], "ja", "en", 0.0, 9, index)
    assert back == translate_readings([r.reading for r in by_text], "ja", "en", 0.0, 9)
    with pytest.raises(ValueError, match="only translates captions of its own world"):
        translate(["A unicorn."], "en", "de", 0.1, 0, index)


def test_frame_index_file_is_the_json_lines_json_dumps_writes_and_loads_back(
    tmp_path: Path,
) -> None:
    frames = _frames(2)
    texts = ['Say "hi" \\ back', "緑の星が上に動いて、赤くなる。", "tab\tand\nnewline", "ü\u2028é"]
    index = FrameIndex()
    slips = (Slip("hallucination", "shape:star", filler=2), Slip("word_order", "", "colour:red"))
    for text, frame in zip(texts, frames, strict=False):
        index.add("de", text, Reading(frame))
    index.add("ja", texts[1], Reading(frames[0], slips))  # a frame behind two languages' captions
    expected = "".join(
        json.dumps(
            {"lang": lang, "text": text, "frame": reading.frame.to_json()}
            | ({"slips": [s.to_json() for s in reading.slips]} if reading.slips else {}),
            ensure_ascii=False,
        )
        + "\n"
        for (lang, text), reading in sorted(index._readings.items())
    )
    assert gzip.decompress(index.dumps()).decode("utf-8") == expected
    (tmp_path / "frames.jsonl.gz").write_bytes(index.dumps())
    restored = FrameIndex.load([tmp_path / "frames.jsonl.gz"])
    assert restored._readings == index._readings


@pytest.mark.parametrize(("src", "tgt", "noise", "message"), [
    ("en", "xx", 0.1, "tgt language 'xx' unknown; allowed: en, de, fr, cs, zh, ja"),
    ("de", "fr", 0.1, "en->xx or xx->en"),
    ("en", "de", 1.5, r"noise must be in \[0, 1\]"),
])  # fmt: skip
def test_bad_arguments_name_what_is_allowed(src: str, tgt: str, noise: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        translate_frames(_frames(1), src, tgt, noise, 0)


def test_quality_in_worker_processes_equals_the_serial_measurement() -> None:
    from ccrkit.config import load_config
    from ccrkit.world.config import WorldConfig
    from ccrkit.world.layout import IMAGE_COLLECTION, VIDEO_COLLECTION
    from ccrkit.world.quality import mt_quality, parallel_mt_quality
    from ccrkit.world.text import collection_text
    from ccrkit.world.world import sample_items

    cfg = load_config(WorldConfig, "world-tiny")
    per_item = {IMAGE_COLLECTION: cfg.image.captions, VIDEO_COLLECTION: cfg.video.captions}
    texts = {c: collection_text(sample_items(cfg, c), per_item[c], cfg) for c in per_item}
    serial = {c: mt_quality(texts[c], cfg.languages, "test", per_item[c]) for c in texts}
    parallel = parallel_mt_quality(texts, cfg.languages, "test", per_item, workers=2)
    assert parallel == serial
    assert list(parallel[IMAGE_COLLECTION]) == list(cfg.languages)
    assert parallel[IMAGE_COLLECTION]["de"]["enc2de"]["vs_clean"]["bleu"] > 0


def test_english_side_is_scored_once_with_the_same_figures_as_from_scratch() -> None:
    from ccrkit.config import load_config
    from ccrkit.world.config import WorldConfig
    from ccrkit.world.layout import IMAGE_COLLECTION
    from ccrkit.world.quality import (
        EnglishSide,
        first_captions,
        item_references,
        language_quality,
    )
    from ccrkit.world.text import collection_text
    from ccrkit.world.world import sample_items

    cfg = load_config(WorldConfig, "world-tiny")
    per_item = cfg.image.captions
    text = collection_text(sample_items(cfg, IMAGE_COLLECTION), per_item, cfg)
    english = EnglishSide.of(text, "test", per_item)
    _, english_first = first_captions(text.captions[("test", "enc")])
    for lang in ("de", "zh"):
        measured = language_quality(text, lang, "test", per_item, english)
        test_ids, test_first = first_captions(text.captions[("test", f"{lang}2enc")])
        _, back_first = first_captions(text.captions[("test", f"enc2{lang}2enc")])
        human = item_references(test_ids, text.captions[("test", "enc")], per_item)
        assert measured[f"{lang}2enc"]["vs_human"] == score(test_first, human, "en")
        assert measured[f"enc2{lang}2enc"]["vs_source"] == score(back_first, [english_first], "en")
    english.items.reverse()  # an English side of another item order must not be used
    with pytest.raises(ValueError, match="not in the English captions' item order"):
        language_quality(text, "de", "test", per_item, english)
