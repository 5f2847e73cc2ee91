"""Pixels from disk: images with Pillow, video frames with PyAV; every failure names the file.

Pixels handed to models are float32 (3, H, W) in [0, 1] (see `ccrkit.data.batch`); normalisation
is the model's business. The default transform resizes the shorter side and centre-crops a square.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ccrkit.data.errors import DataError

ImageTransform = Callable[["Image.Image"], np.ndarray]


def load_image(path: str | Path, verify: bool = True) -> Image.Image:
    """An RGB image, fully decoded (so a truncated file fails here, not inside a model)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("image file not found", path)
    try:
        with Image.open(path) as image:
            if verify:
                image.load()
            return image.convert("RGB")
    except UnidentifiedImageError:
        raise DataError("not an image Pillow can read (unknown or damaged format)", path) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"unreadable or truncated image: {err}", path) from None


def check_image(path: str | Path, decode: bool = False) -> None:
    """Cheap check (header) by default; `decode=True` decodes every pixel (finds truncation)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("image file not found", path)
    try:
        with Image.open(path) as image:
            if decode:
                image.load()
    except UnidentifiedImageError:
        raise DataError("not an image Pillow can read (unknown or damaged format)", path) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f"unreadable or truncated image: {err}", path) from None


def to_pixels(image: Image.Image, size: int | None = 224) -> np.ndarray:
    """(3, size, size) float32 in [0, 1]: shorter side resized to `size`, centre crop.

    `size=None` keeps the image as it is.
    """
    if size is not None:
        width, height = image.size
        scale = size / min(width, height)
        resized = (max(size, round(width * scale)), max(size, round(height * scale)))
        image = image.resize(resized, Image.Resampling.BICUBIC)
        left, top = (resized[0] - size) // 2, (resized[1] - size) // 2
        image = image.crop((left, top, left + size, top + size))
    array = np.asarray(image, dtype=np.float32) / 255.0
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def decode_video(path: str | Path, fps: float = 1.0) -> list[Image.Image]:
    """RGB frames sampled at `fps` frames per second of video time (the first frame always).

    A frame is kept when its timestamp reaches the next sampling time, so the result does not
    depend on the container's own frame rate.
    """
    # optional dependency: PyAV (the `features` extra), for videos only
    import av

    path = Path(path)
    if fps <= 0:
        raise DataError(f"fps must be > 0, got {fps}", path)
    if not path.is_file():
        raise DataError("video file not found", path)
    frames = []
    next_time = 0.0
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError("no video stream", path)
            stream = container.streams.video[0]
            for number, frame in enumerate(container.decode(stream)):
                time = (
                    frame.time
                    if frame.time is not None
                    else number / float(stream.average_rate or 25)
                )
                if time + 1e-6 >= next_time:
                    frames.append(frame.to_image())
                    next_time += 1.0 / fps
    except DataError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise DataError(f"PyAV cannot decode this video: {err}", path) from None
    if not frames:
        raise DataError("video has no decodable frames", path)
    return frames
