"""The synthetic MT system: translates what a caption *says* (its frame) with typed, controllable
noise, like a real MT system whose errors we can count.

A clean translation is the target grammar's one literal rendering of the source caption's frame
(not of the scene: what the source leaves out stays out). Noise, each type applied to a sentence
with probability `noise * weights[type]` when it can apply:

- wrong_attribute: a colour, shape, size, relation, direction or new colour changed in the frame
  (the translation now describes a different scene: the harmful kind);
- wrong_sense: an ambiguous source word translated in its other sense ('square' -> 'Platz');
- untranslated: a source-language word left in the output;
- agreement: a word inflected for the wrong gender/case (a wrong measure word or particle in zh/ja);
- hallucination: an extra word the source does not have;
- dropped_word: a word left out;
- word_order: two neighbouring words swapped.
"""

from __future__ import annotations

import gzip
import itertools
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from json.encoder import encode_basestring
from pathlib import Path
from types import ModuleType

from ccrkit.world.concepts import (
    COLOURS,
    DIRECTIONS,
    INVERSE_RELATION,
    RELATIONS,
    SHAPES,
    Frame,
)
from ccrkit.world.config import NOISE_TYPES
from ccrkit.world.lang import GRAMMARS, Tok, join

Source = tuple[str, Frame]  # the source language and what the source caption says


@dataclass(frozen=True)
class MTResult:
    """One translation, the noise types that hit it, and the meaning it now carries."""

    text: str
    noise_types: tuple[str, ...]
    frame: Frame


def translate_frames(
    frames: Sequence[Frame],
    src: str,
    tgt: str,
    noise: float,
    seed: int,
    weights: Mapping[str, float] | None = None,
) -> list[MTResult]:
    """Translate source captions given by their frames. Deterministic: the same frame, languages,
    noise and seed always give the same output (as a real MT system would)."""
    _check_languages(src, tgt)
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be in [0, 1], got {noise}")
    rates = {t: min(1.0, noise * (weights or {}).get(t, 1.0)) for t in NOISE_TYPES}
    return [_translate_one(frame, src, tgt, rates, seed) for frame in frames]


def translate(
    captions: Sequence[str],
    src: str,
    tgt: str,
    noise: float,
    seed: int,
    index: FrameIndex,
    weights: Mapping[str, float] | None = None,
) -> list[MTResult]:
    """Translate caption texts of a synthetic world; `index` knows the meaning of each text."""
    return translate_frames(
        [index.frame(src, text) for text in captions], src, tgt, noise, seed, weights
    )


class FrameIndex:
    """Caption text -> frame for every caption of a world, human and machine (written as
    `*_frames.jsonl.gz`).

    Different frames can render to the same text; the first frame registered for a text wins, and
    the world itself looks its captions up here before translating them, so the text API and the
    generator always translate the same meaning.
    """

    def __init__(self) -> None:
        self._frames: dict[tuple[str, str], Frame] = {}

    def add(self, lang: str, text: str, frame: Frame) -> None:
        self._frames.setdefault((lang, text), frame)

    def add_all(self, lang: str, texts: Sequence[str], frames: Sequence[Frame]) -> list[Frame]:
        """Register captions and return the frame each text now stands for."""
        for text, frame in zip(texts, frames, strict=True):
            self.add(lang, text, frame)
        return [self._frames[(lang, text)] for text in texts]

    def frame(self, lang: str, text: str) -> Frame:
        try:
            return self._frames[(lang, text)]
        except KeyError:
            raise ValueError(
                f"the synthetic MT only translates captions of its own world; unknown {lang} caption: {text!r}"
            ) from None

    def __len__(self) -> int:
        return len(self._frames)

    def dumps(self) -> bytes:
        """Gzipped JSON lines `{"lang": .., "text": .., "frame": ..}`, sorted by language and text.

        Written as `json.dumps` of that dict would write them, but each frame object is encoded
        once (captions share them: 124k objects for 275k image captions), and strings by the
        encoder's own function (`json.dumps(text, ensure_ascii=False)` without its set-up).
        """
        encoded: dict[int, str] = {}  # id(frame) -> its JSON; every frame stays alive meanwhile
        lines = []
        for (lang, text), frame in sorted(self._frames.items()):
            body = encoded.get(id(frame))
            if body is None:
                body = encoded[id(frame)] = json.dumps(frame.to_json(), ensure_ascii=False)
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
                    index.add(row["lang"], row["text"], Frame.from_json(row["frame"]))
        return index


