"""The seams' implementations: a training run as a `RetrievalModel`, a data split as a `Gallery`.

Kept apart from the protocols so that `ccrkit.index.model`/`gallery` stay import-light; this module
loads torch, the method registry and the data layer only when a real run is opened.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ccrkit.data import DataSpec, VisualLoader, load_data_spec, read_video2frames
from ccrkit.data.batch import VisualBatch
from ccrkit.data.datasets import read_view
from ccrkit.data.features.extract import split_item_ids
from ccrkit.data.visual import resolve_store
from ccrkit.methods.checkpoint import load_method


class TrainedModel:
    """A trained method behind the `RetrievalModel` protocol (numpy in, unit float32 rows out)."""

    def __init__(self, run_dir: str | Path, which: str = "best", device: str = "cpu") -> None:
        self.run_dir = Path(run_dir)
        self.method, record = load_method(self.run_dir, which, device)
        self.config: dict[str, Any] = record.get("config") or {}
        self.device = torch.device(device)
        data = self.config.get("data") or {}
        targets = list(data.get("target_langs") or [data.get("lang", "de")])
        self.languages = [*dict.fromkeys([*targets, "en"])]
        self.default_lang = targets[0]
        self.model_id = f"{self.run_dir.resolve().name}@{str(record.get('sha256', ''))[:12]}"
        self.dim = self.encode_texts(["dimension probe"], None).shape[1]

    @torch.no_grad()
    def encode_texts(self, texts: list[str], lang: str | None) -> np.ndarray:
        tokens = self.method.tokenize(list(texts)).to(self.device)
        vectors = self.method.encode_text(tokens, lang or self.default_lang)
        return vectors.float().cpu().numpy()

    @torch.no_grad()
    def encode_visual(self, batch: VisualBatch) -> np.ndarray:
        return self.method.encode_visual(batch.to(self.device)).float().cpu().numpy()

    @property
    def data_config(self) -> dict[str, Any]:
        return self.config.get("data") or {}


class DataGallery:
    """A split of a data spec: its items (the split's item list, else every item its captions
    name) in that order, their visual input, their captions per language (English sources and
    human captions; a split needs neither), pictures from the spec's raw store (image files, or
    a video's frame images)."""

    def __init__(self, data: str, root: str | Path, split: str, feature: str | None = None) -> None:
        spec = load_data_spec(data)
        self.split = split
        self.item_ids = split_item_ids(spec, root, split, feature)
        self._visual = VisualLoader.from_spec(spec, root, split, feature)
        self._by_lang = _captions_by_language(spec, root, split)
        # shown by default: English when the split has it, else its first human language
        self._captions = next(iter(self._by_lang.values()), {})
        raw = resolve_store(spec, root, split, "raw") if spec.visual.raw else None
        if raw is not None:  # absolute: a relative data root must not depend on the reader's cwd
            raw = dataclasses.replace(raw, path=raw.path.resolve())
        self.root = raw.path if raw is not None else Path(root).resolve()
        self._frames = None
        if raw is not None and raw.format == "frames" and raw.video2frames is not None:
            self._frames = read_video2frames(raw.video2frames)
        self._raw = raw

    def visual_batches(self, batch_size: int) -> Iterator[VisualBatch]:
        for start in range(0, len(self.item_ids), batch_size):
            yield self._visual.batch(self.item_ids[start : start + batch_size])

    def media_paths(self, item_id: str) -> list[Path]:
        raw = self._raw
        if raw is None:
            return []
        if raw.format == "images":
            return [raw.path / f"{item_id}{raw.ext}"]
        if raw.format == "frames" and self._frames is not None:
            return [raw.path / f"{frame}{raw.ext}" for frame in self._frames.get(item_id, [])]
        return []  # encoded videos have no still picture to show

    def captions(self, item_id: str) -> list[str]:
        return self._captions.get(item_id, [])

    def captions_by_language(self, item_id: str) -> dict[str, list[str]]:
        """The item's captions in each language the split has them in (English: `en`)."""
        return {lang: texts[item_id] for lang, texts in self._by_lang.items() if item_id in texts}

    def labelled_captions(self, languages: list[str]) -> list[tuple[str, str, int]]:
        """(caption, language, row of its item) for every caption in `languages` (captions of
        items outside the item list are `ccrkit data check`'s to report, skipped here)."""
        row = {item: i for i, item in enumerate(self.item_ids)}
        return [
            (text, lang, row[item])
            for lang, by_item in self._by_lang.items() if lang in languages
            for item, texts in by_item.items() if item in row for text in texts
        ]  # fmt: skip


def _captions_by_language(
    spec: DataSpec, root: str | Path, split: str
) -> dict[str, dict[str, list[str]]]:
    """lang -> item -> captions: the split's English sources and its human captions per
    target language (a language whose file the split lacks is left out), English first."""
    found = {}
    views = [("source", None, "en"), *(("human", lang, lang) for lang in spec.target_langs)]
    for role, lang, code in views:
        path = spec.caption_path(root, split, role, lang)
        if path is None or not path.is_file():
            continue
        by_item: dict[str, list[str]] = {}
        for record in read_view(spec, root, split, role, lang):
            by_item.setdefault(record.item_id, []).append(record.text)
        found[code] = by_item
    return found
