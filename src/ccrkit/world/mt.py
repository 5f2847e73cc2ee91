"""The synthetic MT system: translates what a text *reads as* (its frame, and the surface errors
an earlier MT left in it) with typed, controllable noise, like a real MT system whose errors we
can count.

Wording: the target grammar rendered with a `Wording` (lang/base.py): every phrase (a mention,
an event, a count) takes one of its paraphrase options from a skewed distribution (weight
1 / (k + 1) ** 1.5 for option k), fixed by the phrase and the system (seed and language pair), so
the same phrase is always worded alike; the sentence structure is fixed per source sentence.

Noise, each type applied to a sentence with probability `noise * weights[type]` when it can apply:

- wrong_attribute: a colour, shape, size, position, count, relation, direction or new colour
  changed in the frame (the translation now describes a different scene: the harmful kind);
- wrong_sense: an ambiguous source word translated in its other sense ('square' -> 'Platz');
- untranslated: a source-language word left in the output;
- agreement: a word inflected for the wrong gender/case (a wrong measure word or particle in zh/ja);
- hallucination: an extra word the source does not have;
- dropped_word: a word left out;
- word_order: two neighbouring words swapped.

Each hit leaves a `Slip` on the output's reading. Translating that output again (the
back-translation, xx->en) translates the text, not the intended meaning: a dropped attribute
stays unsaid, a dropped shape, relation or verb stays missing, a wrong sense is translated in
its wrong sense, a filler becomes the target's filler, a swap of two content words whose
translations stand side by side stays swapped, and a wrong attribute is the meaning itself.
What a real MT repairs on the way is repaired: a left-over English word is English again, a
wrong ending or particle has no English counterpart, a dropped article or a swap involving a
function word is put right. `MTResult.carried` and `.fixed` count both per type.
"""

from __future__ import annotations

import gzip
import itertools
import json
import random
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from json.encoder import encode_basestring
from pathlib import Path
from types import ModuleType
from typing import Any

from ccrkit.world.concepts import (
    COLOURS,
    DIRECTIONS,
    INVERSE_RELATION,
    POSITIONS,
    RELATIONS,
    SHAPES,
    Frame,
)
from ccrkit.world.config import NOISE_TYPES
from ccrkit.world.lang import GRAMMARS, Tok, Wording, join

Source = tuple[str, Frame]  # the source language and what the source caption says
ATTRIBUTES = {"colour": "colour", "size": "size", "texture": "texture", "pos": "position"}
# Slips a translation into another language repairs (nothing of them is left to translate).
REPAIRED = frozenset({"untranslated", "agreement"})


@dataclass(frozen=True)
class Slip:
    """A surface error an MT made in one sentence: its type, the concept of the word it hit
    ('' for a function word), and for a swap the other word's concept, for a filler its index in
    the grammars' FILLERS (the same filler in every language)."""

    kind: str
    concept: str = ""
    other: str = ""
    filler: int = -1

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v not in ("", -1)}


@dataclass(frozen=True, repr=False)
class Reading:
    """What a text says to a translator: its frame and the slips it carries (none for a human)."""

    frame: Frame
    slips: tuple[Slip, ...] = ()

    def __repr__(self) -> str:  # the MT's seed material: plain and fast
        return f"Reading({self.frame!r}, {self.slips!r})"


@dataclass(frozen=True)
class MTResult:
    """One translation, the noise types that hit it, the meaning it now carries, its own slips,
    and which of its source's slips it carried over or repaired (types, one per slip)."""

    text: str
    noise_types: tuple[str, ...]
    frame: Frame
    slips: tuple[Slip, ...] = ()
    carried: tuple[str, ...] = ()
    fixed: tuple[str, ...] = ()

    @property
    def reading(self) -> Reading:
        return Reading(self.frame, self.slips)


def translate_readings(
    readings: Sequence[Reading],
    src: str,
    tgt: str,
    noise: float,
    seed: int,
    weights: Mapping[str, float] | None = None,
) -> list[MTResult]:
    """Translate texts given by their readings. Deterministic: the same reading, languages,
    noise and seed always give the same output (as a real MT system would)."""
    _check_languages(src, tgt)
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be in [0, 1], got {noise}")
    rates = {t: min(1.0, noise * (weights or {}).get(t, 1.0)) for t in NOISE_TYPES}
    return [_translate_one(reading, src, tgt, rates, seed) for reading in readings]


def translate_frames(
    frames: Sequence[Frame],
    src: str,
    tgt: str,
    noise: float,
    seed: int,
    weights: Mapping[str, float] | None = None,
) -> list[MTResult]:
    """Translate error-free source captions given by their frames (human captions)."""
    return translate_readings([Reading(f) for f in frames], src, tgt, noise, seed, weights)


