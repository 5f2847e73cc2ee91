"""Grammar checks over many human captions of every language (sampled scenes, random paraphrases)."""

from __future__ import annotations

import random
import re

import pytest

from ccrkit.world.captions import caption_frame
from ccrkit.world.concepts import Event, Frame, Mention
from ccrkit.world.lang import GRAMMARS, render_text
from ccrkit.world.lang import cs as czech
from ccrkit.world.lang import de as german
from ccrkit.world.lang import fr as french
from ccrkit.world.scene import sample_family


def _captions(lang: str, n_families: int = 150) -> list[str]:
    rng = random.Random(7)
    out = []
    for video in (False, True):
        for _ in range(n_families):
            for scene in sample_family(rng, video, 4):
                out.append(render_text(caption_frame(scene, rng), lang, rng))
    return out


GERMAN_NOUNS = {noun: gender for options in german.NOUN.values() for noun, gender in options}
GERMAN_NOUNS["Form"] = "f"  # 'und eine weitere Form': the other objects a caption counts
GERMAN_ARTICLES = {  # article -> genders it can go with (any case)
    "ein": {"m", "n"}, "eine": {"f"}, "einen": {"m"}, "einem": {"m", "n"}, "einer": {"f"},
}  # fmt: skip


GERMAN_STEMS = ("klein", "groß", "winzig", "riesig", "rot", "grün", "blau", "gelb", "violett",
                "orangefarben", "gestreift", "gepunktet", "weiter")  # fmt: skip


def test_german_articles_and_adjectives_agree_with_the_noun_in_every_caption() -> None:
    checked = 0
    for text in _captions("de"):
        words = text.rstrip(".").replace(",", "").split()
        for i, word in enumerate(words):
            if word.lower() not in GERMAN_ARTICLES:
                continue
            adjectives = []
            for following in words[i + 1 :]:
                if following in GERMAN_NOUNS:
                    break
                adjectives.append(following)
            noun = following
            gender = GERMAN_NOUNS[noun]
            article = word.lower()
            assert gender in GERMAN_ARTICLES[article], text
            case = {"einem": "dat", "einer": "dat", "einen": "acc"}.get(article)
            allowed = {german.ENDING[c][gender] for c in ((case,) if case else ("nom", "acc"))}
            for adjective in adjectives:
                stem = next(s for s in GERMAN_STEMS if adjective.startswith(s))
                assert adjective[len(stem) :] in allowed, text
            checked += 1
    assert checked > 500


def test_german_has_compounds_and_verb_second_after_dann() -> None:
    captions = _captions("de")
    assert any("Streifenmuster" in c or "Punktmuster" in c for c in captions)
    for text in captions:
        if ", dann " in text:  # 'dann' is followed by the finite verb
            word = text.split(", dann ")[1].split()[0]
            assert word in {
                "bewegt",
                "gleitet",
                "wandert",
                "wird",
                "färbt",
                "wächst",
                "schrumpft",
                "erscheint",
                "taucht",
            }, text


def test_french_adjectives_agree_in_gender_and_colours_follow_the_noun() -> None:
    feminine = {n for options in french.NOUN.values() for n, g in options if g == "f"}
    for text in _captions("fr"):
        for noun in feminine:
            for match in re.finditer(rf"\b{noun}\b((?: \w+)+)", text):
                following = match.group(1).split()[:1]
                for word in following:
                    if word in {"vert", "bleu", "violet", "rayé", "petit", "grand"}:
                        pytest.fail(f"masculine adjective after feminine noun: {text}")
        assert not re.search(r"\bune (cercle|carré|triangle|losange|rond)\b", text), text
        assert not re.search(r"\bun (étoile|croix)\b", text), text
        assert " de un" not in text and " de une" not in text, text  # elided to d'un / d'une


def test_czech_case_endings_follow_the_preposition() -> None:
    instrumental = {forms[2] for options in czech.NOUN.values() for forms, _ in options}
    genitive = {forms[1] for options in czech.NOUN.values() for forms, _ in options}
    checked = 0
    for text in _captions("cs"):
        words = text.rstrip(".").replace(",", "").split()
        for i, word in enumerate(words):
            if word.lower() not in ("nad", "pod", "od"):
                continue
            nouns, endings = (
                (genitive, ("ého", "é")) if word == "od" else (instrumental, ("ým", "ou"))
            )
            phrase = words[i + 1 : i + 5]
            end = next(j for j, w in enumerate(phrase) if w in nouns)
            assert all(adjective.endswith(endings) for adjective in phrase[:end]), text
            checked += 1
    assert checked > 200


@pytest.mark.parametrize("lang", ["zh", "ja"])
def test_chinese_and_japanese_have_no_spaces_and_end_with_a_full_stop(lang: str) -> None:
    for text in _captions(lang):
        assert " " not in text and text.endswith("。"), text


def test_chinese_uses_measure_words_and_japanese_particles() -> None:
    assert all(re.search(r"一[个颗]", t) for t in _captions("zh", 30))
    assert all(re.search(r"[がは]", t) for t in _captions("ja", 30))


@pytest.mark.parametrize("lang", sorted(GRAMMARS))
def test_every_language_paraphrases_the_same_frame(lang: str) -> None:
    frame = Frame(
        (Mention("circle", "red", "small", "striped"), Mention("square", "blue")), "left_of"
    )
    texts = {render_text(frame, lang, random.Random(seed)) for seed in range(40)}
    assert len(texts) >= 3


def test_video_captions_keep_temporal_order() -> None:
    move_then_turn = Frame(
        (Mention("star", "green"),), None, (Event(0, "move", "up"), Event(0, "turn", "red"))
    )
    turn_then_move = Frame(
        (Mention("star", "green"),), None, (Event(0, "turn", "red"), Event(0, "move", "up"))
    )
    assert render_text(move_then_turn, "en") == "A green star moves up, then it turns red."
    assert render_text(turn_then_move, "en") == "A green star turns red, then it moves up."
    assert render_text(move_then_turn, "ja") == "緑の星が上に動いて、それから赤くなる。"
    assert (
        render_text(move_then_turn, "de")
        == "Ein grüner Stern bewegt sich nach oben, dann wird er rot."
    )


def test_no_scene_turns_an_object_into_the_colour_it_already_has() -> None:
    rng = random.Random(11)
    for _ in range(300):
        for scene in sample_family(rng, True, 4):
            for event in scene.events:
                if event.kind == "turn":
                    assert event.arg != scene.objects[event.subject].colour
