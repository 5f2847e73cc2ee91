"""One grammar module per language; each exposes CODE, SPACED, render(frame, rng), WRONG_SENSE
and FILLERS. English is the source language; the others are the configurable targets."""

from __future__ import annotations

import random
from types import ModuleType

from ccrkit.world.concepts import Frame
from ccrkit.world.lang import cs, de, en, fr, ja, zh
from ccrkit.world.lang.base import Tok, join, pick

GRAMMARS: dict[str, ModuleType] = {m.CODE: m for m in (en, de, fr, cs, zh, ja)}
SOURCE = "en"
TARGETS = ("de", "fr", "cs", "zh", "ja")

__all__ = ["GRAMMARS", "SOURCE", "TARGETS", "Tok", "join", "pick", "render_text"]


def render_text(frame: Frame, lang: str, rng: random.Random | None = None) -> str:
    """The caption text of `frame` in `lang` (a paraphrase when `rng` is given)."""
    grammar = GRAMMARS[lang]
    return join(grammar.render(frame, rng), grammar.SPACED)
