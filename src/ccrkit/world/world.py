"""`generate_world(cfg, root)`: the whole synthetic world, written in the VisualSearch layout.

Order: sample scenes; draw pictures in worker processes (the benchmark's, and world-clip's own
pretraining pictures unless the pretrained cache has it) while the main process writes every
caption and its MT; pretrain (or take from the cache) the frozen `world-clip` in this process
while a worker pretrains `world-mbert` (one torch thread each), and write the features; measure
MT quality and the backbone; write `world.json` last (its presence marks a finished world). The pretrained models are copied into
DATA_ROOT/models/ (see `ccrkit.world.pretrained`).
"""

from __future__ import annotations

import gc
import json
import random
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ccrkit.config import to_dict
from ccrkit.mtscores import bleu_tokenizer
from ccrkit.runs import DiskFullError, is_disk_full, run_record, write_json_atomic
from ccrkit.world import layout
from ccrkit.world import quality as mt
from ccrkit.world.backbone import WORLD_CLIP, backbone_stage, world_clip_cached, world_clip_stage
from ccrkit.world.clip import (
    Corpus,
    draw_scenes,
    pretraining_captions,
    pretraining_corpus,
    pretraining_scenes,
)
from ccrkit.world.config import GENERATOR_VERSION, WorldConfig, config_hash, pretrained_hash
from ccrkit.world.files import Items, write_text
from ccrkit.world.layout import IMAGE_COLLECTION, SPLITS, VIDEO_COLLECTION
from ccrkit.world.mbert import WORLD_MBERT, build_world_mbert, text_model_stage, world_mbert_cached
from ccrkit.world.oracle import split_oracle
from ccrkit.world.pictures import CHUNK, gather, make_executor, submit_collection
from ccrkit.world.pretrained import MODELS_DIR, default_cache, is_complete, model_dir
from ccrkit.world.quality import duplicates_in_batch, items_of
from ccrkit.world.scene import Scene, sample_family
from ccrkit.world.text import CollectionText, collection_text


@dataclass
class WorldResult:
    root: Path
    status: str  # "generated" or "cached"
    info: dict[str, Any]


def check_target(root: Path, digest: str, force: bool) -> bool:
    """True when `root` already holds this very world. A different or unfinished world there is
    an error unless `force`, which removes the world's own files (and nothing else)."""
    marker = root / layout.WORLD_JSON
    if marker.is_file() and not force:
        try:
            found = json.loads(marker.read_text(encoding="utf-8")).get("config_hash")
        except (ValueError, OSError):
            found = None
        if found == digest:
            return True
        raise FileExistsError(
            f"{root} holds a different world (config hash {found}, wanted {digest}); "
            "use --force to replace it or choose another --out"
        )
    if not force and any(p.exists() for p in world_files(root)):
        raise FileExistsError(
            f"{root} holds an unfinished world (no {layout.WORLD_JSON}); use --force to replace it"
        )
    remove_world(root)
    return False


def world_files(root: Path) -> list[Path]:
    """The world's own files and folders under `root`."""
    collections = [root / c for c in (IMAGE_COLLECTION, VIDEO_COLLECTION)]
    return [*collections, root / layout.WORLD_JSON, root / layout.PREVIEW_PNG, root / MODELS_DIR]


def remove_world(root: Path) -> None:
    """The world's own files under `root` (and nothing else)."""
    for path in world_files(root):
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def sample_items(cfg: WorldConfig, collection: str) -> Items:
    """Scenes of every split, sampled in families; item ids run on across train, val, test."""
    section = cfg.video if collection == VIDEO_COLLECTION else cfg.image
    items: Items = {}
    number = 0
    for split in SPLITS:
        rng = random.Random(f"{cfg.seed}|{collection}|{split}|scenes")
        scenes: list[Scene] = []
        family = 0
        while len(scenes) < getattr(section, split):
            video = collection == VIDEO_COLLECTION
            members = sample_family(
                rng, video, cfg.family_size, cfg.image.max_objects, cfg.image.object_weights
            )
            scenes += [replace(s, family=family) for s in members]
            family += 1
        scenes = scenes[: getattr(section, split)]
        items[split] = [(layout.item_id(collection, number + i), s) for i, s in enumerate(scenes)]
        number += len(scenes)
    return items


