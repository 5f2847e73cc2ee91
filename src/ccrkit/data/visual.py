"""Visual input of items, whatever the store: features (npy, BigFile), frames, images, videos.

`VisualLoader` resolves a spec's store for one split and loads one item as a numpy array:
(D,) for a per-item feature, (T, D) for per-frame features, (3, H, W) for an image and
(T, 3, H, W) for video pixels. `collate_visual` pads a list of them into a `VisualBatch` whose
mask marks real frames, so padding never reaches pooling. Feature files stay memory-mapped; worker
processes reopen them instead of receiving copies.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ccrkit.data.batch import VisualBatch, VisualKind
from ccrkit.data.bigfile import BigFile
from ccrkit.data.errors import DataError
from ccrkit.data.media import decode_video, load_image, to_pixels
from ccrkit.data.spec import DataSpec
from ccrkit.data.text import read_id_list
from ccrkit.data.video2frames import read_video2frames

FRAME_NAME = re.compile(r"^(?P<video>.+)_(?P<k>\d+)$")
NPY_MAGIC = b"\x93NUMPY"
SCAN_ROWS = 65536  # rows per block when scanning a feature store for NaN and inf


@dataclass(frozen=True)
class ResolvedStore:
    """A spec store with real paths for one split (see `ccrkit.data.spec.StoreSpec`)."""

    feature: str
    format: str
    path: Path
    ids: Path | None = None
    video2frames: Path | None = None
    ext: str = ".jpg"
    fps: float = 1.0

    @property
    def label(self) -> str:
        return f"{self.format} {self.feature}"


def resolve_store(
    spec: DataSpec, root: str | Path, split: str, feature: str | None = None
) -> ResolvedStore:
    name, store = spec.store(split, feature)

    def path(value: str | None) -> Path | None:
        return spec.store_path(root, split, name, value)

    return ResolvedStore(
        name,
        store.format,
        path(store.path),
        path(store.ids),
        path(store.video2frames),
        store.ext,
        store.fps,
    )  # type: ignore[arg-type]


class VisualLoader:
    """Loads the visual input of items from one resolved store; validates the store on open."""

    def __init__(
        self,
        store: ResolvedStore,
        *,
        max_frames: int | None = None,
        image_size: int | None = 224,
        image_transform: Callable | None = None,
    ):
        self.store = store
        self.max_frames = max_frames
        self.transform = image_transform or functools.partial(to_pixels, size=image_size)
        self._npy: np.ndarray | None = None
        self._index: dict[str, int] = {}
        self.bigfile: BigFile | None = None
        self.video2frames: dict[str, list[str]] | None = None
        self.dim: int | None = None
        getattr(self, f"_open_{store.format}")()

    @classmethod
    def from_spec(
        cls, spec: DataSpec, root: str | Path, split: str, feature: str | None = None, **kwargs
    ) -> VisualLoader:
        kwargs.setdefault("max_frames", spec.visual.max_frames)
        return cls(resolve_store(spec, root, split, feature), **kwargs)

    # --- opening -------------------------------------------------------------------------------

    def _open_npy(self) -> None:
        path, ids_path = self.store.path, self.store.ids
        array = self._load_npy()
        ids = read_id_list(ids_path)  # type: ignore[arg-type]
        if array.ndim != 2:
            raise DataError(
                f"expected a 2-D (items x dim) feature array, got shape {array.shape}", path
            )
        if array.shape[0] != len(ids):
            raise DataError(
                f"{array.shape[0]} rows but {len(ids)} ids in {ids_path}; rows must match ids one to one",
                path,
            )
        self._index = {item: row for row, item in enumerate(ids)}
        self.dim = int(array.shape[1])

    def _load_npy(self) -> np.ndarray:
        if self._npy is None:
            path = self.store.path
            if not path.is_file():
                raise DataError("feature file not found", path)
            with path.open("rb") as handle:
                start = handle.read(len(NPY_MAGIC))
            if start != NPY_MAGIC:
                raise DataError(
                    f"not a valid .npy file: it does not start with NumPy's header "
                    f"(first bytes {start!r}); expected an array written by numpy.save",
                    path,
                )
            try:
                self._npy = np.load(path, mmap_mode="r", allow_pickle=False)
            except ValueError as err:
                raise DataError(f"not a plain numeric .npy array ({err})", path) from None
            if not np.issubdtype(self._npy.dtype, np.floating):
                raise DataError(f"expected float features, got dtype {self._npy.dtype}", path)
        return self._npy

    def _open_bigfile(self) -> None:
        self.bigfile = BigFile(self.store.path)
        self.dim = self.bigfile.dim
        if self.store.video2frames is not None:
            self.video2frames = read_video2frames(self.store.video2frames)

    def _open_images(self) -> None:
        if not self.store.path.is_dir():
            raise DataError("image folder not found", self.store.path)

    def _open_videos(self) -> None:
        if not self.store.path.is_dir():
            raise DataError("video folder not found", self.store.path)

    def _open_frames(self) -> None:
        if not self.store.path.is_dir():
            raise DataError("frame folder not found", self.store.path)
        if self.store.video2frames is not None:
            self.video2frames = read_video2frames(self.store.video2frames)
            return
        grouped: dict[str, list[tuple[int, str]]] = {}
        for file in self.store.path.glob(f"*{self.store.ext}"):
            match = FRAME_NAME.match(file.name[: -len(self.store.ext)])
            if match:
                grouped.setdefault(match["video"], []).append((int(match["k"]), match.group(0)))
        self.video2frames = {
            video: [name for _, name in sorted(frames)] for video, frames in grouped.items()
        }

    # --- what it holds -------------------------------------------------------------------------

    @property
    def kind(self) -> VisualKind:
        if self.store.format in ("images", "frames", "videos"):
            return "pixels"
        return "frames" if self.video2frames is not None else "feature"

    def problem(self, item: str) -> DataError | None:
        """Why `item` cannot be loaded (cheap checks only), or None when it can."""
        fmt, store = self.store.format, self.store
        if fmt == "npy" and item not in self._index:
            return DataError(f"item '{item}' has no row in {store.ids}", store.path)
        if fmt == "images" or fmt == "videos":
            file = store.path / f"{item}{store.ext}"
            return None if file.is_file() else DataError(f"no {fmt[:-1]} for item '{item}'", file)
        if self.video2frames is not None:
            return self._frames_problem(item)
        if fmt == "bigfile" and item not in self.bigfile:  # type: ignore[operator]
            return DataError(f"item '{item}' has no row in id.txt", store.path)
        return None

    def nonfinite_problem(self) -> DataError | None:
        """NaN or inf anywhere in a feature store, as one problem naming the first row's id."""
        if self.store.format == "npy":
            rows, ids, where = self._load_npy(), list(self._index), self.store.path
        elif self.bigfile is not None:
            rows, ids, where = self.bigfile.values(), self.bigfile.ids, self.store.path
        else:
            return None
        count, first = 0, None
        for start in range(0, len(rows), SCAN_ROWS):
            bad = ~np.isfinite(rows[start : start + SCAN_ROWS]).all(axis=1)
            if first is None and bad.any():
                first = start + int(np.argmax(bad))
            count += int(bad.sum())
        if first is None:
            return None
        return DataError(
            f"{count} feature row(s) hold NaN or inf, the first of item '{ids[first]}' (row "
            f"{first}); expected finite numbers (recompute these features)",
            where,
        )

    def _frames_problem(self, item: str) -> DataError | None:
        where = self.store.video2frames or self.store.path
        frames = self.video2frames.get(item)  # type: ignore[union-attr]
        if not frames:
            return DataError(f"video '{item}' has no frames listed", where)
        for frame in frames:
            if self.bigfile is not None and frame not in self.bigfile:
                return DataError(
                    f"frame '{frame}' of video '{item}' is not in the BigFile {self.bigfile.directory / 'id.txt'}",
                    where,
                )
            if (
                self.bigfile is None
                and not (self.store.path / f"{frame}{self.store.ext}").is_file()
            ):
                return DataError(
                    f"frame image '{frame}{self.store.ext}' of video '{item}' not found",
                    self.store.path,
                )
        return None

    # --- loading ---------------------------------------------------------------------------------

    def load(self, item: str) -> np.ndarray:
        problem = self.problem(item)
        if problem is not None:
            raise problem
        fmt = self.store.format
        if fmt == "npy":
            return np.array(self._load_npy()[self._index[item]], dtype=np.float32)
        if fmt == "images":
            return self.transform(load_image(self.store.path / f"{item}{self.store.ext}"))
        if fmt == "videos":
            images = decode_video(self.store.path / f"{item}{self.store.ext}", self.store.fps)
            return np.stack([self.transform(image) for image in images[: self.max_frames]])
        if self.video2frames is None:
            return self.bigfile.read([item])[0]  # type: ignore[union-attr]
        frames = self.video2frames[item][: self.max_frames]
        if self.bigfile is not None:
            return self.bigfile.read(frames)
        return np.stack(
            [self.transform(load_image(self.store.path / f"{f}{self.store.ext}")) for f in frames]
        )

    def batch(self, items: Sequence[str]) -> VisualBatch:
        return collate_visual([self.load(item) for item in items])

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_npy": None}


