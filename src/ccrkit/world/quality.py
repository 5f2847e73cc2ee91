"""How noisy the synthetic MT is, measured like real MT: sacrebleu BLEU and chrF per language,
against the clean translation of the same caption and against the item's independent human
captions, plus counts of every noise type."""

from __future__ import annotations

import functools
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ccrkit.world.config import NOISE_TYPES
from ccrkit.world.layout import mt_tags
from ccrkit.world.text import Captions, CollectionText


@functools.cache
def tokenizer(lang: str) -> str:
    """sacrebleu's tokeniser for a language: 'zh' for Chinese, 'ja-mecab' for Japanese when
    MeCab and its dictionary are installed (`sacrebleu[ja]`), otherwise 'char' with a warning."""
    if lang == "zh":
        return "zh"
    if lang != "ja":
        return "13a"
    try:
        from sacrebleu.metrics import BLEU

        BLEU(tokenize="ja-mecab").corpus_score(["テスト"], [["テスト"]])
        return "ja-mecab"
    except Exception:
        warnings.warn(
            "MeCab for sacrebleu's 'ja-mecab' tokeniser is not installed (pip install 'sacrebleu[ja]'); "
            "Japanese BLEU uses the 'char' tokeniser",
            stacklevel=2,
        )
        return "char"


class Scorer:
    """Corpus BLEU (tokeniser by language) and chrF against fixed reference streams, whose
    statistics sacrebleu extracts once, however many hypothesis sets are scored against them."""

    def __init__(self, references: Sequence[Sequence[str]], lang: str) -> None:
        from sacrebleu.metrics import BLEU, CHRF

        streams = [list(r) for r in references]
        self.bleu = BLEU(tokenize=tokenizer(lang), references=streams)
        self.chrf = CHRF(references=streams)

    def __call__(self, hypotheses: Sequence[str]) -> dict[str, float]:
        bleu = self.bleu.corpus_score(list(hypotheses), None)
        chrf = self.chrf.corpus_score(list(hypotheses), None)
        return {"bleu": round(bleu.score, 2), "chrf": round(chrf.score, 2)}


def score(
    hypotheses: Sequence[str], references: Sequence[Sequence[str]], lang: str
) -> dict[str, float]:
    """Corpus BLEU (tokeniser by language) and chrF; `references` is a list of reference streams."""
    return Scorer(references, lang)(hypotheses)


@dataclass
class EnglishSide:
    """What every language's output into English is scored against, for one split: the items in
    caption order, scorers against all their human English captions and against caption #0 of
    each. Built once per collection instead of once per language: the default world's scoring
    took 10.2 s instead of 14.2 s (one process, both collections, five languages)."""

    items: list[str]
    human: Scorer
    first: Scorer

    @classmethod
    def of(cls, text: CollectionText, split: str, per_item: int) -> EnglishSide:
        english = text.captions[(split, "enc")]
        ids, firsts = first_captions(english)
        human = Scorer(item_references(ids, english, per_item), "en")
        return cls(items_of(ids), human, Scorer([firsts], "en"))


def items_of(caption_ids: Sequence[str]) -> list[str]:
    """The item of every caption id `<item>#<tag>#<n>`."""
    return [cid.split("#")[0] for cid in caption_ids]


def item_references(hyp_ids: Sequence[str], human: Captions, per_item: int) -> list[list[str]]:
    """`per_item` reference streams: stream j holds caption j of each hypothesis's item."""
    by_item: dict[str, list[str]] = {}
    for item, text in zip(items_of(human.ids), human.texts, strict=True):
        by_item.setdefault(item, []).append(text)
    hyp_items = items_of(hyp_ids)
    return [[by_item[item][j] for item in hyp_items] for j in range(per_item)]


def first_captions(captions: Captions) -> tuple[list[str], list[str]]:
    """Ids and texts of caption #0 of every item: one hypothesis per item keeps multi-reference
    chrF affordable (its cost grows with hypotheses x references)."""
    pairs = [(i, t) for i, t in zip(captions.ids, captions.texts, strict=True) if i.endswith("#0")]
    return [i for i, _ in pairs], [t for _, t in pairs]


