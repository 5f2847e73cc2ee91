"""Draw every item of a collection and write its PNG files, in worker processes."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ccrkit.world.layout import frame_id
from ccrkit.world.render import render_image, render_video
from ccrkit.world.scene import Scene

CHUNK = 64


def render_chunk(
    items: Sequence[tuple[str, Scene]], folder: Path, size: int, frames: int, supersample: int
) -> np.ndarray:
    """Render and save a chunk; returns (n, H, W, 3) for images or (n, T, H, W, 3) for videos."""
    out = []
    for item, scene in items:
        if scene.events:
            video = render_video(scene, size, frames, supersample)
            for k, picture in enumerate(video):
                Image.fromarray(picture).save(folder / f"{frame_id(item, k)}.png", compress_level=1)
            out.append(video)
        else:
            picture = render_image(scene, size, supersample)
            Image.fromarray(picture).save(folder / f"{item}.png", compress_level=1)
            out.append(picture)
    return np.stack(out)


def make_executor(
    workers: int, initializer: Callable[..., None] | None = None, initargs: tuple = ()
) -> Executor:
    """Worker processes; 'fork' where available (fast start, nothing to re-import, and
    `initargs` reach the workers by inheritance, not pickled)."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    return ProcessPoolExecutor(workers, context, initializer, initargs)


def submit_collection(
    pool: Executor,
    items: Sequence[tuple[str, Scene]],
    folder: Path,
    size: int,
    frames: int,
    supersample: int,
) -> list[Future[np.ndarray]]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        pool.submit(render_chunk, items[i : i + CHUNK], folder, size, frames, supersample)
        for i in range(0, len(items), CHUNK)
    ]


def gather(futures: Sequence[Future[np.ndarray]]) -> Iterator[np.ndarray]:
    for future in futures:
        yield future.result()
