"""How well can a model read a world's frozen world-clip features? (issue 18, item 3a)

    python benchmarks/bench_world_probe.py --world data/world               # world.json's probe
    python benchmarks/bench_world_probe.py --world data/world 64 64,temperature=0.05

world.json's `backbone.english_test_retrieval` is one English probe (`ccrkit.world.features`):
a residual head over the frozen features and world-clip's caption encoder, fine-tuned for
`backbone.probe_epochs` epochs of one caption per training item. This benchmark trains the same
probe over an existing world's features with other settings, each given as `EPOCHS[,FIELD=VALUE
...]` (fields of the world's `backbone` section, e.g. `temperature=0.05`, `lr=0.004`,
`batch_size=128`), and prints its SumR on the val and the test split with English queries, and
the test SumR as a share of the world's oracle. Choose settings by their *val* SumR: the test
split is the one the target is judged on. Nothing of the world is changed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from ccrkit.world import layout
from ccrkit.world.backbone import WORLD_CLIP
from ccrkit.world.clip import load_caption_encoder
from ccrkit.world.config import BackboneWorld
from ccrkit.world.features import english_retrieval, head_features, train_on_features
from ccrkit.world.pretrained import model_dir

COLLECTION = "worldimage"


def split_data(root: Path, split: str) -> tuple[np.ndarray, list[list[str]]]:
    """A split's world-clip features (rows in the order of its id file) and the English human
    captions of each row's item."""
    feature_dir = layout.feature_dir(root, COLLECTION)
    ids = (feature_dir / f"{split}_id.txt").read_text(encoding="utf-8").split()
    captions: dict[str, list[str]] = defaultdict(list)
    text = layout.caption_file(root, COLLECTION, split, "enc")
    for line in text.read_text(encoding="utf-8").splitlines():
        caption_id, caption = line.split(" ", 1)
        captions[layout.caption_parts(caption_id)[0]].append(caption)
    return np.load(feature_dir / f"{split}.npy"), [captions[item] for item in ids]


def probe(
    setting: str,
    backbone: BackboneWorld,
    data: dict[str, tuple[np.ndarray, list[list[str]]]],
    caption_encoder: torch.nn.Module,
    seed: int,
    family_size: int,
) -> dict[str, float]:
    """Train one probe (`EPOCHS[,FIELD=VALUE...]`) and measure it on val and test."""
    epochs, *pairs = setting.split(",")
    fields = {k: type(getattr(backbone, k))(v) for k, v in (p.split("=", 1) for p in pairs)}
    chosen = dataclasses.replace(backbone, probe_epochs=int(epochs), **fields)
    started = time.process_time()
    features, captions = data["train"]
    head, text = train_on_features(features, captions, chosen, seed, family_size, caption_encoder)
    out = {"cpu_s": round(time.process_time() - started, 1)}
    for split in ("val", "test"):
        features, captions = data[split]
        queries = [t for row in captions for t in row]
        owner = np.repeat(np.arange(len(captions)), [len(row) for row in captions])
        metrics, _ = english_retrieval(head_features(head, features), text, queries, owner)
        out[f"{split}_sumr"] = metrics["sumr"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--world", type=Path, required=True, help="a generated world's folder")
    parser.add_argument("settings", nargs="*", help="EPOCHS[,FIELD=VALUE...]; none: world.json's")
    args = parser.parse_args()
    info = json.loads((args.world / layout.WORLD_JSON).read_text(encoding="utf-8"))
    config = info["config"]
    backbone = BackboneWorld(**config["backbone"])
    torch.set_num_threads(backbone.threads)
    oracle = info["oracle"][COLLECTION]["sumr"]
    data = {split: split_data(args.world, split) for split in ("train", "val", "test")}
    caption_encoder = load_caption_encoder(model_dir(args.world, WORLD_CLIP))
    print(f"world {info['config_hash']}: oracle SumR {oracle:.1f} (image test split); "
          f"world.json's probe {info['backbone']['english_test_retrieval']['sumr']:.1f}")  # fmt: skip
    for setting in args.settings or [str(backbone.probe_epochs)]:
        found = probe(
            setting, backbone, data, caption_encoder, config["seed"], config["family_size"]
        )
        print(f"{setting}: val SumR {found['val_sumr']:.1f}, test SumR {found['test_sumr']:.1f} "
              f"= {100 * found['test_sumr'] / oracle:.1f} % of the oracle "
              f"({found['cpu_s']:.0f} s CPU)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
