"""`synthetic`: the synthetic world's noisy MT system, so the demo runs the same stage as real data.

The world (`ccrkit.world.mt`) owns the MT system; this adapter calls its text entry point

    translate(captions, src, tgt, noise, seed, index, weights) -> [MTResult]

(each result has `.text`). Noise, seed and noise-type weights default to what the world recorded
in `<root>/world.json` (`mt.noise` for en->xx, `mt.back_noise` for xx->en, `seed`,
`config.mt.weights`), so `ccrkit translate --backend synthetic` redoes the world's own MT files.
`index` is the world's caption text -> reading table, loaded from
`<collection>/TextData/<collection>_frames.jsonl.gz` of every collection of the data spec.

The import runs this way only: `ccrkit.translate` imports the world, the world never imports
`ccrkit.translate` (the BLEU scoring both use is `ccrkit.mtscores`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccrkit.translate.backend import (
    BACKENDS,
    BackendContext,
    Output,
    Segment,
    TranslationError,
    backend_options,
)
from ccrkit.translate.config import BackendConfig
from ccrkit.world import mt as world_mt
from ccrkit.world.layout import FRAMES_INDEX, WORLD_JSON


@dataclass
class SyntheticOptions:
    noise: float | None = None  # None: the world's (mt.noise en->xx, mt.back_noise xx->en)
    seed: int | None = None  # None: the world's seed
    weights: dict[str, float] | None = None  # None: the world's noise-type weights


@BACKENDS.register("synthetic")
class SyntheticBackend:
    name = "synthetic"
    cacheable = False  # cheap, and deterministic by itself
    batch_size = 100_000

    def __init__(
        self, config: BackendConfig, src: str, tgt: str, context: BackendContext | None = None
    ) -> None:
        self.options = backend_options(SyntheticOptions, config)
        self.src, self.tgt = src, tgt
        self.context = context or BackendContext()
        world = _world_info(self.context.root)
        mt = world.get("mt", {})
        noise_key = "noise" if src == "en" else "back_noise"
        self.noise = self.options.noise if self.options.noise is not None else mt.get(noise_key)
        self.seed = self.options.seed if self.options.seed is not None else world.get("seed")
        self.weights = self.options.weights
        if self.weights is None:
            self.weights = world.get("config", {}).get("mt", {}).get("weights")
        if self.noise is None or self.seed is None:
            raise TranslationError(
                f"the synthetic backend needs the world's noise and seed: no {WORLD_JSON} under "
                f"{self.context.root}; set options.noise and options.seed"
            )
        self._index: world_mt.FrameIndex | None = None

    def identity(self) -> dict[str, Any]:
        return {"backend": "synthetic", "src": self.src, "tgt": self.tgt, "noise": self.noise,
                "seed": self.seed, "weights": self.weights}  # fmt: skip

    def prepare(self, segments: Sequence[Segment]) -> list[str]:
        return []

    def load(self) -> None:
        self._frames_index()

    def translate(self, segments: Sequence[Segment]) -> list[Output]:
        texts = [segment.text for segment in segments]
        try:
            results = world_mt.translate(
                texts, self.src, self.tgt, self.noise, self.seed, self._frames_index(), self.weights
            )
        except ValueError as err:
            raise TranslationError(f"synthetic MT {self.src}->{self.tgt}: {err}") from None
        return [Output(result.text) for result in results]

    def _frames_index(self) -> world_mt.FrameIndex:
        if self._index is None:
            self._index = world_mt.FrameIndex.load(self._index_files())
        return self._index

    def _index_files(self) -> list[Path]:
        spec, root = self.context.spec, self.context.root
        if spec is None or root is None:
            raise TranslationError(
                "the synthetic backend needs the data spec and root of the world"
            )
        collections = {
            spec.collection,
            *(s.collection for s in spec.splits.values() if s.collection),
        }
        files = [
            Path(root) / c / spec.text_dir / f"{c}_{FRAMES_INDEX}" for c in sorted(collections)
        ]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"the world's caption index is missing: {', '.join(missing)}")
        return files


def _world_info(root: Path | None) -> dict[str, Any]:
    path = Path(root) / WORLD_JSON if root is not None else None
    if path is None or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TranslationError(f"{path}: not a readable world record ({err})") from None