def generate_world(
    cfg: WorldConfig,
    root: Path,
    force: bool = False,
    show_progress: bool = True,
    pretrained_cache: Path | None = None,
) -> WorldResult:
    """Write the world of `cfg` into `root` (nothing to do when it is there already, but a
    missing or half-written pretrained model folder is made again). `pretrained_cache`: where
    world-clip and world-mbert are kept for every world that shares them (default
    `pretrained.default_cache(root)`)."""
    digest = config_hash(cfg)
    root = Path(root)
    cache = Path(pretrained_cache) if pretrained_cache else default_cache(root)
    if check_target(root, digest, force):
        ensure_models(cfg, root, cache, show_progress)
        return WorldResult(
            root, "cached", json.loads((root / layout.WORLD_JSON).read_text(encoding="utf-8"))
        )
    # torch imports its compiler on the first optimizer, and that import keeps the frames then on
    # the stack alive in reference cycles: imported here, it cannot hold on to the world's objects.
    import torch._dynamo  # noqa: F401

    with run_record(root, "world", cfg, cfg.seed) as record, paused_gc():
        try:
            info = _generate(cfg, root, digest, cache, show_progress)
        except Exception as err:
            if not is_disk_full(err):
                raise
            remove_world(root)  # unusable without world.json; the space goes back
            outcome = "the unfinished world was removed"
            raise DiskFullError(root, "while generating the world", outcome) from err
        record.metrics = {"mt_quality": info["mt"]["quality"], "backbone": info["backbone"]}
        record.extra["world_json"] = str(root / layout.WORLD_JSON)
    return WorldResult(root, "generated", info)


def ensure_models(cfg: WorldConfig, root: Path, cache: Path, show_progress: bool) -> None:
    """A finished world's DATA_ROOT/models/: a model folder that is missing or half-written is
    copied again from the cache, or pretrained again when the cache lost it too."""

    if not is_complete(model_dir(root, WORLD_CLIP), pretrained_hash(cfg, WORLD_CLIP)):
        world_clip_stage(cfg, root, cache, lambda: pretraining_corpus(cfg), show_progress)
    if not is_complete(model_dir(root, WORLD_MBERT), pretrained_hash(cfg, WORLD_MBERT)):
        text_model_stage(cfg, root, cache, show_progress)


