"""Pictures for `/media/{id}`: an image file as it is, a video's frames as an animated GIF."""

from __future__ import annotations

import io
from collections import OrderedDict
from pathlib import Path
from threading import Lock

import numpy as np
from PIL import Image

IMAGE_TYPES = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".webp": "image/webp", ".bmp": "image/bmp",
}  # fmt: skip
PREVIEW_FRAMES = 12
PREVIEW_SIZE = 320
FRAME_MS = 250


def media_type(path: Path) -> str:
    return IMAGE_TYPES[path.suffix.lower()]


def animated_preview(frames: list[Path]) -> bytes:
    """At most `PREVIEW_FRAMES` evenly spaced frames, fitted into 320 px, as a looping GIF."""
    picks = np.linspace(0, len(frames) - 1, min(len(frames), PREVIEW_FRAMES)).round().astype(int)
    images = []
    for i in dict.fromkeys(picks.tolist()):
        with Image.open(frames[i]) as frame:
            image = frame.convert("RGB")
        image.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
        images.append(image)
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:],
                   duration=FRAME_MS, loop=0)  # fmt: skip
    return buffer.getvalue()


class PreviewCache:
    """The last `size` video previews, so a page of results does not re-encode them."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = Lock()

    def get(self, item_id: str, frames: list[Path]) -> bytes:
        with self._lock:
            if item_id in self._items:
                self._items.move_to_end(item_id)
                return self._items[item_id]
        data = animated_preview(frames)
        with self._lock:
            self._items[item_id] = data
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return data