def translate(
    captions: Sequence[str],
    src: str,
    tgt: str,
    noise: float,
    seed: int,
    index: FrameIndex,
    weights: Mapping[str, float] | None = None,
) -> list[MTResult]:
    """Translate caption texts of a synthetic world; `index` knows how each text reads."""
    return translate_readings(
        [index.reading(src, text) for text in captions], src, tgt, noise, seed, weights
    )


class FrameIndex:
    """Caption text -> reading (frame and slips) for every caption of a world, human and machine
    (written as `*_frames.jsonl.gz`).

    Different readings can give the same text; the first one registered for a text wins, and
    the world itself looks its captions up here before translating them, so the text API and the
    generator always translate the same thing.
    """

    def __init__(self) -> None:
        self._readings: dict[tuple[str, str], Reading] = {}

    def add(self, lang: str, text: str, reading: Reading) -> None:
        self._readings.setdefault((lang, text), reading)

    def add_all(
        self, lang: str, texts: Sequence[str], readings: Sequence[Reading]
    ) -> list[Reading]:
        """Register captions and return the reading each text now stands for."""
        for text, reading in zip(texts, readings, strict=True):
            self.add(lang, text, reading)
        return [self._readings[(lang, text)] for text in texts]

    def frame(self, lang: str, text: str) -> Frame:
        return self.reading(lang, text).frame

    def reading(self, lang: str, text: str) -> Reading:
        try:
            return self._readings[(lang, text)]
        except KeyError:
            raise ValueError(
                f"the synthetic MT only translates captions of its own world; unknown {lang} caption: {text!r}"
            ) from None

    def __len__(self) -> int:
        return len(self._readings)

    def dumps(self) -> bytes:
        """Gzipped JSON lines `{"lang": .., "text": .., "frame": ..[, "slips": [..]]}` (slips only
        where there are any), sorted by language and text.

        Written as `json.dumps` of that dict would write them, but each frame object is encoded
        once (captions share them: 124k objects for 275k image captions), and strings by the
        encoder's own function (`json.dumps(text, ensure_ascii=False)` without its set-up).
        """
        encoded: dict[int, str] = {}  # id(frame) -> its JSON; every frame stays alive meanwhile
        lines = []
        for (lang, text), reading in sorted(self._readings.items()):
            frame = reading.frame
            body = encoded.get(id(frame))
            if body is None:
                body = encoded[id(frame)] = json.dumps(frame.to_json(), ensure_ascii=False)
            if reading.slips:
                slips = json.dumps([slip.to_json() for slip in reading.slips], ensure_ascii=False)
                body = f'{body}, "slips": {slips}'
            lines.append(
                f'{{"lang": {encode_basestring(lang)}, "text": {encode_basestring(text)}, "frame": {body}}}'
            )
        return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0)

    @classmethod
    def load(cls, paths: Iterable[str | Path]) -> FrameIndex:
        index = cls()
        for path in paths:
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                for line in handle:
                    row = json.loads(line)
                    slips = tuple(Slip(**slip) for slip in row.get("slips", ()))
                    index.add(
                        row["lang"], row["text"], Reading(Frame.from_json(row["frame"]), slips)
                    )
        return index


def _check_languages(src: str, tgt: str) -> None:
    for name, lang in (("src", src), ("tgt", tgt)):
        if lang not in GRAMMARS:
            raise ValueError(f"{name} language {lang!r} unknown; allowed: {', '.join(GRAMMARS)}")
    if src == tgt or "en" not in (src, tgt):
        raise ValueError(f"the synthetic MT translates en->xx or xx->en, got {src}->{tgt}")


def _translate_one(
    reading: Reading, src: str, tgt: str, rates: dict[str, float], seed: int
) -> MTResult:
    grammar = GRAMMARS[tgt]
    system = f"{seed}|{src}>{tgt}"
    key = f"{system}|{reading!r}"
    wording = Wording.sentence(system, zlib.crc32(key.encode()))  # the same with any noise
    frame, unsaid, carried, fixed = _carried_frame(reading)
    hits: list[str] = []
    slips: list[Slip] = []
    rng = random.Random(key) if any(rates.values()) else None  # clean MT draws nothing
    if rng is not None and rng.random() < rates["wrong_attribute"]:
        frame = wrong_attribute(frame, rng)
        hits.append("wrong_attribute")
        slips.append(Slip("wrong_attribute"))
    tokens = list(grammar.render(frame, wording))
    tokens = _carry_tokens(tokens, reading.slips, unsaid, grammar, carried, fixed)
    source = (src, reading.frame)  # an untranslated word comes from what the source says
    for kind, apply in _TOKEN_NOISE:
        if rng is not None and rng.random() < rates[kind]:
            changed = apply(tokens, rng, grammar, source)
            if changed is not None:
                tokens, slip = changed
                hits.append(kind)
                slips.append(slip)
    return MTResult(
        join(tokens, grammar.SPACED), tuple(hits), frame, tuple(slips), tuple(carried), tuple(fixed)
    )


