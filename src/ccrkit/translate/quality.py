"""Translation quality with sacrebleu: corpus BLEU and chrF against human references, and the
per-sentence round-trip chrF (back-translation against its source). The tokeniser choice and
the scoring itself are `ccrkit.mtscores`, shared with the synthetic world.

References are every human caption of the same item (multi-reference): a benchmark's
target-language captions are translations (Multi30K task 1) or independent descriptions
(task 2, the synthetic world), and all of an item's captions are acceptable outputs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ccrkit.data import CaptionRecord
from ccrkit.mtscores import Scorer, bleu_tokenizer, sentence_chrf

__all__ = ["bleu_tokenizer", "corpus_scores", "item_references", "sentence_chrf"]


def corpus_scores(
    hypotheses: Sequence[str], references: Sequence[Sequence[str | None]], lang: str
) -> dict[str, float | int | str]:
    """Corpus BLEU and chrF; `references[k][i]` is the k-th reference of sentence i (or None)."""
    scorer = Scorer(references, lang)
    return {**scorer(hypotheses), "tokenize": scorer.tokenize, "sentences": len(hypotheses)}


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
