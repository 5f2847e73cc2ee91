"""`manifest.json`: which model built an index, over what, how, and when.

The manifest is the index's identity card: search and serve refuse an index whose model or
dimension differs from the loaded model's, and `checkpoint` tells `ccrkit index search` and
`ccrkit serve` which run directory to load the query encoder from.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccrkit import __version__
from ccrkit.runs import write_json_atomic

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FAISS_FILE = "index.faiss"
ITEMS_FILE = "items.sqlite"
STORE_FILE = "vectors.npy"  # float16 vectors, row = FAISS row (ccrkit.index.vectors)


@dataclass
class Manifest:
    model_id: str
    dim: int
    count: int
    index_type: str
    factory: str
    media_root: str
    languages: list[str] = field(default_factory=list)
    search_params: dict[str, int] = field(default_factory=dict)
    checkpoint: str | None = None
    data: str | None = None
    split: str | None = None
    recall_at_10: float | None = None
    # top scores below this are "no good match" (None: not calibrated); how, in `calibration`
    score_threshold: float | None = None
    calibration: dict[str, Any] = field(default_factory=dict)
    caption_langs: list[str] = field(default_factory=list)  # languages of items' captions
    built: str = ""
    build_seconds: float = 0.0
    ccrkit_version: str = __version__
    format: int = FORMAT_VERSION
    # Added with the on-disk store (issue 24); indexes built before have none of them.
    store: str | None = None  # the vector store's file name in the folder
    rerank: int = 0  # shortlist re-scored exactly from the store (0: FAISS's ranking)
    index_bytes: int = 0  # memory the loaded FAISS index takes
    # the build's plug-in modules (`IndexConfig.plugins`): named when the index's type is not
    # registered, never imported (`ccrkit --plugin MODULE` imports them)
    plugins: list[str] = field(default_factory=list)

    def save(self, index_dir: Path) -> None:
        write_json_atomic(index_dir / MANIFEST, dataclasses.asdict(self))


def read_manifest(index_dir: str | Path) -> Manifest:
    """The manifest of `index_dir`, or an error that says what is missing or wrong."""
    path = Path(index_dir) / MANIFEST
    if not Path(index_dir).is_dir():
        index_dir = Path(index_dir)
        aside = sorted(index_dir.parent.glob(f".{index_dir.name}.old-*"))
        hint = (
            f"; an interrupted replacement left the previous index in {aside[0]}: rename it "
            "back, or build a new one"
            if aside
            else " (build one with ccrkit index build)"
        )
        raise ValueError(f"{index_dir}: index folder not found{hint}")
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: not found; {index_dir} is not a ccrkit index") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    if data.get("format") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: index format {data.get('format')!r}, this ccrkit reads format "
            f"{FORMAT_VERSION}; rebuild the index"
        )
    known = {f.name for f in dataclasses.fields(Manifest)}
    try:
        return Manifest(**{key: value for key, value in data.items() if key in known})
    except TypeError as err:
        raise ValueError(f"{path}: incomplete manifest ({err})") from None
