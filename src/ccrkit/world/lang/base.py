"""What every language grammar shares: tagged tokens, paraphrase choice, joining into a sentence.

A grammar renders a `Frame` into a list of `Tok`: the surface text plus what the MT noise needs to
know about it (which concept it expresses, and a wrongly inflected alternative form). Human
captions pass a `random.Random` and get a varied paraphrase; the MT passes None and gets the one
canonical, literal rendering (`pick` then takes the first option), as a real MT system would.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Tok:
    """One word (or fixed multi-word unit) of a rendered caption."""

    text: str
    concept: str = ""  # "shape:star", "colour:red", "rel:left_of", "event:turn", "dir:up", ...
    bad_agreement: str = (
        ""  # the same word wrongly inflected (gender, case, measure word, particle)
    )

    @property
    def is_punct(self) -> bool:
        return self.text in PUNCT


PUNCT = frozenset({".", ",", "。", "、", "，"})


def pick(rng: random.Random | None, options: Sequence[T], weights: Sequence[float] = ()) -> T:
    """A paraphrase choice: random for a human writer, always the first option for the MT."""
    if rng is None:
        return options[0]
    if weights:
        return rng.choices(options, weights=weights)[0]
    return options[rng.randrange(len(options))]


def toks(text: str, concept: str = "") -> list[Tok]:
    """Plain words (split on spaces) of a fixed phrase; the concept tags the whole phrase's head."""
    words = text.split()
    return [Tok(w, concept if i == len(words) - 1 else "") for i, w in enumerate(words)]


_SPACE_BEFORE_PUNCT = re.compile(r" ([.,])")


def join(tokens: Sequence[Tok], spaced: bool) -> str:
    """The sentence: words joined by spaces (no space before punctuation, first letter capital),
    or, for Chinese and Japanese, with no spaces at all."""
    if not spaced:
        return "".join(t.text for t in tokens)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(t.text for t in tokens if t.text))
    return text[:1].upper() + text[1:]
