"""The frozen visual backbone that knows only English (the world's stand-in for CLIP).

A small CNN that keeps a coarse spatial map before its projection (so features carry positions
and relations, not only colours), trained contrastively (symmetric InfoNCE) against a throwaway
hashed n-gram text encoder on the English train captions only, then frozen. Saved as
`backbone.safetensors` + `backbone.json`; `load_backbone(dir)` gives the module back for the
raw-pixel path and `load_pixels(paths)` the matching preprocessing.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

WEIGHTS, CONFIG = "backbone.safetensors", "backbone.json"


class Backbone(nn.Module):
    """(B, 3, H, W) pixels in [0, 1] -> (B, dim) features."""

    def __init__(self, dim: int = 256, width: int = 32, image_size: int = 64) -> None:
        super().__init__()
        self.config = {"dim": dim, "width": width, "image_size": image_size}
        w = width
        self.convs = nn.Sequential(
            nn.Conv2d(5, w, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        grid = image_size // 8
        self.project = nn.Linear(4 * w * grid * grid, dim)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Two coordinate channels are appended to the pixels (CoordConv), so that where a thing
        is becomes as easy to read as what colour it is."""
        b, _, h, w = pixels.shape
        ys = torch.linspace(-1, 1, h, device=pixels.device).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=pixels.device).view(1, 1, 1, w).expand(b, 1, h, w)
        x = self.convs(torch.cat([(pixels - 0.5) / 0.25, xs, ys], dim=1))
        return self.project(x.flatten(1))


class NgramText(nn.Module):
    """The throwaway text side: mean of hashed word 1-3-gram embeddings, then a linear map. The
    longer n-grams ('circle left of', 'left of a') carry some of which object is where."""

    def __init__(self, dim: int, buckets: int = 1 << 15, hidden: int = 256) -> None:
        super().__init__()
        self.buckets = buckets
        self.bag = nn.EmbeddingBag(buckets, hidden, mode="mean")
        self.out = nn.Linear(hidden, dim)

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        ids: list[int] = []
        offsets = []
        for text in texts:
            offsets.append(len(ids))
            ids += ngram_ids(text, self.buckets)
        device = self.out.weight.device
        bag = self.bag(torch.tensor(ids, device=device), torch.tensor(offsets, device=device))
        return self.out(bag)


def ngram_ids(text: str, buckets: int) -> list[int]:
    words = re.findall(r"\w+", text.lower())
    grams = [" ".join(words[i : i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)]
    return [zlib.crc32(g.encode()) % buckets for g in grams] or [0]


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE: mean of CE(a_i -> b_i) and CE(b_i -> a_i) over cosine logits / τ."""
    logits = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / temperature
    target = torch.arange(len(a), device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def train_contrastive(
    visual: nn.Module,
    inputs: torch.Tensor,
    captions: Sequence[Sequence[str]],
    cfg: Any,
    seed: int,
    group: int = 1,
    progress: Any = None,
) -> NgramText:
    """Train `visual` (and a fresh text side, returned) on (input, one of its captions) pairs.

    `inputs[i]` is item i's visual input, `captions[i]` its English captions. Items come in
    families of `group` consecutive near-duplicates, kept together in a batch so that every batch
    holds the hard negatives (mirror images, swapped colours) a relation-blind model confuses."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    device = torch.device(cfg.device)
    text = NgramText(cfg.dim).to(device)
    visual.to(device).train()
    optimiser = torch.optim.Adam([*visual.parameters(), *text.parameters()], lr=cfg.lr)
    n = len(inputs)
    n_groups = (n + group - 1) // group
    for _epoch in range(cfg.epochs):
        families = torch.randperm(n_groups, generator=generator)
        order = (families[:, None] * group + torch.arange(group)).flatten()
        order = order[order < n]
        pick = torch.randint(0, 1 << 30, (n,), generator=generator)
        for start in range(0, n, cfg.batch_size):
            batch = order[start : start + cfg.batch_size]
            if len(batch) < 2:
                continue
            texts = [captions[i][int(pick[i]) % len(captions[i])] for i in batch.tolist()]
            loss = info_nce(visual(inputs[batch].to(device)), text(texts), cfg.temperature)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        if progress is not None:
            progress.update(1)
    return text.eval()


@torch.no_grad()
def encode(
    model: nn.Module, inputs: torch.Tensor | np.ndarray, batch_size: int = 512
) -> np.ndarray:
    """Features of many inputs, in batches, as float32 numpy (on the model's device). A uint8
    (N, H, W, 3) array of pictures is converted batch by batch, never all at once."""
    model.eval()
    device = next(model.parameters()).device
    parts = []
    for i in range(0, len(inputs), batch_size):
        batch = inputs[i : i + batch_size]
        if isinstance(batch, np.ndarray):
            batch = pixels_from_uint8(batch)
        parts.append(model(batch.to(device)).cpu())
    return torch.cat(parts).numpy().astype(np.float32)


def pixels_from_uint8(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1]: the backbone's preprocessing."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0


def load_pixels(paths: Sequence[str | Path]) -> torch.Tensor:
    """PNG files -> (N, 3, H, W) float tensor in [0, 1], ready for the backbone."""
    from PIL import Image

    arrays = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    return pixels_from_uint8(np.stack(arrays))


def save_backbone(model: Backbone, directory: str | Path, extra: dict[str, Any]) -> None:
    from safetensors.torch import save

    from ccrkit.runs import write_atomic

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    write_atomic(directory / WEIGHTS, save(state))  # a full disk: one error, no partial file
    meta = {"architecture": "ccrkit.world.backbone.Backbone", **model.config, **extra}
    write_atomic(directory / CONFIG, (json.dumps(meta, indent=2) + "\n").encode())


def load_backbone(directory: str | Path, device: str = "cpu") -> Backbone:
    """The frozen backbone saved in `directory` (eval mode, no gradients)."""
    from safetensors.torch import load_file

    directory = Path(directory)
    for name in (WEIGHTS, CONFIG):
        if not (directory / name).is_file():
            raise FileNotFoundError(
                f"{directory / name} not found: not a ccrkit world backbone folder"
            )
    meta = json.loads((directory / CONFIG).read_text())
    model = Backbone(meta["dim"], meta["width"], meta["image_size"])
    model.load_state_dict(load_file(str(directory / WEIGHTS), device=device))
    model.to(device).eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model