def _check_languages(src: str, tgt: str) -> None:
    for name, lang in (("src", src), ("tgt", tgt)):
        if lang not in GRAMMARS:
            raise ValueError(f"{name} language {lang!r} unknown; allowed: {', '.join(GRAMMARS)}")
    if src == tgt or "en" not in (src, tgt):
        raise ValueError(f"the synthetic MT translates en->xx or xx->en, got {src}->{tgt}")


def _translate_one(
    frame: Frame, src: str, tgt: str, rates: dict[str, float], seed: int
) -> MTResult:
    grammar = GRAMMARS[tgt]
    if not any(rates.values()):  # clean MT: the literal rendering, no random draws needed
        return MTResult(join(grammar.render(frame, None), grammar.SPACED), (), frame)
    rng = random.Random(f"{seed}|{src}>{tgt}|{frame!r}")
    hits: list[str] = []
    source = (src, frame)  # an untranslated word comes from what the source really says
    if rng.random() < rates["wrong_attribute"]:
        frame = wrong_attribute(frame, rng)
        hits.append("wrong_attribute")
    tokens = list(grammar.render(frame, None))
    for kind, apply in _TOKEN_NOISE:
        if rng.random() < rates[kind]:
            changed = apply(tokens, rng, grammar, source)
            if changed is not None:
                tokens = changed
                hits.append(kind)
    return MTResult(join(tokens, grammar.SPACED), tuple(hits), frame)


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
    """Change one said attribute, relation or event argument to another value."""
    choices: list[tuple[str, int]] = []
    for i, m in enumerate(frame.objects):
        choices += [("shape", i)] + ([("colour", i)] if m.colour else [])
    if frame.relation:
        choices += [("relation", -1)] * 2
    choices += [("event", k) for k, e in enumerate(frame.events) if e.arg]
    what, i = rng.choice(choices)
    if what == "shape":
        return frame.with_object(i, shape=_other(rng, SHAPES, frame.objects[i].shape))
    if what == "colour":
        return frame.with_object(i, colour=_other(rng, COLOURS, frame.objects[i].colour))
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


def _wrong_sense(
    tokens: list[Tok], rng: random.Random, grammar: ModuleType, source: Source
) -> list[Tok] | None:
    spots = [i for i, t in enumerate(tokens) if t.concept in grammar.WRONG_SENSE]
    if not spots:
        return None
    i = rng.choice(spots)
    return [*tokens[:i], Tok(grammar.WRONG_SENSE[tokens[i].concept]), *tokens[i + 1 :]]


def _untranslated(
    tokens: list[Tok], rng: random.Random, grammar: ModuleType, source: Source
) -> list[Tok] | None:
    src, frame = source
    source_words = {t.concept: t.text for t in GRAMMARS[src].render(frame, None) if t.concept}
    spots = [i for i, t in enumerate(tokens) if t.concept in source_words]
    if not spots:
        return None
    i = rng.choice(spots)
    return [*tokens[:i], Tok(source_words[tokens[i].concept]), *tokens[i + 1 :]]


def _agreement(
    tokens: list[Tok], rng: random.Random, grammar: ModuleType, source: Source
) -> list[Tok] | None:
    spots = [i for i, t in enumerate(tokens) if t.bad_agreement]
    if not spots:
        return None
    i = rng.choice(spots)
    return [*tokens[:i], Tok(tokens[i].bad_agreement), *tokens[i + 1 :]]


def _hallucination(
    tokens: list[Tok], rng: random.Random, grammar: ModuleType, source: Source
) -> list[Tok] | None:
    i = rng.randrange(len(tokens))  # anywhere before the final punctuation
    return [*tokens[:i], Tok(rng.choice(grammar.FILLERS)), *tokens[i:]]


def _dropped_word(
    tokens: list[Tok], rng: random.Random, grammar: ModuleType, source: Source
) -> list[Tok] | None:
    spots = _word_positions(tokens)
    if len(spots) < 3:
        return None
    i = rng.choice(spots)
    return [*tokens[:i], *tokens[i + 1 :]]


def _word_order(
    tokens: list[Tok], rng: random.Random, grammar: ModuleType, source: Source
) -> list[Tok] | None:
    spots = _word_positions(tokens)
    pairs = [(a, b) for a, b in itertools.pairwise(spots) if b == a + 1]
    if not pairs:
        return None
    a, b = rng.choice(pairs)
    swapped = list(tokens)
    swapped[a], swapped[b] = tokens[b], tokens[a]
    return swapped


_TOKEN_NOISE = (
    ("wrong_sense", _wrong_sense),
    ("untranslated", _untranslated),
    ("agreement", _agreement),
    ("hallucination", _hallucination),
    ("dropped_word", _dropped_word),
    ("word_order", _word_order),
)