def _carried_frame(reading: Reading) -> tuple[Frame, list[str], list[str], list[str]]:
    """The meaning the text itself still says: its frame without the attributes whose words were
    dropped. Returns it, the concepts of dropped words that are not attributes (shapes, relations,
    verbs, directions: the translation leaves their words out too), and the carried and repaired
    slip types so far."""
    frame = reading.frame
    unsaid: list[str] = []
    carried: list[str] = []
    fixed: list[str] = []
    for slip in reading.slips:
        if slip.kind == "wrong_attribute":  # it is the frame itself
            carried.append(slip.kind)
        elif slip.kind == "dropped_word" and slip.concept:
            lighter = _unsay(frame, slip.concept)
            if lighter is None:
                unsaid.append(slip.concept)
            else:
                frame = lighter
                carried.append(slip.kind)
        elif slip.kind == "dropped_word" or slip.kind in REPAIRED:
            fixed.append(slip.kind)
    return frame, unsaid, carried, fixed


def _unsay(frame: Frame, concept: str) -> Frame | None:
    """The frame with the attribute of `concept` ('colour:red') unsaid, None if no mentioned
    object has it (a shape, a relation, an event word, or a colour an object turns into)."""
    kind, _, value = concept.partition(":")
    if kind == "count":
        return replace(frame, count=None) if frame.count is not None else None
    field = ATTRIBUTES.get(kind)
    for i, m in enumerate(frame.objects):
        if field and getattr(m, field) == value:
            return frame.with_object(i, **{field: None})
    return None


def _carry_tokens(
    tokens: list[Tok],
    slips: Sequence[Slip],
    unsaid: Sequence[str],
    grammar: ModuleType,
    carried: list[str],
    fixed: list[str],
) -> list[Tok]:
    """The source's surface slips, carried into the translation where its words let them be
    (appends each slip's type to `carried` or `fixed`)."""
    for slip in slips:
        if slip.kind == "dropped_word" and slip.concept in unsaid:
            i = _find(tokens, slip.concept)
            if i is None:
                fixed.append(slip.kind)
                continue
            tokens = [*tokens[:i], *tokens[i + 1 :]]
        elif slip.kind == "wrong_sense":
            i = _find(tokens, slip.concept)
            wrong = grammar.WRONG_SENSE.get(slip.concept)
            if i is None or wrong is None:
                fixed.append(slip.kind)
                continue
            tokens = [*tokens[:i], Tok(wrong, slip.concept), *tokens[i + 1 :]]
        elif slip.kind == "hallucination":
            at = _find(tokens, slip.concept) if slip.concept else None
            at = len(tokens) - 1 if at is None else at  # before the full stop
            tokens = [*tokens[:at], Tok(grammar.FILLERS[slip.filler]), *tokens[at:]]
        elif slip.kind == "word_order":
            a, b = _find(tokens, slip.concept), _find(tokens, slip.other)
            if not slip.concept or not slip.other or a is None or b is None or abs(a - b) != 1:
                fixed.append(slip.kind)
                continue
            tokens = list(tokens)
            tokens[a], tokens[b] = tokens[b], tokens[a]
        else:
            continue
        carried.append(slip.kind)
    return tokens


def _find(tokens: Sequence[Tok], concept: str) -> int | None:
    return (
        next((i for i, t in enumerate(tokens) if t.concept == concept), None) if concept else None
    )


def applicable(kind: str, tokens: Sequence[Tok], tgt: str, src: str) -> bool:
    """Whether noise `kind` can hit a clean translation with these tokens (for rate measurement)."""
    grammar = GRAMMARS[tgt]
    words = [t for t in tokens if not t.is_punct]
    if kind == "wrong_sense":
        return any(t.concept in grammar.WRONG_SENSE for t in tokens)
    if kind == "agreement":
        return any(t.bad_agreement for t in tokens)
    if kind == "untranslated":
        return any(t.concept for t in tokens)
    if kind == "dropped_word":
        return len(words) >= 3
    if kind == "word_order":
        return len(words) >= 2
    return True


