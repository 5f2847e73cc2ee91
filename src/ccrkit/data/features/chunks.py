"""Resumable extraction: finished batches are kept as numbered chunks until the output is assembled.

Each chunk is a `.npy` of feature rows plus a `.json` naming them, written in that order and each
atomically, so a chunk counts as done only when its `.json` exists. An interrupted run restarts
from the chunks it finds and skips everything they hold.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ccrkit.runs import write_atomic


class ChunkStore:
    def __init__(self, folder: Path):
        self.folder = folder
        self._metas = sorted(folder.glob("chunk-*.json")) if folder.is_dir() else []

    def done(self) -> dict[str, dict]:
        """Every finished key (item or video) -> its meta record, over all chunks."""
        finished: dict[str, dict] = {}
        for meta in self._metas:
            for key, value in json.loads(meta.read_text(encoding="utf-8"))["keys"].items():
                finished[key] = value
        return finished

    def add(self, keys: dict[str, dict], features: np.ndarray) -> None:
        """Store rows `features`; `keys` maps each finished key to what it needs at assembly."""
        stem = self.folder / f"chunk-{len(self._metas):06d}"
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(features, dtype=np.float32))
        write_atomic(stem.with_suffix(".npy"), buffer.getvalue())
        meta = {"keys": keys, "rows": int(features.shape[0])}
        write_atomic(
            stem.with_suffix(".json"), json.dumps(meta, ensure_ascii=False).encode("utf-8")
        )
        self._metas.append(stem.with_suffix(".json"))

    def chunks(self) -> Iterator[tuple[dict[str, dict], np.ndarray]]:
        for meta in self._metas:
            keys = json.loads(meta.read_text(encoding="utf-8"))["keys"]
            yield keys, np.load(meta.with_suffix(".npy"), mmap_mode="r")
