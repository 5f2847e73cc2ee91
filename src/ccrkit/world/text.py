"""All captions of one collection: human captions in every language, then the synthetic MT of
them (en->xx, its back-translation, and xx->en of the human target captions), with noise records."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from ccrkit.world.captions import DEFAULT_STYLE, caption_frame
from ccrkit.world.concepts import Frame
from ccrkit.world.config import CaptionWorld, WorldConfig
from ccrkit.world.lang import SOURCE, render_text
from ccrkit.world.layout import caption_id, caption_parts, mt_tags
from ccrkit.world.mt import FrameIndex, MTResult, Reading, Slip, translate_readings
from ccrkit.world.scene import Scene


@dataclass
class Captions:
    """The captions of one split and tag, in file order; `noise` only for machine output."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    noise: list[tuple[str, ...]] | None = None
    slips: list[tuple[Slip, ...]] | None = None  # machine output: the surface errors it carries
    # machine output of machine output: the source's slip types it carried over / repaired
    carried: list[tuple[str, ...]] | None = None
    fixed: list[tuple[str, ...]] | None = None

    def readings(self) -> list[Reading]:
        if self.slips is None:
            return [Reading(frame) for frame in self.frames]
        return [Reading(f, s) for f, s in zip(self.frames, self.slips, strict=True)]


@dataclass
class CollectionText:
    captions: dict[tuple[str, str], Captions]  # (split, tag)
    clean: dict[tuple[str, str], list[str]]  # (split, machine tag) -> clean MT of captions #0
    index: FrameIndex


def human_captions(
    items: Sequence[tuple[str, Scene]],
    lang: str,
    per_item: int,
    seed: int,
    style: CaptionWorld = DEFAULT_STYLE,
) -> Captions:
    """`per_item` captions of every item, each written from its own sampled frame."""
    tag = "enc" if lang == SOURCE else lang
    out = Captions()
    for item, scene in items:
        for n in range(per_item):
            rng = random.Random(f"{seed}|{item}|{lang}|{n}")
            frame = caption_frame(scene, rng, style)
            out.ids.append(caption_id(item, tag, n))
            out.frames.append(frame)
            out.texts.append(render_text(frame, lang, rng))
    return out


def machine_captions(
    source: Captions,
    index: FrameIndex,
    src: str,
    tgt: str,
    tag: str,
    noise: float,
    weights: dict[str, float],
    seed: int,
    with_clean: bool,
) -> tuple[Captions, list[str]]:
    """MT of every source caption (same ids with the new tag), and, when `with_clean`, the clean
    translation of caption #0 of every item (the reference the noise is measured against).
    Source captions are translated from the reading their text stands for in `index` (as the
    text API does), and the output is registered there too."""
    readings = index.add_all(src, source.texts, source.readings())
    unique = list(dict.fromkeys(readings))
    results = translate_readings(unique, src, tgt, noise, seed, weights)
    noisy = dict(zip(unique, results, strict=True))
    out = Captions(noise=[], slips=[], carried=[], fixed=[])
    for cid, reading in zip(source.ids, readings, strict=True):
        result: MTResult = noisy[reading]
        item, _, n = caption_parts(cid)
        out.ids.append(caption_id(item, tag, n))
        out.texts.append(result.text)
        out.frames.append(result.frame)
        out.slips.append(result.slips)  # type: ignore[union-attr]
        out.noise.append(result.noise_types)  # type: ignore[union-attr]
        out.carried.append(result.carried)  # type: ignore[union-attr]
        out.fixed.append(result.fixed)  # type: ignore[union-attr]
    registered = index.add_all(tgt, out.texts, out.readings())
    out.frames = [r.frame for r in registered]
    out.slips = [r.slips for r in registered]
    if not with_clean:
        return out, []
    firsts = [r for cid, r in zip(source.ids, readings, strict=True) if cid.endswith("#0")]
    return out, [r.text for r in translate_readings(firsts, src, tgt, 0.0, seed)]


def collection_text(
    splits: dict[str, list[tuple[str, Scene]]], per_item: int, cfg: WorldConfig
) -> CollectionText:
    captions: dict[tuple[str, str], Captions] = {}
    clean: dict[tuple[str, str], list[str]] = {}
    index = FrameIndex()
    weights = dict(cfg.mt.weights)
    for split, items in splits.items():
        english = human_captions(items, SOURCE, per_item, cfg.seed, cfg.captions)
        measured = split == cfg.mt.bleu_split
        captions[(split, "enc")] = english
        for lang in cfg.languages:
            human = human_captions(items, lang, per_item, cfg.seed, cfg.captions)
            forward_tag, back_tag, test_tag = mt_tags(lang)
            forward, clean[(split, forward_tag)] = machine_captions(
                english, index, SOURCE, lang, forward_tag, cfg.mt.noise, weights, cfg.seed, measured
            )
            back, clean[(split, back_tag)] = machine_captions(
                forward,
                index,
                lang,
                SOURCE,
                back_tag,
                cfg.mt.back_noise,
                weights,
                cfg.seed,
                measured,
            )
            test, clean[(split, test_tag)] = machine_captions(
                human, index, lang, SOURCE, test_tag, cfg.mt.back_noise, weights, cfg.seed, measured
            )
            captions.update({(split, lang): human, (split, forward_tag): forward,
                             (split, back_tag): back, (split, test_tag): test})  # fmt: skip
    return CollectionText(captions, clean, index)
