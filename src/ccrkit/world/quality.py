"""How noisy the synthetic MT is, measured like real MT: sacrebleu BLEU and chrF per language
(`ccrkit.mtscores`), against the clean translation of the same caption and against the item's
independent human captions, next to a published real-MT figure; counts of every noise type, of
the MT errors the back-translation carries over, and of duplicate caption texts in a batch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ccrkit.mtscores import Scorer, bleu_tokenizer, score
from ccrkit.world.config import NOISE_TYPES
from ccrkit.world.layout import caption_parts, mt_tags
from ccrkit.world.pictures import make_executor
from ccrkit.world.text import Captions, CollectionText


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
    return [caption_parts(cid)[0] for cid in caption_ids]


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
    for lang in ["en", *languages]:  # resolved (and warned about) once: the workers inherit it
        bleu_tokenizer(lang)
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


# A published figure for real MT on Multi30K test 2016 en->de, the one German MT BLEU vs human
# references is calibrated against (docs/world.md says how far the two are comparable).
REAL_MT_REFERENCE = {
    "bleu": 37.33,
    "system": "attentive text-only NMT (nmtpy's WMT16 multimodal task 1 monomodal example)",
    "test_set": "Multi30K test 2016 (flickr), en->de, 1 reference, lowercased and tokenised",
    "source": "github.com/lium-lst/nmtpy, examples/wmt16-mmt-task1/README.md (nmt-coco-metrics: "
    "Bleu_4 0.37333, METEOR 0.57024)",
    "band": [32.0, 42.0],  # our tolerance: +-5 BLEU for tokenisation, casing and references
}


def calibration(quality: dict[str, dict[str, Any]], collection: str) -> dict[str, Any]:
    """The real-MT reference beside our en->xx BLEU against human captions, per language."""
    ours = {lang: q[f"enc2{lang}"]["vs_human"]["bleu"] for lang, q in quality[collection].items()}
    low, high = REAL_MT_REFERENCE["band"]
    return {
        "reference": REAL_MT_REFERENCE,
        "collection": collection,
        "bleu_vs_human": ours,
        "german_in_band": "de" in ours and low <= ours["de"] <= high,
    }


def propagation(text: CollectionText, languages: Sequence[str]) -> dict[str, Any]:
    """Per language, over all splits: how many of the en->xx MT's slips of each noise type its
    back-translation carried over (`carried`) out of all it met (`in_mt`)."""
    out: dict[str, Any] = {}
    for lang in languages:
        _, back_tag, _ = mt_tags(lang)
        carried: Counter[str] = Counter()
        met: Counter[str] = Counter()
        for (_, tag), captions in text.captions.items():
            if tag != back_tag:
                continue
            for kept, repaired in zip(captions.carried or (), captions.fixed or (), strict=True):
                carried.update(kept)
                met.update(kept)
                met.update(repaired)
        out[back_tag] = {k: {"in_mt": met[k], "carried": carried[k]} for k in NOISE_TYPES}
    return out


def duplicates_in_batch(
    texts: Sequence[str],
    items: Sequence[str],
    batch_size: int = 128,
    epochs: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """How often one training batch holds the same caption text twice, under random batching
    (a fresh permutation every epoch): the percentage of batches with at least one repeated text,
    and of captions whose text occurs again in their batch, of any item and of another item
    (a duplicate text of another item is a false negative for a contrastive loss)."""
    _, text_ids = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    _, item_ids = np.unique(np.asarray(items, dtype=object), return_inverse=True)
    rng = np.random.default_rng(seed)
    full = len(texts) // batch_size * batch_size
    batches = with_repeat = captions = other_item = 0
    for _ in range(epochs):
        order = rng.permutation(len(texts))[:full].reshape(-1, batch_size)
        t, i = text_ids[order], item_ids[order]
        same_text = (t[:, :, None] == t[:, None, :]) & ~np.eye(batch_size, dtype=bool)
        repeated = same_text.any(axis=2)
        batches += order.shape[0]
        with_repeat += int(repeated.any(axis=1).sum())
        captions += int(repeated.sum())
        other_item += int((same_text & (i[:, :, None] != i[:, None, :])).any(axis=2).sum())
    seen = batches * batch_size
    return {
        "batch_size": batch_size,
        "captions": len(texts),
        "distinct_texts": int(text_ids.max()) + 1 if len(texts) else 0,
        "batches_with_repeat": round(100.0 * with_repeat / batches, 2),
        "captions_with_repeat": round(100.0 * captions / seen, 2),
        "captions_with_repeat_of_other_item": round(100.0 * other_item / seen, 2),
    }