def wrong_attribute(frame: Frame, rng: random.Random) -> Frame:
    """Change one said attribute, relation, count or event argument to another value."""
    choices: list[tuple[str, int]] = []
    for i, m in enumerate(frame.objects):
        choices += [("shape", i)] + ([("colour", i)] if m.colour else [])
        choices += [("position", i)] if m.position else []
    if frame.relation:
        choices += [("relation", -1)] * 2
    if frame.count:
        choices.append(("count", -1))
    choices += [("event", k) for k, e in enumerate(frame.events) if e.arg]
    what, i = rng.choice(choices)
    if what == "shape":
        return frame.with_object(i, shape=_other(rng, SHAPES, frame.objects[i].shape))
    if what == "colour":
        return frame.with_object(i, colour=_other(rng, COLOURS, frame.objects[i].colour))
    if what == "position":
        return frame.with_object(i, position=_other(rng, POSITIONS, frame.objects[i].position))
    if what == "count":
        return replace(frame, count=rng.choice([c for c in (1, 2, 3) if c != frame.count]))
    if what == "relation":
        rel = frame.relation or ""
        return replace(
            frame, relation=rng.choice((INVERSE_RELATION[rel], _other(rng, RELATIONS, rel)))
        )
    events = list(frame.events)
    event = events[i]
    pool = DIRECTIONS if event.kind == "move" else COLOURS
    events[i] = replace(event, arg=_other(rng, pool, event.arg))
    return replace(frame, events=tuple(events))


def _other(rng: random.Random, pool: Sequence[str], value: str | None) -> str:
    return rng.choice([v for v in pool if v != value])


def _word_positions(tokens: Sequence[Tok]) -> list[int]:
    return [i for i, t in enumerate(tokens) if not t.is_punct]


Noised = tuple[list[Tok], Slip] | None  # the new tokens and the slip left, None: cannot apply


def _wrong_sense(
    tokens: list[Tok], rng: random.Random, grammar: ModuleType, source: Source
) -> Noised:
    spots = [i for i, t in enumerate(tokens) if t.concept in grammar.WRONG_SENSE]
    if not spots:
        return None
    i = rng.choice(spots)
    concept = tokens[i].concept
    return [*tokens[:i], Tok(grammar.WRONG_SENSE[concept], concept), *tokens[i + 1 :]], Slip(
        "wrong_sense", concept
    )


def _untranslated(
    tokens: list[Tok], rng: random.Random, grammar: ModuleType, source: Source
) -> Noised:
    src, frame = source
    source_words = {t.concept: t.text for t in GRAMMARS[src].render(frame, None) if t.concept}
    spots = [i for i, t in enumerate(tokens) if t.concept in source_words]
    if not spots:
        return None
    i = rng.choice(spots)
    concept = tokens[i].concept
    return [*tokens[:i], Tok(source_words[concept], concept), *tokens[i + 1 :]], Slip(
        "untranslated", concept
    )


def _agreement(
    tokens: list[Tok], rng: random.Random, grammar: ModuleType, source: Source
) -> Noised:
    spots = [i for i, t in enumerate(tokens) if t.bad_agreement]
    if not spots:
        return None
    i = rng.choice(spots)
    wrong = Tok(tokens[i].bad_agreement, tokens[i].concept)
    return [*tokens[:i], wrong, *tokens[i + 1 :]], Slip("agreement", tokens[i].concept)


def _hallucination(
    tokens: list[Tok], rng: random.Random, grammar: ModuleType, source: Source
) -> Noised:
    i = rng.randrange(len(tokens))  # anywhere before the final punctuation
    filler = rng.randrange(len(grammar.FILLERS))
    anchor = next((t.concept for t in tokens[i:] if t.concept), "")  # the next content word
    return [*tokens[:i], Tok(grammar.FILLERS[filler]), *tokens[i:]], Slip(
        "hallucination", anchor, filler=filler
    )


def _dropped_word(
    tokens: list[Tok], rng: random.Random, grammar: ModuleType, source: Source
) -> Noised:
    spots = _word_positions(tokens)
    if len(spots) < 3:
        return None
    i = rng.choice(spots)
    return [*tokens[:i], *tokens[i + 1 :]], Slip("dropped_word", tokens[i].concept)


def _word_order(
    tokens: list[Tok], rng: random.Random, grammar: ModuleType, source: Source
) -> Noised:
    spots = _word_positions(tokens)
    pairs = [(a, b) for a, b in itertools.pairwise(spots) if b == a + 1]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    swapped = list(tokens)
    swapped[a], swapped[b] = tokens[b], tokens[a]
    return swapped, Slip("word_order", tokens[a].concept, tokens[b].concept)


_TOKEN_NOISE = (
    ("wrong_sense", _wrong_sense),
    ("untranslated", _untranslated),
    ("agreement", _agreement),
    ("hallucination", _hallucination),
    ("dropped_word", _dropped_word),
    ("word_order", _word_order),
)
