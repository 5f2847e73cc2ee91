"""Train the English-only backbone, fill FeatureData with its features, and measure what it knows:
English retrieval on the image test split, against a bag-of-colours model trained the same way,
a mirror test (does a left/right caption prefer its picture over the mirrored twin?), and a
linear probe for where a given colour is (colour-position binding) in the frozen features."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ccrkit.evaluate.metrics import retrieval_metrics
from ccrkit.world.backbone import Backbone, NgramText, encode, train_contrastive
from ccrkit.world.concepts import Frame
from ccrkit.world.config import BackboneWorld
from ccrkit.world.scene import Scene

REPORTED = ("t2v_r1", "t2v_r5", "t2v_r10", "v2t_r1", "v2t_r5", "v2t_r10", "t2v_medr", "sumr")


def colour_histogram(pixels: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] -> (N, levels^3) normalised RGB histogram: a bag of colours."""
    q = (pixels.clamp(0, 1) * (levels - 1e-6)).long()
    codes = (q[:, 0] * levels + q[:, 1]) * levels + q[:, 2]
    hist = torch.zeros(len(pixels), levels**3)
    hist.scatter_add_(1, codes.flatten(1), torch.ones_like(codes.flatten(1), dtype=torch.float))
    return hist / codes[0].numel()


def train_backbone(
    pixels: torch.Tensor,
    captions: Sequence[Sequence[str]],
    cfg: BackboneWorld,
    seed: int,
    group: int = 1,
    progress: Any = None,
) -> tuple[Backbone, NgramText]:
    torch.manual_seed(seed)
    model = Backbone(cfg.dim, cfg.width, pixels.shape[-1])
    text = train_contrastive(model, pixels, captions, cfg, seed, group, progress)
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model, text


def train_bag_of_colours(
    pixels: torch.Tensor,
    captions: Sequence[Sequence[str]],
    cfg: BackboneWorld,
    seed: int,
    group: int = 1,
) -> tuple[nn.Module, NgramText]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, cfg.dim))
    text = train_contrastive(model, colour_histogram(pixels), captions, cfg, seed, group)
    return model.eval(), text


@torch.no_grad()
def english_retrieval(
    visual: np.ndarray, text: NgramText, captions: Sequence[str], query_item: np.ndarray
) -> tuple[dict[str, float], np.ndarray]:
    """Metrics of English captions against items, and the (captions x items) cosine matrix."""
    queries = torch.cat([text(captions[i : i + 1024]) for i in range(0, len(captions), 1024)])
    q = torch.nn.functional.normalize(queries, dim=-1).cpu().numpy()
    v = visual / np.linalg.norm(visual, axis=1, keepdims=True)
    sim = q @ v.T
    metrics = retrieval_metrics(sim, query_item)
    return {k: round(metrics[k], 2) for k in REPORTED}, sim


def mirror_test(
    sim: np.ndarray, frames: Sequence[Frame], query_item: np.ndarray, family_size: int
) -> dict[str, float]:
    """Share of left/right captions that score their own item above its mirrored twin (the
    family member drawn as a mirror image, same colours and shapes): 50% = blind to relations."""
    wins, total = 0, 0
    n_items = sim.shape[1]
    for q, frame in enumerate(frames):
        if frame.relation not in ("left_of", "right_of") or family_size < 2:
            continue
        item = int(query_item[q])
        twin = item - item % family_size + ((item % family_size) ^ 1)
        if twin >= n_items:
            continue
        wins += int(sim[q, item] > sim[q, twin])
        total += 1
    return {"accuracy": round(100.0 * wins / max(total, 1), 2), "captions": total}


def evaluate_backbone(
    model: Backbone,
    text: NgramText,
    test_pixels: torch.Tensor,
    test_captions: Sequence[str],
    test_frames: Sequence[Frame],
    query_item: np.ndarray,
    colours: tuple[nn.Module, NgramText],
    family_size: int,
) -> dict[str, Any]:
    cnn_metrics, cnn_sim = english_retrieval(
        encode(model, test_pixels), text, test_captions, query_item
    )
    boc_model, boc_text = colours
    hist = colour_histogram(test_pixels)
    boc_metrics, boc_sim = english_retrieval(
        encode(boc_model, hist), boc_text, test_captions, query_item
    )
    return {
        "english_test_retrieval": cnn_metrics,
        "bag_of_colours_test_retrieval": boc_metrics,
        "mirror_test": {
            "backbone": mirror_test(cnn_sim, test_frames, query_item, family_size),
            "bag_of_colours": mirror_test(boc_sim, test_frames, query_item, family_size),
        },
        "test_items": len(test_pixels),
        "test_captions": len(test_captions),
    }


def binding_targets(scenes: Sequence[Scene]) -> np.ndarray:
    """(x, y) of the object whose colour name comes first: where a *given colour* is, which only
    features that bind colour to position can tell (a bag of colours cannot)."""
    return np.array([[o.x, o.y] for o in (min(s.objects, key=lambda o: o.colour) for s in scenes)])


def ridge_probe(
    train: np.ndarray, train_y: np.ndarray, test: np.ndarray, test_y: np.ndarray, alpha: float = 1.0
) -> float:
    """R² on the test split of a ridge regression fitted on the train split (features standardised)."""
    mean, std = train.mean(0), train.std(0) + 1e-6
    a, b = (train - mean) / std, (test - mean) / std
    a1, b1 = np.hstack([a, np.ones((len(a), 1))]), np.hstack([b, np.ones((len(b), 1))])
    weights = np.linalg.solve(a1.T @ a1 + alpha * np.eye(a1.shape[1]), a1.T @ train_y)
    residual = ((b1 @ weights - test_y) ** 2).sum()
    return float(1.0 - residual / ((test_y - test_y.mean(0)) ** 2).sum())


def position_probe(
    features: dict[str, np.ndarray],
    histograms: dict[str, np.ndarray],
    scenes: dict[str, Sequence[Scene]],
) -> dict[str, float]:
    """Linear probe R² for the position of a given colour, backbone features vs colour histograms."""
    y_train, y_test = binding_targets(scenes["train"]), binding_targets(scenes["test"])
    return {
        "backbone_r2": round(ridge_probe(features["train"], y_train, features["test"], y_test), 3),
        "bag_of_colours_r2": round(
            ridge_probe(histograms["train"], y_train, histograms["test"], y_test), 3
        ),
    }
