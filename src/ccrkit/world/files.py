"""Writers of the world's text, picture-feature and video-feature files (names from `layout`)."""

from __future__ import annotations

import io
import json
from json.encoder import encode_basestring_ascii
from pathlib import Path

import numpy as np

from ccrkit.runs import write_atomic
from ccrkit.world import layout
from ccrkit.world.layout import IMAGE_COLLECTION, SPLITS, VIDEO_COLLECTION
from ccrkit.world.scene import Scene
from ccrkit.world.text import CollectionText

Items = dict[str, list[tuple[str, Scene]]]


def write_text(root: Path, collection: str, text: CollectionText) -> None:
    for (split, tag), captions in text.captions.items():
        lines = "".join(f"{cid} {t}\n" for cid, t in zip(captions.ids, captions.texts, strict=True))
        write_atomic(layout.caption_file(root, collection, split, tag), lines.encode("utf-8"))
        if captions.noise is not None:  # as json.dumps({"id": cid, "noise": list(types)})
            carried = captions.carried or [()] * len(captions.ids)
            lists = {t: json.dumps(list(t)) for t in {*captions.noise, *carried}}
            rows = "".join(
                f'{{"id": {encode_basestring_ascii(cid)}, "noise": {lists[types]}'
                + (f', "carried": {lists[kept]}}}\n' if kept else "}\n")
                for cid, types, kept in zip(captions.ids, captions.noise, carried, strict=True)
            )
            write_atomic(layout.noise_file(root, collection, split, tag), rows.encode("utf-8"))
    write_atomic(layout.frames_index_file(root, collection), text.index.dumps())


def write_npy(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, array)
    write_atomic(path, buffer.getvalue())


def write_image_features(root: Path, items: Items, features: dict[str, np.ndarray]) -> None:
    folder = layout.feature_dir(root, IMAGE_COLLECTION)
    for split in SPLITS:
        write_npy(folder / f"{split}.npy", features[split])
        ids = "".join(f"{item}\n" for item, _ in items[split])
        write_atomic(folder / f"{split}_id.txt", ids.encode())


def write_video_features(root: Path, items: Items, features: np.ndarray, frames: int) -> None:
    """One BigFile over all splits: rows are frame ids, plus the video -> frames map."""
    folder = layout.feature_dir(root, VIDEO_COLLECTION)
    videos = [item for split in SPLITS for item, _ in items[split]]
    frame_ids = [layout.frame_id(v, k) for v in videos for k in range(frames)]
    data = np.ascontiguousarray(features, dtype="<f4")
    write_atomic(folder / "feature.bin", data.tobytes())
    write_atomic(folder / "id.txt", " ".join(frame_ids).encode())
    write_atomic(folder / "shape.txt", f"{data.shape[0]} {data.shape[1]}".encode())
    mapping = {v: [layout.frame_id(v, k) for k in range(frames)] for v in videos}
    write_atomic(folder / "video2frames.txt", repr(mapping).encode())
