"""The synthetic MT: clean output, typed noise at the configured rates, BLEU falling with noise."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from ccrkit.world.captions import caption_frame
from ccrkit.world.concepts import Frame, Mention
from ccrkit.world.config import NOISE_TYPES
from ccrkit.world.lang import GRAMMARS, render_text
from ccrkit.world.mt import FrameIndex, applicable, translate, translate_frames
from ccrkit.world.quality import score
from ccrkit.world.scene import sample_family


def _frames(n_families: int = 250) -> list[Frame]:
    rng = random.Random(3)
    return [
        caption_frame(scene, rng)
        for video in (False, True)
        for _ in range(n_families)
        for scene in sample_family(rng, video, 4)
    ]


def test_noise_zero_is_the_literal_rendering_and_records_nothing() -> None:
    frames = _frames(20)
    for result, frame in zip(translate_frames(frames, "en", "de", 0.0, 1), frames, strict=True):
        assert (
            result.text == render_text(frame, "de")
            and result.noise_types == ()
            and result.frame == frame
        )


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
        index.add("en", text, frame)
        texts.append(text)
    by_text = translate(texts, "en", "ja", 0.3, 9, index)
    by_frame = translate_frames([index.frame("en", t) for t in texts], "en", "ja", 0.3, 9)
    assert by_text == by_frame
    assert len(index) > 0
    with pytest.raises(ValueError, match="only translates captions of its own world"):
        translate(["A unicorn."], "en", "de", 0.1, 0, index)


def test_frame_index_file_is_the_json_lines_json_dumps_writes_and_loads_back(
    tmp_path: Path,
) -> None:
    frames = _frames(2)
    texts = ['Say "hi" \\ back', "緑の星が上に動いて、赤くなる。", "tab\tand\nnewline", "ü\u2028é"]
    index = FrameIndex()
    for text, frame in zip(texts, frames, strict=False):
        index.add("de", text, frame)
    index.add("ja", texts[1], frames[0])  # one frame object behind captions of two languages
    expected = "".join(
        json.dumps({"lang": lang, "text": text, "frame": frame.to_json()}, ensure_ascii=False)
        + "\n"
        for (lang, text), frame in sorted(index._frames.items())
    )
    assert gzip.decompress(index.dumps()).decode("utf-8") == expected
    (tmp_path / "frames.jsonl.gz").write_bytes(index.dumps())
    restored = FrameIndex.load([tmp_path / "frames.jsonl.gz"])
    assert restored._frames == index._frames


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