def mt_quality(
    text: CollectionText, languages: Sequence[str], split: str, per_item: int
) -> dict[str, Any]:
    """Per language, on caption #0 of every item of `split`: en->xx and xx->en BLEU/chrF vs the
    clean translation of the same caption (one reference) and vs the item's independent human
    captions (all `per_item` of them, multi-reference), and the round trip (back-translation vs
    the English source caption)."""
    english = EnglishSide.of(text, split, per_item)
    return {lang: language_quality(text, lang, split, per_item, english) for lang in languages}


def language_quality(
    text: CollectionText, lang: str, split: str, per_item: int, english: EnglishSide
) -> dict[str, Any]:
    """`mt_quality` of one language; `english` is `EnglishSide.of` the same text and split."""
    forward_tag, back_tag, test_tag = mt_tags(lang)
    forward, back, test = (text.captions[(split, t)] for t in (forward_tag, back_tag, test_tag))
    forward_ids, forward_first = first_captions(forward)
    test_ids, test_first = first_captions(test)
    back_ids, back_first = first_captions(back)
    for ids in (test_ids, back_ids):
        if items_of(ids) != english.items:
            raise ValueError(
                f"{lang} captions of {split} are not in the English captions' item order"
            )
    clean_forward, clean_test = text.clean[(split, forward_tag)], text.clean[(split, test_tag)]
    human = text.captions[(split, lang)]
    return {
        forward_tag: {
            "vs_clean": score(forward_first, [clean_forward], lang),
            "vs_human": score(forward_first, item_references(forward_ids, human, per_item), lang),
        },
        test_tag: {
            "vs_clean": score(test_first, [clean_test], "en"),
            "vs_human": english.human(test_first),
        },
        back_tag: {"vs_source": english.first(back_first)},
    }


_SHARED: dict[str, Any] = {}


def parallel_mt_quality(
    texts: dict[str, CollectionText],
    languages: Sequence[str],
    split: str,
    per_item: dict[str, int],
    workers: int,
) -> dict[str, dict[str, Any]]:
    """`mt_quality` of every collection, one (collection, language) per task in `workers`
    processes: sacrebleu is pure Python, so on 2 cores this halves the slowest step that follows
    the backbone (22.6 -> 12 s for the default world). Forked workers inherit the captions
    instead of receiving them pickled."""
    from ccrkit.world.pictures import make_executor

    for lang in ["en", *languages]:  # resolved (and warned about) once: the workers inherit it
        tokenizer(lang)
    tasks = [(c, lang) for c in texts for lang in languages]
    with make_executor(workers, _share, (texts, split, per_item)) as pool:
        scores = list(pool.map(_language_task, tasks))
    out: dict[str, dict[str, Any]] = {c: {} for c in texts}
    for (collection, lang), result in zip(tasks, scores, strict=True):
        out[collection][lang] = result
    return out


def _share(texts: dict[str, CollectionText], split: str, per_item: dict[str, int]) -> None:
    _SHARED.update(texts=texts, split=split, per_item=per_item, english={})


def _language_task(task: tuple[str, str]) -> dict[str, Any]:
    collection, lang = task
    text, per_item = _SHARED["texts"][collection], _SHARED["per_item"][collection]
    sides = _SHARED["english"]  # this worker's, each made by its first task of a collection
    if collection not in sides:
        sides[collection] = EnglishSide.of(text, _SHARED["split"], per_item)
    return language_quality(text, lang, _SHARED["split"], per_item, sides[collection])


def noise_counts(text: CollectionText, languages: Sequence[str]) -> dict[str, Any]:
    """Per machine tag, over all splits: sentences, sentences with any noise, hits per type."""
    out: dict[str, Any] = {}
    for lang in languages:
        for tag in mt_tags(lang):
            counts: Counter[str] = Counter()
            sentences = noisy = 0
            for (_, t), captions in text.captions.items():
                if t != tag:
                    continue
                for types in captions.noise or ():
                    sentences += 1
                    noisy += bool(types)
                    counts.update(types)
            out[tag] = {
                "sentences": sentences,
                "noisy": noisy,
                "types": {k: counts[k] for k in NOISE_TYPES},
            }
    return out