@contextmanager
def paused_gc() -> Iterator[None]:
    """CPython's cyclic garbage collector off for the duration (also in the forked workers).

    Generation builds millions of long-lived, acyclic objects (scenes, frames, captions, their
    translations), and every collection of the older generations walks all of them again. In
    paired runs of the default world on 2 cores, 62-64 s with the collector, 53-55 s without;
    its peak memory did not grow (3.44 GB against 3.59), as almost nothing it makes is cyclic.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _generate(
    cfg: WorldConfig, root: Path, digest: str, cache: Path, show_progress: bool
) -> dict[str, Any]:

    started = time.perf_counter()
    timings: dict[str, float] = {}
    clock = [started]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = round(now - clock[0], 2)
        clock[0] = now

    items = {c: sample_items(cfg, c) for c in (IMAGE_COLLECTION, VIDEO_COLLECTION)}
    pretraining = [] if world_clip_cached(cfg, cache) else pretraining_scenes(cfg)
    lap("scenes")
    with make_executor(cfg.workers) as pool:
        # Video captions are written by a worker (submitted first) while the other workers draw
        # and the main process writes the image captions.
        video_text = pool.submit(collection_text, items[VIDEO_COLLECTION], cfg.video.captions, cfg)
        futures = {
            c: {split: submit_collection(pool, items[c][split], layout.picture_dir(root, c), *_drawing(cfg, c))
                for split in SPLITS}
            for c in items
        }  # fmt: skip
        corpus_futures = [
            pool.submit(
                draw_scenes, pretraining[i : i + CHUNK], cfg.image.size, cfg.image.supersample
            )
            for i in range(0, len(pretraining), CHUNK)
        ]
        # world-mbert trains in a worker once the drawing is done, beside world-clip's training
        # in this process (it needs nothing of this world but its config)
        mbert = (
            None if world_mbert_cached(cfg, cache) else pool.submit(build_world_mbert, cfg, cache)
        )
        texts = {
            IMAGE_COLLECTION: collection_text(items[IMAGE_COLLECTION], cfg.image.captions, cfg),
            VIDEO_COLLECTION: video_text.result(),
        }
        for collection, text in texts.items():
            write_text(root, collection, text)
        corpus_text = pretraining_captions(pretraining, cfg)
        lap("captions_and_mt")
        total = sum(len(f) for c in futures.values() for f in c.values())
        with tqdm(total=total, desc="drawing", unit="chunk", disable=not show_progress) as bar:
            pictures = {}
            for c, by_split in futures.items():
                pictures[c] = {}
                for split, split_futures in by_split.items():
                    chunks = []
                    for chunk in gather(split_futures):
                        chunks.append(chunk)
                        bar.update(1)
                    pictures[c][split] = np.concatenate(chunks)
        corpus_pictures = [f.result() for f in corpus_futures]
        lap("pictures")

        def corpus() -> Corpus:
            return Corpus(np.concatenate(corpus_pictures), *corpus_text)

        backbone_info = backbone_stage(
            cfg, root, cache, items, texts, pictures, corpus, show_progress, lap
        )
        corpus_pictures.clear()  # 250 MB of pictures no longer needed
        built = mbert.result() if mbert is not None else None
        text_model_info = text_model_stage(cfg, root, cache, show_progress, built)
        lap("world_mbert")  # what is left of its training once world-clip's stages are done

    per_item = {IMAGE_COLLECTION: cfg.image.captions, VIDEO_COLLECTION: cfg.video.captions}
    quality = mt.parallel_mt_quality(texts, cfg.languages, cfg.mt.bleu_split, per_item, cfg.workers)
    counts = {c: mt.noise_counts(texts[c], cfg.languages) for c in texts}
    carried = {c: mt.propagation(texts[c], cfg.languages) for c in texts}
    duplicates = {c: _duplicates(texts[c], cfg.languages) for c in texts}
    lap("mt_quality")
    oracle = {c: _oracle(items[c], texts[c]) for c in texts}
    lap("oracle")
    timings["total"] = round(time.perf_counter() - started, 2)
    info = {
        "generator_version": GENERATOR_VERSION,
        "config_hash": digest,
        "seed": cfg.seed,
        "config": to_dict(cfg),
        "languages": ["en", *cfg.languages],
        "collections": _collections_info(cfg, items),
        "mt": {
            "noise": cfg.mt.noise,
            "back_noise": cfg.mt.back_noise,
            "bleu_split": cfg.mt.bleu_split,
            "tokenizers": {lang: bleu_tokenizer(lang) for lang in ["en", *cfg.languages]},
            "quality": quality,
            "calibration": mt.calibration(quality, IMAGE_COLLECTION),
            "noise_counts": counts,
            "back_translation_carried": carried,
            "duplicates_in_batch": duplicates,
        },
        "oracle": oracle,
        "backbone": backbone_info,
        "text_model": text_model_info,
        "timings_s": timings,
    }
    write_json_atomic(root / layout.WORLD_JSON, info)
    return info


def _oracle(items: Items, text: CollectionText) -> dict[str, Any]:
    """The test split's ceiling, on its English human captions (see `oracle`)."""
    english = text.captions[("test", "enc")]
    return split_oracle(items["test"], english.ids, english.frames)


