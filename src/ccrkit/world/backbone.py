"""The backbone stage of world generation: `world-clip` pretrained on its own corpus (or taken
from the pretrained cache), frozen, copied into the world, the features of every image and
video frame written, and what they know measured."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ccrkit.models.world_clip import (
    CONFIG,
    WEIGHTS,
    WorldClip,
    encode,
    load_world_clip,
    pixels_from_uint8,
    save_world_clip,
)
from ccrkit.world import layout
from ccrkit.world.clip import (
    Corpus,
    load_caption_encoder,
    pretrain_world_clip,
    save_caption_encoder,
)
from ccrkit.world.config import WorldConfig, pretrained_hash
from ccrkit.world.features import colour_histogram, evaluate_backbone, position_probe
from ccrkit.world.files import Items, write_image_features, write_video_features
from ccrkit.world.layout import IMAGE_COLLECTION, SPLITS, VIDEO_COLLECTION
from ccrkit.world.pretrained import (
    build_once,
    cache_folder,
    install,
    is_complete,
    link_files,
    model_dir,
)
from ccrkit.world.text import Captions, CollectionText

WORLD_CLIP = "world-clip"


def grouped(captions: Captions, per_item: int) -> list[list[str]]:
    return [captions.texts[i : i + per_item] for i in range(0, len(captions.texts), per_item)]


def world_clip_stage(
    cfg: WorldConfig,
    root: Path,
    cache: Path,
    corpus: Callable[[], Corpus],
    show_progress: bool,
) -> tuple[WorldClip, Any, dict[str, Any]]:
    """The frozen world-clip (trained on `corpus()` unless the cache has
    it), installed as DATA_ROOT/models/world-clip. Returns (model, its pretraining caption
    encoder, the marker's record). Both are read back from the cache folder, so a world made
    from the cache computes exactly what the world that trained them did."""

    def build(staging: Path) -> dict[str, Any]:
        data = corpus()
        with tqdm(total=cfg.backbone.epochs, desc="world-clip", unit="epoch",
                  disable=not show_progress) as bar:  # fmt: skip
            model, text = pretrain_world_clip(data, cfg, lambda: bar.update(1))
        record = {"images": len(data.pictures), "captions_per_image": cfg.backbone.captions,
                  "epochs": cfg.backbone.epochs, "seed": cfg.seed,
                  "trained_on": "its own scenes with English captions (never train/val/test)"}  # fmt: skip
        save_world_clip(model, staging, record)
        save_caption_encoder(text, staging)
        return record

    digest = pretrained_hash(cfg, WORLD_CLIP)
    folder, record, built = build_once(cache, WORLD_CLIP, digest, build)
    install(folder, model_dir(root, WORLD_CLIP))
    return load_world_clip(folder), load_caption_encoder(folder), {**record, "cached": not built}


def world_clip_cached(cfg: WorldConfig, cache: Path) -> bool:
    """Whether the cache holds this config's world-clip (then its corpus need not be drawn)."""
    digest = pretrained_hash(cfg, WORLD_CLIP)
    return is_complete(cache_folder(cache, WORLD_CLIP, digest), digest)


def backbone_stage(
    cfg: WorldConfig,
    root: Path,
    cache: Path,
    items: dict[str, Items],
    texts: dict[str, CollectionText],
    pictures: dict[str, dict[str, np.ndarray]],
    corpus: Callable[[], Corpus],
    show_progress: bool,
    lap: Callable[[str], None],
) -> dict[str, Any]:
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.backbone.threads)
    try:
        model, zero_shot_text, record = world_clip_stage(cfg, root, cache, corpus, show_progress)
        lap("world_clip")
        image_features = {s: encode(model, pictures[IMAGE_COLLECTION][s]) for s in SPLITS}
        write_image_features(root, items[IMAGE_COLLECTION], image_features)
        frames = np.concatenate([pictures[VIDEO_COLLECTION][s] for s in SPLITS])
        frame_features = encode(model, frames.reshape(-1, *frames.shape[2:]))
        write_video_features(root, items[VIDEO_COLLECTION], frame_features, cfg.video.frames)
        for collection in (IMAGE_COLLECTION, VIDEO_COLLECTION):  # the world_cnn encoder's `dir`
            link_files(
                model_dir(root, WORLD_CLIP), layout.feature_dir(root, collection), [WEIGHTS, CONFIG]
            )
        lap("features")
        report = measure(cfg, items, texts, pictures, image_features, zero_shot_text)
        lap("backbone_evaluation")
    finally:
        torch.set_num_threads(threads)
    return {"dim": cfg.backbone.dim, "architecture": model.config, "path": f"models/{WORLD_CLIP}",
            "pretraining": record, **report}  # fmt: skip


def measure(
    cfg: WorldConfig,
    items: dict[str, Items],
    texts: dict[str, CollectionText],
    pictures: dict[str, dict[str, np.ndarray]],
    image_features: dict[str, np.ndarray],
    zero_shot_text: Any,
) -> dict[str, Any]:
    k = cfg.image.captions
    english = texts[IMAGE_COLLECTION].captions
    histograms = {
        s: colour_histogram(pixels_from_uint8(pictures[IMAGE_COLLECTION][s])).numpy()
        for s in ("train", "test")
    }
    captions = {s: grouped(english[(s, "enc")], k) for s in ("train", "test")}
    report = evaluate_backbone(
        image_features, histograms, captions, english[("test", "enc")].frames, zero_shot_text,
        cfg.backbone, cfg.seed, cfg.family_size,
    )  # fmt: skip
    scenes = {s: [scene for _, scene in items[IMAGE_COLLECTION][s]] for s in ("train", "test")}
    report["position_probe"] = position_probe(image_features, histograms, scenes)
    return report
