"""Pretraining `world-clip` (`ccrkit.models.world_clip.WorldClip`), the world's CLIP.

Its corpus is apart from the benchmark, as CLIP's web pictures are apart from Multi30K: scenes
from their own seed stream (`pretraining_scenes`), drawn like the benchmark's pictures, with
English captions written by the same grammar from their own frames. The visual side is trained
contrastively (`ccrkit.losses.info_nce`) against a throwaway caption encoder
(`CaptionEncoder`: word embeddings and a bidirectional GRU, so word order — which object is
left of which — reaches the loss); only the visual side is kept. Scenes come in families of
near-duplicates (mirror image, colours swapped) kept in one batch, so every batch holds the
hard negatives that only relations and positions tell apart.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save
from torch import nn

from ccrkit.losses import info_nce
from ccrkit.models.world_clip import WorldClip, pixels_from_uint8
from ccrkit.runs import write_atomic
from ccrkit.world.concepts import Frame
from ccrkit.world.config import BackboneWorld, WorldConfig
from ccrkit.world.lang import SOURCE
from ccrkit.world.render import render_image
from ccrkit.world.scene import Scene, sample_family
from ccrkit.world.text import human_captions

PRETRAIN_PREFIX = "clip"  # item ids of the pretraining corpus: clip00000, ... (never img/vid)
WORD = re.compile(r"\w+")


def pretraining_scenes(cfg: WorldConfig) -> list[Scene]:
    """`backbone.images` image scenes in families, from a seed stream no benchmark split uses."""
    rng = random.Random(f"{cfg.seed}|world-clip|scenes")
    scenes: list[Scene] = []
    while len(scenes) < cfg.backbone.images:
        scenes += sample_family(
            rng, False, cfg.family_size, cfg.image.max_objects, cfg.image.object_weights
        )
    return scenes[: cfg.backbone.images]


def pretraining_captions(
    scenes: Sequence[Scene], cfg: WorldConfig
) -> tuple[list[list[str]], list[list[Frame]]]:
    """`backbone.captions` English captions per scene, each from its own frame, and the frames."""
    items = [(f"{PRETRAIN_PREFIX}{i:05d}", s) for i, s in enumerate(scenes)]
    captions = human_captions(items, SOURCE, cfg.backbone.captions, cfg.seed, cfg.captions)
    k = cfg.backbone.captions
    rows = range(0, len(captions.texts), k)
    return [captions.texts[i : i + k] for i in rows], [captions.frames[i : i + k] for i in rows]


def draw_scenes(scenes: Sequence[Scene], size: int, supersample: int) -> np.ndarray:
    """(n, size, size, 3) uint8 pictures, drawn as the benchmark's are (no files written)."""
    return np.stack([render_image(scene, size, supersample) for scene in scenes])


@dataclass
class Corpus:
    """world-clip's pretraining corpus: uint8 pictures, and per picture its captions and frames."""

    pictures: np.ndarray
    captions: list[list[str]]
    frames: list[list[Frame]]


def pretraining_corpus(cfg: WorldConfig) -> Corpus:
    """The corpus drawn in this process (generation draws the pictures in its worker processes
    instead, beside the benchmark's)."""
    scenes = pretraining_scenes(cfg)
    pictures = draw_scenes(scenes, cfg.image.size, cfg.image.supersample)
    return Corpus(pictures, *pretraining_captions(scenes, cfg))


class CaptionEncoder(nn.Module):
    """Captions -> (B, dim): word embeddings, a bidirectional GRU, the masked mean of its states
    and a linear map. Words are lower-cased `\\w+` tokens of a vocabulary fixed at construction
    (unknown words share one id)."""

    def __init__(self, vocabulary: Sequence[str], dim: int, width: int = 128) -> None:
        super().__init__()
        self.ids = {word: i + 2 for i, word in enumerate(vocabulary)}  # 0 padding, 1 unknown
        self.embed = nn.Embedding(len(self.ids) + 2, width, padding_idx=0)
        self.gru = nn.GRU(width, width, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * width, dim)

    def token_ids(self, texts: Sequence[str]) -> torch.Tensor:
        rows = [[self.ids.get(w, 1) for w in WORD.findall(t.lower())] or [1] for t in texts]
        ids = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        return ids

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        ids = self.token_ids(texts).to(self.out.weight.device)
        states, _ = self.gru(self.embed(ids))
        mask = (ids > 0).unsqueeze(-1).to(states.dtype)
        return self.out((states * mask).sum(1) / mask.sum(1))


def vocabulary(captions: Sequence[Sequence[str]]) -> list[str]:
    return sorted({w for row in captions for text in row for w in WORD.findall(text.lower())})


class FrameEncoder(nn.Module):
    """What a caption says, read exactly: its frame as (slot, field, value) tokens
    (`objects.0.colour=red`, `relation=left_of`, ...; from `Frame.to_json`, so fields added to
    frames later count too), summed embeddings, ReLU, linear.

    Contrasted with the pictures beside the caption encoder during pretraining, it hands the
    visual side what the captions mean from the first step: trained against word sequences
    alone, the two sides never found relations and bindings (a left/right caption preferred its
    picture over the mirrored twin 48-51 % of the time; 97 % for pictures trained against
    frames alone, in a /tmp prototype of the same recipe; the default world's figure is in
    world.json `backbone.mirror_test`)."""

    def __init__(self, vocabulary: Sequence[str], dim: int, width: int = 256) -> None:
        super().__init__()
        self.ids = {token: i for i, token in enumerate(vocabulary)}
        self.bag = nn.EmbeddingBag(len(self.ids) + 1, width, mode="sum")  # last id: unknown
        self.out = nn.Linear(width, dim)

    @staticmethod
    def tokens(frame: Frame) -> list[str]:
        return sorted(_flatten(frame.to_json(), ""))

    def forward(self, frames: Sequence[Frame]) -> torch.Tensor:
        ids: list[int] = []
        offsets = []
        for frame in frames:
            offsets.append(len(ids))
            ids += [self.ids.get(t, len(self.ids)) for t in self.tokens(frame)]
        device = self.out.weight.device
        bag = self.bag(torch.tensor(ids, device=device), torch.tensor(offsets, device=device))
        return self.out(F.relu(bag))