def _duplicates(text: CollectionText, languages: list[str]) -> dict[str, Any]:
    """Repeated caption texts per training batch of 128: English source and every MT."""
    out = {}
    for tag in ["enc", *(layout.mt_tags(lang)[0] for lang in languages)]:
        captions = text.captions[("train", tag)]
        out[tag] = duplicates_in_batch(captions.texts, items_of(captions.ids))
    return out


def _drawing(cfg: WorldConfig, collection: str) -> tuple[int, int, int]:
    """(picture size, frames per video, supersampling) of a collection."""
    if collection == VIDEO_COLLECTION:
        return cfg.video.size, cfg.video.frames, cfg.video.supersample
    return cfg.image.size, cfg.video.frames, cfg.image.supersample


def _collections_info(cfg: WorldConfig, items: dict[str, Items]) -> dict[str, Any]:
    out = {}
    for c, by_split in items.items():
        video = c == VIDEO_COLLECTION
        section = cfg.video if video else cfg.image
        out[c] = {
            "kind": "video" if video else "image",
            "items": {split: len(by_split[split]) for split in SPLITS},
            "captions_per_item": section.captions,
            "image_size": section.size,
            **({"frames_per_video": cfg.video.frames} if video else {}),
            "feature": layout.FEATURE,
            "feature_dim": cfg.backbone.dim,
        }
    return out


def summary(info: dict[str, Any]) -> str:
    """A few lines for the terminal: sizes, MT quality, the oracle, backbone retrieval, time."""
    lines = [
        f"world {info['config_hash']} (seed {info['seed']}) in {info['timings_s']['total']:.1f} s"
    ]
    for name, c in info["collections"].items():
        sizes = " / ".join(f"{s} {n}" for s, n in c["items"].items())
        lines.append(
            f"  {name}: {sizes} items, {c['captions_per_item']} captions per item and language"
        )
    for name, by_lang in info["mt"]["quality"].items():
        cells = []
        for lang, q in by_lang.items():
            forward = q[f"enc2{lang}"]
            cells.append(
                f"{lang} {forward['vs_clean']['bleu']:.1f}/{forward['vs_human']['bleu']:.1f}"
            )
        lines.append(f"  {name} MT BLEU vs clean/vs human: " + ", ".join(cells))
    calibration = info["mt"].get("calibration")
    if calibration and "de" in calibration["bleu_vs_human"]:
        lines.append(
            f"  German MT BLEU vs human {calibration['bleu_vs_human']['de']:.1f}; real MT on "
            f"Multi30K test 2016 en->de: {calibration['reference']['bleu']:.1f}"
        )
    for name, o in info.get("oracle", {}).items():
        lines.append(
            f"  {name} oracle (test, English): SumR {o['sumr']:.1f} (t2v R@1/5/10 "
            f"{o['t2v_r1']:.1f}/{o['t2v_r5']:.1f}/{o['t2v_r10']:.1f}, v2t {o['v2t_r1']:.1f}/"
            f"{o['v2t_r5']:.1f}/{o['v2t_r10']:.1f}); colour and shape alone: SumR "
            f"{o['colour_shape_only']['sumr']:.1f}"
        )
    backbone = info["backbone"]
    cnn, boc = backbone["english_test_retrieval"], backbone["bag_of_colours_test_retrieval"]
    lines.append(
        f"  world-clip English image retrieval: R@1 {cnn['t2v_r1']:.1f} SumR {cnn['sumr']:.1f} "
        f"(bag of colours: R@1 {boc['t2v_r1']:.1f} SumR {boc['sumr']:.1f}; zero-shot SumR "
        f"{backbone['zero_shot_test_retrieval']['sumr']:.1f})"
    )
    text = info["text_model"]
    accuracy = ", ".join(f"{k} {v:.0f}" for k, v in text["mlm_accuracy"].items())
    retrieval = ", ".join(f"{k} {v:.0f}" for k, v in text["crosslingual_retrieval"].items())
    lines.append(f"  world-mbert ({text['path']}): masked-token accuracy % {accuracy}")
    lines.append(f"    zero-shot en<->xx sentence retrieval R@1 % {retrieval}")
    return "\n".join(lines)
