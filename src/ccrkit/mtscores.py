"""BLEU and chrF with sacrebleu, shared by `ccrkit translate` (quality of real MT output) and the
synthetic world (`ccrkit.world.quality`): the tokeniser each language needs, one MeCab probe, and
corpus scoring against fixed reference streams.

It sits beside `ccrkit.config` at the top level because both the world and `ccrkit.translate`
use it, and `ccrkit.translate` imports the world (its `synthetic` backend is the world's MT):
scoring kept in either package would make the two import each other.

BLEU needs the right tokeniser: `zh` for Chinese, `ja-mecab` for Japanese (MeCab with the IPA
dictionary, from `pip install "sacrebleu[ja]"`; without it BLEU falls back to `char`, one token per
character, and says so once), `13a` for the rest. chrF works on characters and needs none.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

logger = logging.getLogger(__name__)


def bleu_tokenizer(lang: str) -> str:
    """sacrebleu's tokeniser for `lang` (a plain ISO code such as 'de', 'zh', 'ja', 'zh-CN')."""
    if lang.startswith("zh"):
        return "zh"
    if lang.startswith("ja"):
        return "ja-mecab" if mecab_available() else "char"
    return "13a"


@functools.cache
def mecab_available() -> bool:
    """Whether sacrebleu's 'ja-mecab' tokeniser works here (MeCab and its dictionary installed):
    tried once per process on a real sentence, with one warning when it does not."""
    try:
        import ipadic  # noqa: F401  (the dictionary sacrebleu's tokeniser loads)
        import MeCab  # noqa: F401
        from sacrebleu.metrics import BLEU

        BLEU(tokenize="ja-mecab").corpus_score(["テスト"], [["テスト"]])
    except Exception:  # ImportError, or MeCab present without a usable dictionary
        logger.warning(
            "warning: MeCab is not installed (pip install 'sacrebleu[ja]'); Japanese BLEU uses "
            "character tokens ('char') instead of 'ja-mecab'"
        )
        return False
    return True


class Scorer:
    """Corpus BLEU (tokeniser by language) and chrF against fixed reference streams, whose
    statistics sacrebleu extracts once, however many hypothesis sets are scored against them.
    `references[k][i]` is the k-th reference of sentence i, or None where sentence i has fewer."""

    def __init__(self, references: Sequence[Sequence[str | None]], lang: str) -> None:
        from sacrebleu.metrics import BLEU, CHRF

        streams = [list(r) for r in references]
        self.tokenize = bleu_tokenizer(lang)
        self.bleu = BLEU(tokenize=self.tokenize, references=streams)
        self.chrf = CHRF(references=streams)

    def __call__(self, hypotheses: Sequence[str]) -> dict[str, float]:
        bleu = self.bleu.corpus_score(list(hypotheses), None)
        chrf = self.chrf.corpus_score(list(hypotheses), None)
        return {"bleu": round(bleu.score, 2), "chrf": round(chrf.score, 2)}


def score(
    hypotheses: Sequence[str], references: Sequence[Sequence[str | None]], lang: str
) -> dict[str, float]:
    """Corpus BLEU and chrF (rounded to 2 decimals) of `hypotheses` against reference streams."""
    return Scorer(references, lang)(hypotheses)


def sentence_chrf(hypothesis: str, reference: str) -> float:
    from sacrebleu.metrics import CHRF

    return CHRF().sentence_score(hypothesis, [reference]).score
