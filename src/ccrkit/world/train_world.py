"""The backbone stage of world generation: train on English image captions, freeze, write the
features of every image and video frame, save the network, and measure it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ccrkit.world import layout
from ccrkit.world.backbone import encode, pixels_from_uint8, save_backbone
from ccrkit.world.config import WorldConfig
from ccrkit.world.features import (
    colour_histogram,
    evaluate_backbone,
    position_probe,
    train_backbone,
    train_bag_of_colours,
)
from ccrkit.world.files import write_image_features, write_video_features
from ccrkit.world.layout import IMAGE_COLLECTION, SPLITS, VIDEO_COLLECTION
from ccrkit.world.text import Captions, CollectionText


def grouped(captions: Captions, per_item: int) -> list[list[str]]:
    return [captions.texts[i : i + per_item] for i in range(0, len(captions.texts), per_item)]


def backbone_stage(
    cfg: WorldConfig,
    root: Path,
    items: dict[str, Any],
    texts: dict[str, CollectionText],
    pictures: dict[str, dict[str, np.ndarray]],
    show_progress: bool,
    lap: Callable[[str], None],
) -> dict[str, Any]:
    from tqdm import tqdm

    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.backbone.threads)
    try:
        k = cfg.image.captions
        english = texts[IMAGE_COLLECTION].captions
        train_pixels = pixels_from_uint8(pictures[IMAGE_COLLECTION]["train"])
        with tqdm(
            total=cfg.backbone.epochs, desc="backbone", unit="epoch", disable=not show_progress
        ) as bar:
            model, text = train_backbone(
                train_pixels, grouped(english[("train", "enc")], k), cfg.backbone, cfg.seed,
                cfg.family_size, bar,
            )  # fmt: skip
        lap("backbone_training")
        image_features = {s: encode(model, pictures[IMAGE_COLLECTION][s]) for s in SPLITS}
        write_image_features(root, items[IMAGE_COLLECTION], image_features)
        frames = np.concatenate([pictures[VIDEO_COLLECTION][s] for s in SPLITS])
        frame_features = encode(model, frames.reshape(-1, *frames.shape[2:]))
        write_video_features(root, items[VIDEO_COLLECTION], frame_features, cfg.video.frames)
        meta = {"trained_on": "worldimage train split, English captions only (enc)", "train_items": len(train_pixels),
                "epochs": cfg.backbone.epochs, "seed": cfg.seed}  # fmt: skip
        for collection in (IMAGE_COLLECTION, VIDEO_COLLECTION):
            save_backbone(model, layout.feature_dir(root, collection), meta)
        lap("features")
        colours = train_bag_of_colours(
            train_pixels, grouped(english[("train", "enc")], k), cfg.backbone, cfg.seed,
            cfg.family_size,
        )  # fmt: skip
        test = english[("test", "enc")]
        test_pixels = pixels_from_uint8(pictures[IMAGE_COLLECTION]["test"])
        query_item = np.repeat(np.arange(len(test_pixels)), k)
        report = evaluate_backbone(
            model, text, test_pixels, test.texts, test.frames, query_item, colours, cfg.family_size
        )
        scenes = {s: [scene for _, scene in items[IMAGE_COLLECTION][s]] for s in ("train", "test")}
        histograms = {
            s: colour_histogram(pixels_from_uint8(pictures[IMAGE_COLLECTION][s])).numpy()
            for s in ("train", "test")
        }
        report["position_probe"] = position_probe(image_features, histograms, scenes)
        lap("backbone_evaluation")
    finally:
        torch.set_num_threads(threads)
    return {"dim": cfg.backbone.dim, "architecture": model.config, **meta, **report}
