"""The items an index is built over, and the seam that opens a data set split as one.

A gallery yields its items' visual input in a fixed order (that order becomes the index's rows)
and tells, per item, which files picture it and which captions to show. Pictures: one path for an
image; a video's frame images, in order, as several paths (the server turns them into an animated
preview). Every path must lie inside `root`, the collection: the server refuses anything else.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ccrkit.data.batch import VisualBatch


@runtime_checkable
class Gallery(Protocol):
    """The collection to index.

    - `root`: the folder that holds every picture/frame (the only place `/media` serves from).
    - `item_ids`: unique, in gallery order.
    - `visual_batches(batch_size)`: the items' visual input in gallery order, `batch_size` items
      per batch (the last may be shorter), exactly `len(item_ids)` items in all.
    - `media_paths(item_id)`: [] (nothing to show), [picture], or [frame1, frame2, ...] for a video.
    - `captions(item_id)`: captions to show beside the picture (may be empty).

    Optional: `captions_by_language(item_id) -> {lang: [captions]}` (the page shows a query's
    own language where there are some) and `labelled_captions(languages) -> [(text, lang,
    row)]` (captions with their item's row, to calibrate the no-good-match threshold).
    """

    root: Path
    item_ids: list[str]

    def visual_batches(self, batch_size: int) -> Iterator[VisualBatch]: ...

    def media_paths(self, item_id: str) -> list[Path]: ...

    def captions(self, item_id: str) -> list[str]: ...


def open_gallery(
    data: str, root: str | Path | None, split: str, feature: str | None = None
) -> Gallery:
    """The items of split `split` of data set `data` (a spec name in configs/data or a path),
    with the visual input `feature` (the spec's default when None)."""
    from ccrkit.index.trained import DataGallery

    if root is None:
        raise ValueError(f"opening data set '{data}' needs its root folder (--root DIR)")
    return DataGallery(data, root, split, feature)
