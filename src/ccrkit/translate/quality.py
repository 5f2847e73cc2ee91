"""Translation quality with sacrebleu: corpus BLEU and chrF against human references, and the
per-sentence round-trip chrF (back-translation against its source).

BLEU needs the right tokeniser: `zh` for Chinese, `ja-mecab` for Japanese (MeCab with the IPA
dictionary, from `pip install "sacrebleu[ja]"`; without it BLEU falls back to `char`, one token
per character, and says so), `13a` for the rest. chrF works on characters and needs none.

References are every human caption of the same item (multi-reference): a benchmark's
target-language captions are translations (Multi30K task 1) or independent descriptions
(task 2, the synthetic world), and all of an item's captions are acceptable outputs.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

from ccrkit.data import CaptionRecord
from ccrkit.translate.backend import TranslationError

logger = logging.getLogger(__name__)


def bleu_tokenizer(lang: str) -> str:
    """sacrebleu's tokeniser for `lang` (a plain ISO code such as 'de', 'zh', 'ja')."""
    if lang.startswith("zh"):
        return "zh"
    if lang.startswith("ja"):
        return "ja-mecab" if _mecab_available() else "char"
    return "13a"


def corpus_scores(
    hypotheses: Sequence[str], references: Sequence[Sequence[str | None]], lang: str
) -> dict[str, float | int | str]:
    """Corpus BLEU and chrF; `references[k][i]` is the k-th reference of sentence i (or None)."""
    BLEU, CHRF = _metrics()
    tokenize = bleu_tokenizer(lang)
    refs = [list(stream) for stream in references]
    bleu = BLEU(tokenize=tokenize).corpus_score(list(hypotheses), refs)
    chrf = CHRF().corpus_score(list(hypotheses), refs)
    return {"bleu": round(bleu.score, 2), "chrf": round(chrf.score, 2),
            "tokenize": tokenize, "sentences": len(hypotheses)}  # fmt: skip


def sentence_chrf(hypothesis: str, reference: str) -> float:
    return _metrics()[1]().sentence_score(hypothesis, [reference]).score


def item_references(
    hypotheses: Sequence[CaptionRecord], references: Sequence[CaptionRecord]
) -> tuple[list[str], list[list[str | None]]]:
    """(hypotheses that have references, reference streams): every reference caption of the same
    item, padded with None where an item has fewer (sacrebleu's variable-reference form)."""
    by_item: dict[str, list[str]] = defaultdict(list)
    for record in references:
        by_item[record.item_id].append(record.text)
    scored = [record for record in hypotheses if record.item_id in by_item]
    width = max((len(by_item[record.item_id]) for record in scored), default=0)
    streams = [[_nth(by_item[record.item_id], k) for record in scored] for k in range(width)]
    return [record.text for record in scored], streams


def _nth(texts: list[str], k: int) -> str | None:
    return texts[k] if k < len(texts) else None


def _metrics() -> tuple[type, type]:
    try:
        from sacrebleu.metrics import BLEU, CHRF
    except ImportError:
        raise TranslationError(
            "translation quality needs sacrebleu: pip install 'ccrkit[translate]'"
        ) from None
    return BLEU, CHRF


def _mecab_available() -> bool:
    try:
        import ipadic  # noqa: F401
        import MeCab  # noqa: F401
    except ImportError:
        logger.warning(
            "warning: MeCab is not installed (pip install 'sacrebleu[ja]'); Japanese BLEU uses "
            "character tokens ('char') instead of 'ja-mecab'"
        )
        return False
    return True