def collate_visual(arrays: Sequence[np.ndarray]) -> VisualBatch:
    """Stack per-item arrays into a `VisualBatch`; frames are zero-padded and masked.

    (D,) -> "feature" (B, 1, D); (T, D) -> "frames" (B, T, D); (3, H, W) -> "pixels" (B, 3, H, W)
    with mask (B, 1); (T, 3, H, W) -> "pixels" (B, T, 3, H, W) with mask (B, T).
    """
    if not arrays:
        raise ValueError("cannot collate an empty list of visual inputs")
    ndim = arrays[0].ndim
    if any(a.ndim != ndim for a in arrays):
        raise ValueError(f"visual inputs of mixed shapes: {sorted({a.shape for a in arrays})}")
    if ndim == 1:
        values = torch.from_numpy(np.stack(arrays)).unsqueeze(1)
        return VisualBatch(values.float(), torch.ones(len(arrays), 1, dtype=torch.bool), "feature")
    if ndim == 3:
        values = torch.from_numpy(np.stack(arrays)).float()
        return VisualBatch(values, torch.ones(len(arrays), 1, dtype=torch.bool), "pixels")
    if ndim not in (2, 4):
        raise ValueError(f"unsupported visual input with {ndim} dimensions")
    lengths = [a.shape[0] for a in arrays]
    values = torch.zeros((len(arrays), max(lengths), *arrays[0].shape[1:]), dtype=torch.float32)
    mask = torch.zeros(len(arrays), max(lengths), dtype=torch.bool)
    for row, (array, length) in enumerate(zip(arrays, lengths, strict=True)):
        values[row, :length] = torch.from_numpy(np.asarray(array, dtype=np.float32))
        mask[row, :length] = True
    return VisualBatch(values, mask, "frames" if ndim == 2 else "pixels")
