"""Training throughput (samples/s) of a config's method on synthetic feature data, on this CPU.

    python benchmarks/bench_train.py                       # configs/baseline-world.yaml
    python benchmarks/bench_train.py --config NAME --examples 4096 --threads 2 train.batch_size=64
    python benchmarks/bench_train.py data.root=data/world  # the world's world-mbert (hf encoder)

The world configs' text encoder is the world's world-mbert (DATA_ROOT/models/world-mbert); where
no world was generated at data.root, the built-in encoder of the same width is measured instead
(and the line says so).

Items are random combinations of attributes; an item's visual feature is a fixed random mix of
them, and its English caption and German "MT" name them, so the numbers come from a real
learning problem of the config's sizes (feature width, text encoder, batch). One sample = one
English caption with its MT (one row of a TrainBatch). The first epoch includes warm-up; the
figure reported is the last epoch's.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ccrkit.allocator import keep_freed_memory
from ccrkit.config import load_config
from ccrkit.data.batch import TokenBatch, TrainBatch, VisualBatch
from ccrkit.train import RunConfig, run_training

WORDS = {
    "red": "rot", "blue": "blau", "green": "grün", "small": "klein", "big": "groß", "dog": "hund",
    "cat": "katze", "ball": "ball", "runs": "rennt", "sits": "sitzt", "on": "auf", "grass": "gras",
    "street": "straße", "beach": "strand", "with": "mit", "a": "ein", "the": "der", "child": "kind",
}  # fmt: skip


@dataclass
class Example:
    item_id: str
    item_index: int
    visual: np.ndarray
    views: dict[str, str]


BUILTIN = ["text_encoder={name: builtin, dim: 256, layers: 2, heads: 4, ffn_dim: 512}"]


class SyntheticCaptions:
    def __init__(self, examples: int, dim: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        english = list(WORDS)
        mixing = rng.standard_normal((len(english), dim)).astype(np.float32)
        self.examples = []
        for index in range(examples):
            chosen = rng.choice(len(english), size=int(rng.integers(6, 14)))
            feature = mixing[chosen].sum(0) + 0.1 * rng.standard_normal(dim).astype(np.float32)
            views = {
                "source": " ".join(english[i] for i in chosen),
                "mt:de": " ".join(WORDS[english[i]] for i in chosen),
            }
            self.examples.append(Example(f"i{index}", index, feature, views))

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> Example:
        return self.examples[i]

    def texts(self, role: str, lang: str | None) -> list[str]:
        key = role if lang is None else f"{role}:{lang}"
        return [e.views[key] for e in self.examples]


class Collate:
    def __init__(self, tokenize) -> None:
        self.tokenize = tokenize

    def __call__(self, examples: list[Example]) -> TrainBatch:
        values = torch.from_numpy(np.stack([e.visual for e in examples]))[:, None]
        views: dict[str, TokenBatch] = {
            key: self.tokenize([e.views[key] for e in examples]) for key in examples[0].views
        }
        mask = torch.ones(len(examples), 1, dtype=torch.bool)
        index = torch.tensor([e.item_index for e in examples])
        return TrainBatch(
            [e.item_id for e in examples], index, VisualBatch(values, mask, "feature"), views
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="baseline-world")
    parser.add_argument("--examples", type=int, default=2048)
    parser.add_argument("--dim", type=int, default=512, help="visual feature width")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    keep_freed_memory()  # as every `ccrkit` command does
    torch.set_num_threads(args.threads)
    overrides = [f"train.epochs={args.epochs}", "train.tensorboard=false", "train.progress=false"]
    config = load_config(RunConfig, args.config, [*overrides, *args.overrides])
    encoder = config.text_encoder
    if encoder["name"] == "hf" and not Path(encoder["path"]).is_dir():
        print(f"{encoder['path']} not found (no world generated there): built-in text encoder")
        overrides = [*overrides, *BUILTIN, *args.overrides]
        config = load_config(RunConfig, args.config, overrides)
    data = SyntheticCaptions(args.examples, args.dim)
    with tempfile.TemporaryDirectory() as run_dir:
        outcome = run_training(config, run_dir, data, Collate)
    last = outcome.progress.history[-1]
    print(
        f"{args.config}: {last['samples_per_s']:.0f} samples/s (epoch {last['epoch']}, "
        f"{last['examples']} examples in {last['seconds']:.1f} s, batch {config.train.batch_size}, "
        f"{args.threads} threads, device {config.train.device})"
    )


if __name__ == "__main__":
    main()
