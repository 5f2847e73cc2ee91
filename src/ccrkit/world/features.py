"""Measure what the frozen `world-clip` features know: English retrieval on the image test split by
a model trained on the benchmark's English train captions over them (and zero-shot, with the
pretraining caption encoder), against a bag-of-colours model trained the same way, a mirror test
(does a left/right caption prefer its picture over the mirrored twin?), and a linear probe for
where a given colour is (colour-position binding) in the frozen features."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ccrkit.retrieval.metrics import retrieval_metrics
from ccrkit.world.clip import CaptionEncoder, train_contrastive
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


class ResidualHead(nn.Module):
    """x + MLP(x), the MLP's last layer zero: it starts as the identity, so a model fine-tuned
    from the pretraining caption encoder starts where zero-shot retrieval is."""

    def __init__(self, dim: int, hidden: int = 512) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))
        nn.init.zeros_(self.mlp[2].weight)
        nn.init.zeros_(self.mlp[2].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(x)


def feature_head(width: int, dim: int, hidden: int = 512) -> nn.Module:
    """The trained side over frozen features (as the benchmark's `feature` visual encoder): a
    residual MLP over features of the common width, an MLP from any other width."""
    if width == dim:
        return ResidualHead(dim, hidden)
    return nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, dim))


def train_on_features(
    features: np.ndarray,
    captions: Sequence[Sequence[str]],
    cfg: BackboneWorld,
    seed: int,
    group: int = 1,
    text: CaptionEncoder | None = None,
) -> tuple[nn.Module, CaptionEncoder]:
    """An English retrieval model over frozen features, trained contrastively on (item, one of
    its captions) for `probe_epochs`: a head over the features and a caption encoder fine-tuned
    from `text` (a copy: world-clip's own, as a CCR model starts from a pretrained text
    encoder) or trained from scratch."""
    torch.manual_seed(seed)
    head = feature_head(features.shape[1], cfg.dim)
    inputs = torch.from_numpy(features)
    start = copy.deepcopy(text) if text is not None else None
    trained = train_contrastive(
        head, inputs, captions, cfg, cfg.probe_epochs, seed, group, text=start
    )
    return head.eval(), trained


@torch.no_grad()
def english_retrieval(
    visual: np.ndarray, text: CaptionEncoder, captions: Sequence[str], query_item: np.ndarray
) -> tuple[dict[str, float], np.ndarray]:
    """Metrics of English captions against items, and the (captions x items) cosine matrix."""
    queries = torch.cat([text(captions[i : i + 1024]) for i in range(0, len(captions), 1024)])
    q = torch.nn.functional.normalize(queries, dim=-1).cpu().numpy()
    v = visual / np.linalg.norm(visual, axis=1, keepdims=True)
    sim = q @ v.T
    metrics = retrieval_metrics(sim, query_item)
    return {k: round(metrics[k], 2) for k in REPORTED}, sim


@torch.no_grad()
def head_features(head: nn.Module, features: np.ndarray) -> np.ndarray:
    return head(torch.from_numpy(features)).numpy()


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
    features: dict[str, np.ndarray],
    histograms: dict[str, np.ndarray],
    captions: dict[str, Sequence[Sequence[str]]],
    test_frames: Sequence[Frame],
    zero_shot_text: CaptionEncoder,
    cfg: BackboneWorld,
    seed: int,
    family_size: int,
) -> dict[str, Any]:
    """`features`, `histograms`, `captions` per split (train, test): the world-clip model and the
    bag-of-colours model, each fine-tuned from the pretraining caption encoder on the train
    split's English captions and tested on the test split; plus world-clip zero-shot (the
    pretraining caption encoder as it is)."""
    test_captions = [t for row in captions["test"] for t in row]
    query_item = np.repeat(np.arange(len(captions["test"])), [len(r) for r in captions["test"]])
    results, sims = {}, {}
    for name, inputs in (("english_test_retrieval", features),
                         ("bag_of_colours_test_retrieval", histograms)):  # fmt: skip
        head, text = train_on_features(
            inputs["train"], captions["train"], cfg, seed, family_size, zero_shot_text
        )
        test = head_features(head, inputs["test"])
        results[name], sims[name] = english_retrieval(test, text, test_captions, query_item)
    results["zero_shot_test_retrieval"], _ = english_retrieval(
        features["test"], zero_shot_text, test_captions, query_item
    )
    return {
        **results,
        "mirror_test": {
            "backbone": mirror_test(
                sims["english_test_retrieval"], test_frames, query_item, family_size
            ),
            "bag_of_colours": mirror_test(
                sims["bag_of_colours_test_retrieval"], test_frames, query_item, family_size
            ),
        },
        "test_items": len(captions["test"]),
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
