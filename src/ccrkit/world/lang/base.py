"""What every language grammar shares: tagged tokens, paraphrase choice, joining into a sentence.

A grammar renders a `Frame` into a list of `Tok`: the surface text plus what the MT noise needs to
know about it (which concept it expresses, and a wrongly inflected alternative form). Human
captions pass a `random.Random` and get a varied paraphrase, each option equally likely; the MT
passes a `Wording` (see there); None gives the canonical rendering (every first option).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import random
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

T = TypeVar("T")


class Tok(NamedTuple):
    """One word (or fixed multi-word unit) of a rendered caption. A named tuple, not a dataclass:
    the world makes millions of them, and a tuple is made several times faster."""

    text: str
    concept: str = ""  # "shape:star", "colour:red", "rel:left_of", "event:turn", "dir:up", ...
    bad_agreement: str = ""  # the same word wrongly inflected (gender, case, measure word, ...)

    @property
    def is_punct(self) -> bool:
        return self.text in PUNCT


PUNCT = frozenset({".", ",", "。", "、", "，"})


SKEW = 1.5  # an MT system's option k (from 0) is chosen with weight 1 / (k + 1) ** SKEW
PHRASE_DRAWS = 8  # choices one phrase can make; a phrase with more reuses them in turn


class Wording:
    """How an MT system words what it translates, as real systems do: each paraphrase slot takes
    one of its options from a skewed distribution (weight 1 / (k + 1) ** SKEW for the k-th
    option: 74/26 % of two options, 65/23/12 % of three), and the draw is fixed by the phrase it
    translates and the system (seed and language pair). The same noun phrase, event or count is
    therefore worded the same way in every sentence; the sentence's own structure (template,
    lead words, linking words) is fixed per source sentence. Grammars open a phrase with
    `phrase(rng, key)`; `pick` draws from whichever chooser it is given."""

    __slots__ = ("_draw", "system")

    def __init__(self, system: str, draw: Callable[[], float]) -> None:
        self.system = system
        self._draw = draw

    @classmethod
    def sentence(cls, system: str, seed: int) -> Wording:
        """The chooser of one sentence's structure, drawing from `seed` (a cheap generator: a
        `random.Random` costs more to seed than the whole sentence costs to render)."""
        return cls(system, _splitmix(seed).__next__)

    def choose(self, options: Sequence[T]) -> T:
        return options[bisect.bisect(_cumulative(len(options)), self._draw())]

    def within(self, key: Hashable) -> Wording:
        return Wording(self.system, itertools.cycle(_phrase_draws(self.system, key)).__next__)


def _splitmix(seed: int) -> Iterator[float]:
    """Uniform draws in [0, 1) from SplitMix64 (Steele, Lea and Flood 2014) started at `seed`."""
    mask = (1 << 64) - 1
    state = seed & mask
    while True:
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        yield ((z ^ (z >> 31)) >> 11) * 2.0**-53


@functools.cache
def _cumulative(n: int) -> tuple[float, ...]:
    weights = [1.0 / (k + 1) ** SKEW for k in range(n)]
    total = sum(weights)
    return tuple(itertools.accumulate(w / total for w in weights[:-1]))


@functools.cache
def _phrase_draws(system: str, key: Hashable) -> tuple[float, ...]:
    rng = random.Random(f"{system}|{key!r}")
    return tuple(rng.random() for _ in range(PHRASE_DRAWS))


Chooser = random.Random | Wording | None
R = TypeVar("R")


def mt_memo(render: Callable[..., R]) -> Callable[..., R]:
    """Memoise a phrase renderer for the MT. Given a `Wording`, a phrase's words depend only on
    the system and the other arguments (the phrase draws its own choices), and the MT renders
    the same few hundred phrases in hundreds of thousands of sentences; a human writer's
    phrases are drawn afresh every time. Returns fresh lists, so callers may extend them."""
    cache: dict[tuple, Any] = {}

    @functools.wraps(render)
    def memoised(*args: Any, **kwargs: Any) -> R:
        if "rng" in kwargs:  # the chooser is the keyword `rng` or the last positional argument
            rng, rest, named = kwargs["rng"], args, tuple(kwargs.items())
        else:
            rng, rest, named = args[-1], args[:-1], tuple(kwargs.items())
        if type(rng) is not Wording:
            return render(*args, **kwargs)
        key = (rng.system, rest, named)
        found = cache.get(key)
        if found is None:
            found = cache[key] = render(*args, **kwargs)
        return _fresh(found)

    return memoised


def _fresh(value: Any) -> Any:
    """A copy of a renderer's result whose lists a caller may extend (a list, or a tuple of lists
    and strings)."""
    if type(value) is list:
        return value.copy()
    return tuple(v.copy() if type(v) is list else v for v in value)


def phrase(rng: Chooser, key: Hashable) -> Chooser:
    """The chooser for one phrase (a mention, an event, a count): an MT `Wording` keyed by the
    phrase, so that it is worded the same way wherever it occurs; a human writer's is unchanged."""
    return rng.within(key) if type(rng) is Wording else rng


def pick(rng: Chooser, options: Sequence[T]) -> T:
    """A paraphrase choice: uniform for a human writer, skewed and fixed per phrase for the MT
    (`Wording`), the first option for None."""
    if rng is None:
        return options[0]
    if type(rng) is Wording:
        return rng.choose(options)
    return rng.choice(options)  # the same draw as options[rng.randrange(len(options))]


def counted(
    count: int | None, rng: Chooser, only: Sequence[str], others: dict[int, Sequence[str]]
) -> tuple[list[Tok], list[Tok]]:
    """What goes before and after a one-object caption's noun phrase to say how many objects the
    picture holds: one of `only` before it when it is the only one, one of `others[count]` after
    it otherwise ('and #two other shapes': the word marked '#' carries the concept)."""
    if count is None:
        return [], []
    rng = phrase(rng, ("count", count))
    if count == 1:
        return [Tok(pick(rng, only), "count:1")], []
    words = pick(rng, others[count]).split()
    return [], [Tok(w.lstrip("#"), f"count:{count}" if w[0] == "#" else "") for w in words]


def toks(text: str, concept: str = "") -> list[Tok]:
    """Plain words (split on spaces) of a fixed phrase; the concept tags the whole phrase's head."""
    return list(_toks(text, concept))


@functools.cache
def _toks(text: str, concept: str) -> tuple[Tok, ...]:
    words = text.split()
    return tuple(Tok(w, concept if i == len(words) - 1 else "") for i, w in enumerate(words))


def join(tokens: Sequence[Tok], spaced: bool) -> str:
    """The sentence: words joined by spaces (no space before punctuation, first letter capital),
    or, for Chinese and Japanese, with no spaces at all."""
    if not spaced:
        return "".join([t.text for t in tokens])
    text = " ".join([t.text for t in tokens if t.text]).replace(" .", ".").replace(" ,", ",")
    return text[:1].upper() + text[1:]