def _flatten(value: Any, path: str) -> list[str]:
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _flatten(v, f"{path}{k}.")]
    if isinstance(value, list):
        return [f"{path}count={len(value)}"] + [
            t for i, v in enumerate(value) for t in _flatten(v, f"{path}{i}.")
        ]
    return [f"{path[:-1]}={value}"]


def train_contrastive(
    visual: nn.Module,
    inputs: torch.Tensor | np.ndarray,
    captions: Sequence[Sequence[str]],
    cfg: BackboneWorld,
    epochs: int,
    seed: int,
    group: int = 1,
    progress: Callable[[], Any] | None = None,
    frames: Sequence[Sequence[Frame]] | None = None,
    text: CaptionEncoder | None = None,
) -> CaptionEncoder:
    """Train `visual` and a caption encoder (`text`, or a fresh one; returned in eval mode) on
    (input, one of its captions) pairs with symmetric InfoNCE over L2-normalised embeddings.

    `inputs[i]` is item i's visual input (uint8 pictures are converted batch by batch),
    `captions[i]` its captions and `frames[i]`, when given, their frames: a `FrameEncoder` is
    then trained too, with InfoNCE terms picture-frame and caption-frame beside picture-caption.
    Items come in families of `group` consecutive near-duplicates, kept together in a batch.
    Adam with a one-cycle learning rate (warm-up, then cosine decay to ~0)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    device = torch.device(cfg.device)
    text = (text or CaptionEncoder(vocabulary(captions), cfg.dim, cfg.text_width)).to(device)
    meaning = None
    if frames is not None:
        tokens = sorted({t for row in frames for f in row for t in FrameEncoder.tokens(f)})
        meaning = FrameEncoder(tokens, cfg.dim).to(device)
    visual.to(device).train()
    text.train()
    towers = [visual, text, *([meaning] if meaning is not None else [])]
    optimiser = torch.optim.Adam([p for m in towers for p in m.parameters()], lr=cfg.lr)
    n = len(inputs)
    steps_per_epoch = (n + cfg.batch_size - 1) // cfg.batch_size
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, cfg.lr, total_steps=max(1, epochs * steps_per_epoch), pct_start=0.1
    )
    n_groups = (n + group - 1) // group
    for _epoch in range(epochs):
        families = torch.randperm(n_groups, generator=generator)
        order = (families[:, None] * group + torch.arange(group)).flatten()
        order = order[order < n]
        pick = torch.randint(0, 1 << 30, (n,), generator=generator)
        for start in range(0, n, cfg.batch_size):
            batch = order[start : start + cfg.batch_size]
            if len(batch) < 2:
                schedule.step()
                continue
            rows = batch.numpy()
            visual_input = inputs[rows]
            if isinstance(visual_input, np.ndarray):
                visual_input = pixels_from_uint8(visual_input)
            chosen = [(i, int(pick[i]) % len(captions[i])) for i in rows.tolist()]
            v = F.normalize(visual(visual_input.to(device)), dim=-1)
            t = F.normalize(text([captions[i][k] for i, k in chosen]), dim=-1)
            loss = info_nce(v, t, cfg.temperature)
            if meaning is not None and frames is not None:
                f = F.normalize(meaning([frames[i][k] for i, k in chosen]), dim=-1)
                loss = loss + info_nce(v, f, cfg.temperature) + info_nce(t, f, cfg.temperature)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        if progress is not None:
            progress()
    return text.eval()


def pretrain_world_clip(
    corpus: Corpus, cfg: WorldConfig, progress: Callable[[], Any] | None = None
) -> tuple[WorldClip, CaptionEncoder]:
    """The frozen world-clip trained on the pretraining corpus, and its caption encoder."""
    torch.manual_seed(cfg.seed)
    model = WorldClip(cfg.backbone.dim, cfg.backbone.width, corpus.pictures.shape[1])
    text = train_contrastive(
        model, corpus.pictures, corpus.captions, cfg.backbone, cfg.backbone.epochs, cfg.seed,
        cfg.family_size, progress, frames=corpus.frames,
    )  # fmt: skip
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model, text


CAPTION_WEIGHTS, CAPTION_CONFIG = "caption_encoder.safetensors", "caption_encoder.json"


def save_caption_encoder(text: CaptionEncoder, directory: Path) -> None:
    """Kept beside the model, so that a world made from the cache measures zero-shot retrieval
    exactly as the world that trained it."""
    vocabulary = sorted(text.ids, key=text.ids.__getitem__)
    meta = {
        "vocabulary": vocabulary,
        "dim": text.out.out_features,
        "width": text.embed.embedding_dim,
    }
    state = {k: v.contiguous() for k, v in text.state_dict().items()}
    write_atomic(directory / CAPTION_WEIGHTS, save(state))
    write_atomic(directory / CAPTION_CONFIG, json.dumps(meta).encode())


def load_caption_encoder(directory: Path) -> CaptionEncoder:
    meta = json.loads((directory / CAPTION_CONFIG).read_text(encoding="utf-8"))
    text = CaptionEncoder(meta["vocabulary"], meta["dim"], meta["width"])
    text.load_state_dict(load_file(str(directory / CAPTION_WEIGHTS)))
    return text.eval()
