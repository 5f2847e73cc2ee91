"""Which language a query is in, for the page's note when the model was not trained on it.

py3langid (langid.py's model: 97 languages, character n-grams, numpy only) ranks the languages
a query may be in; only the candidates that matter here are compared: the model's languages, the
collection's caption languages and a few widespread ones. Short queries are ambiguous ("a star",
"lila Kreuz"), so a language is reported only when it clearly wins: at least MIN_SHARE of the
candidates' probability and MARGIN times the best of the model's own languages. Without the
library there is no detection (the page simply shows no note).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

COMMON = ("en", "de", "fr", "es", "it", "nl", "pt", "cs", "pl", "ru", "zh", "ja", "ko")
MIN_SHARE = 0.4
MARGIN = 1.5


@functools.cache
def _identifier() -> Any:
    """The langid model (about a second to load), once per process, or None without it."""
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier
    except ImportError:
        return None
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def load() -> None:
    """Load the model now (at server start) instead of on the first query."""
    _identifier()


def ranked(text: str, candidates: Iterable[str]) -> list[tuple[str, float]]:
    """The candidate languages of `text`, most probable first, probabilities over them."""
    identifier = _identifier()
    wanted = set(candidates)
    if identifier is None or not wanted:
        return []
    scores = [(lang, float(p)) for lang, p in identifier.rank(text) if lang in wanted]
    total = sum(p for _, p in scores) or 1.0
    return [(lang, p / total) for lang, p in scores]


@dataclass(frozen=True)
class Detected:
    lang: str | None  # the query's language when one clearly leads (MIN_SHARE), else None
    foreign: bool  # ... and it is none of the model's languages, by a MARGIN over them


def detect(text: str, model_langs: Iterable[str], other_langs: Iterable[str] = ()) -> Detected:
    """The language of `text` among the model's, `other_langs` and COMMON ones."""
    model = {lang.lower() for lang in model_langs}
    scores = ranked(text, {*COMMON, *model, *other_langs})
    if not scores or scores[0][1] < MIN_SHARE:
        return Detected(None, False)
    top, share = scores[0]
    best_known = max((p for lang, p in scores if lang in model), default=0.0)
    return Detected(top, top not in model and share >= MARGIN * best_known)
