"""A tiny fake world with the data layer's interfaces (TrainDataset, TrainCollate, EvalDataset).

Items are (size, colour, shape) combinations; an item's visual feature is a fixed random mix of
the three one-hot attributes plus noise. English captions, their "MT" into German and differently
phrased "human" German queries (with their MT back into English) name the same attributes, so a
model that learns the words can retrieve the items far above chance.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ccrkit.data.batch import TokenBatch, TrainBatch, VisualBatch

SIZES = {"small": "klein", "big": "gross", "tiny": "winzig"}
COLOURS = {"red": "rot", "blue": "blau", "green": "grün", "yellow": "gelb"}
SHAPES = {"circle": "kreis", "square": "quadrat", "star": "stern", "heart": "herz"}
EN_TEMPLATES = ("a {size} {colour} {shape}", "there is a {shape} that is {colour} and {size}")
DE_MT_TEMPLATES = ("ein {size} {colour} {shape}", "da ist ein {shape} der {colour} und {size} ist")
DE_HUMAN = "das {shape} ist {size} und {colour}"
EN_FROM_HUMAN = "the {shape} is {size} and {colour}"


@dataclass
class TrainExample:
    item_id: str
    item_index: int
    visual: np.ndarray
    views: dict[str, str]


class FakeWorld:
    """All 48 items; `dim`-wide visual features; two English captions per item."""

    def __init__(self, dim: int = 16, noise: float = 0.1, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.attributes = list(itertools.product(SIZES, COLOURS, SHAPES))
        self.item_ids = [f"{s}-{c}-{h}" for s, c, h in self.attributes]
        mixing = rng.standard_normal((len(SIZES) + len(COLOURS) + len(SHAPES), dim))
        onehots = np.stack([self._onehot(a) for a in self.attributes])
        features = onehots @ mixing + noise * rng.standard_normal((len(self.attributes), dim))
        self.features = features.astype(np.float32)

    @staticmethod
    def _onehot(attribute: tuple[str, str, str]) -> np.ndarray:
        size, colour, shape = attribute
        parts = [np.array([k == v for k in table], dtype=np.float32) for table, v in
                 ((SIZES, size), (COLOURS, colour), (SHAPES, shape))]  # fmt: skip
        return np.concatenate(parts)

    def words(self, index: int, lang: str) -> dict[str, str]:
        size, colour, shape = self.attributes[index]
        if lang == "en":
            return {"size": size, "colour": colour, "shape": shape}
        return {"size": SIZES[size], "colour": COLOURS[colour], "shape": SHAPES[shape]}


class FakeTrainDataset:
    """`TrainDataset` stand-in: one example per English caption, views source + mt:de (+ bt:de)."""

    def __init__(self, world: FakeWorld, roles: tuple[str, ...] = ("mt",)) -> None:
        self.world, self.examples = world, []
        for index, item_id in enumerate(world.item_ids):
            en, de = world.words(index, "en"), world.words(index, "de")
            for n, template in enumerate(EN_TEMPLATES):
                views = {"source": template.format(**en)}
                if "mt" in roles:
                    views["mt:de"] = DE_MT_TEMPLATES[n].format(**de)
                if "bt" in roles:
                    views["bt:de"] = EN_TEMPLATES[1 - n].format(**en)
                self.examples.append(TrainExample(item_id, index, world.features[index], views))
        self.item_ids = list(world.item_ids)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> TrainExample:
        return self.examples[i]

    def texts(self, role: str, lang: str | None) -> list[str]:
        key = role if lang is None else f"{role}:{lang}"
        return [e.views[key] for e in self.examples if key in e.views]


class FakeCollate:
    """`TrainCollate` stand-in: stack features, tokenize every view."""

    def __init__(self, tokenize: Callable[[list[str]], TokenBatch]) -> None:
        self.tokenize = tokenize

    def __call__(self, examples: list[TrainExample]) -> TrainBatch:
        values = torch.from_numpy(np.stack([e.visual for e in examples]))[:, None]
        visual = VisualBatch(values, torch.ones(len(examples), 1, dtype=torch.bool), "feature")
        views = {key: self.tokenize([e.views[key] for e in examples]) for key in examples[0].views}
        return TrainBatch(
            [e.item_id for e in examples],
            torch.tensor([e.item_index for e in examples]),
            visual,
            views,
        )


class FakeEvalDataset:
    """`EvalDataset` stand-in: one human German query per item, its MT into English, and the
    English captions as source queries."""

    def __init__(self, world: FakeWorld) -> None:
        self.world = world
        n = len(world.item_ids)
        self.item_ids = list(world.item_ids)
        self.query_texts = [DE_HUMAN.format(**world.words(i, "de")) for i in range(n)]
        self.query_texts_to_en = [EN_FROM_HUMAN.format(**world.words(i, "en")) for i in range(n)]
        self.query_item = np.arange(n)
        self.source_texts = [EN_TEMPLATES[0].format(**world.words(i, "en")) for i in range(n)]
        self.source_item = np.arange(n)

    def visual_batches(self, batch_size: int) -> Iterator[VisualBatch]:
        for start in range(0, len(self.item_ids), batch_size):
            values = torch.from_numpy(self.world.features[start : start + batch_size])[:, None]
            yield VisualBatch(values, torch.ones(len(values), 1, dtype=torch.bool), "feature")


def tiny_config(**train: object) -> dict:
    """Overrides for a fast CPU run on the fake world."""
    overrides = {
        "seed": 0,
        "text_encoder": {"name": "builtin", "dim": 32, "layers": 1, "heads": 2, "ffn_dim": 64,
                         "dropout": 0.1, "vocab_size": 200, "max_length": 16},
        "visual_encoder": {"name": "feature", "hidden": 32},
        "method": {"name": "baseline", "embed_dim": 32, "temperature": 0.1},
        "train": {"epochs": 6, "batch_size": 16, "lr": 3e-3, "device": "cpu", "progress": False,
                  "tensorboard": False, "schedule": "cosine", "warmup_steps": 2, **train},
        "eval": {"batch_size": 64},
    }  # fmt: skip
    return overrides
