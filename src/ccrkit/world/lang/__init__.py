"""One grammar module per language; each exposes CODE, SPACED, render(frame, rng), WRONG_SENSE
and FILLERS. English is the source language; the others are the configurable targets."""

from __future__ import annotations

from types import ModuleType

from ccrkit.world.concepts import Frame
from ccrkit.world.lang import cs, de, en, fr, ja, zh
from ccrkit.world.lang.base import Chooser, Tok, Wording, join, pick

GRAMMARS: dict[str, ModuleType] = {m.CODE: m for m in (en, de, fr, cs, zh, ja)}
SOURCE = "en"
TARGETS = ("de", "fr", "cs", "zh", "ja")

__all__ = [
    "GRAMMARS",
    "SOURCE",
    "TARGETS",
    "Chooser",
    "Tok",
    "Wording",
    "join",
    "pick",
    "render_text",
]


def render_text(frame: Frame, lang: str, rng: Chooser = None) -> str:
    """The caption text of `frame` in `lang`: a human paraphrase for a `random.Random`, an MT
    system's wording for a `Wording`, the canonical rendering for None."""
    grammar = GRAMMARS[lang]
    return join(grammar.render(frame, rng), grammar.SPACED)
