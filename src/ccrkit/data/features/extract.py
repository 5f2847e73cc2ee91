"""Write features where a data spec expects them: npy + id list per split for images, one BigFile
with `video2frames.txt` per collection folder for videos (frames sampled with PyAV, or existing
frame images). Batched, with a progress bar, resumable (see `chunks.py`), atomic at the end.
Under torchrun every rank encodes its share of the items into its own chunks and rank 0
assembles the files one process writes.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ccrkit.data.bigfile import DTYPE, FEATURE_FILE, ID_FILE, SHAPE_FILE
from ccrkit.data.captions import read_captions
from ccrkit.data.errors import DataError
from ccrkit.data.features.chunks import ChunkStore
from ccrkit.data.features.encoders import ImageEncoder
from ccrkit.data.media import decode_video, load_image
from ccrkit.data.spec import RAW, ROLES, DataSpec
from ccrkit.data.text import read_id_list
from ccrkit.data.video2frames import read_video2frames, write_video2frames
from ccrkit.data.visual import ResolvedStore, VisualLoader, resolve_store
from ccrkit.ranks import DistEnv, barrier, check_world_size, shard, shard_name
from ccrkit.runs import write_atomic

FrameSource = Callable[[str], list[tuple[str, "object"]]]


def extract_images(
    items: Sequence[str],
    image_path: Callable[[str], Path],
    encoder: ImageEncoder,
    out_npy: Path,
    out_ids: Path,
    batch_size: int = 32,
    force: bool = False,
    env: DistEnv | None = None,
) -> str:
    """Encode every item's image into `out_npy` (rows in `items` order) and `out_ids`.

    Returns 'written' or 'complete' (already there with the same ids). An existing output with
    other ids is refused unless `force`. Under torchrun (`env` of several ranks, group joined)
    each rank encodes every world_size-th item into its own chunks and rank 0 assembles the
    same file one process writes.
    """
    env = env or DistEnv()
    if out_npy.exists() and not force:
        if out_ids.is_file() and read_id_list(out_ids) == list(items):
            return "complete"
        raise FileExistsError(f"{out_npy} exists with other items; pass --force to extract again")
    partial = out_npy.parent / f".{out_npy.name}.partial"
    chunks = _own_chunks(partial, env)
    done = chunks.done()
    mine = shard(items, env)
    todo = [item for item in mine if item not in done]
    with tqdm(total=len(mine), initial=len(mine) - len(todo), desc=_label(out_npy.name, env),
              unit="img") as bar:  # fmt: skip
        for batch in _batches(todo, batch_size):
            features = encoder.encode([load_image(image_path(item)) for item in batch])
            chunks.add({item: {} for item in batch}, features)
            bar.update(len(batch))
    barrier(env)
    if env.is_main:
        _assemble_npy(_all_chunks(partial, env), list(items), out_npy)
        write_atomic(out_ids, "".join(f"{item}\n" for item in items).encode("utf-8"))
        shutil.rmtree(partial, ignore_errors=True)
    barrier(env)
    return "written"


def extract_videos(
    videos: Sequence[str],
    frames_of: FrameSource,
    encoder: ImageEncoder,
    out_dir: Path,
    batch_size: int = 32,
    force: bool = False,
    chunk_rows: int = 1024,
    env: DistEnv | None = None,
) -> str:
    """Encode every frame of every video into a BigFile at `out_dir` plus `video2frames.txt`
    (videos in `videos` order); under torchrun as `extract_images` does."""
    env = env or DistEnv()
    v2f_path = out_dir / "video2frames.txt"
    if (out_dir / FEATURE_FILE).exists() and not force:
        if v2f_path.is_file() and set(videos) <= set(read_video2frames(v2f_path)):
            return "complete"
        raise FileExistsError(
            f"{out_dir / FEATURE_FILE} exists without all videos; pass --force to extract again"
        )
    partial = out_dir / ".partial"
    chunks = _own_chunks(partial, env)
    done = chunks.done()
    mine = shard(videos, env)
    todo = [video for video in mine if video not in done]
    pending: dict[str, dict] = {}
    rows: list[np.ndarray] = []
    with tqdm(total=len(mine), initial=len(mine) - len(todo), desc=_label(out_dir.name, env),
              unit="video") as bar:  # fmt: skip
        for video in todo:
            frames = frames_of(video)
            ids = [frame_id for frame_id, _ in frames]
            for batch in _batches(frames, batch_size):
                rows.append(encoder.encode([image for _, image in batch]))
            pending[video] = {"frames": ids}
            if sum(len(r) for r in rows) >= chunk_rows:
                chunks.add(pending, np.concatenate(rows))
                pending, rows = {}, []
            bar.update(1)
        if pending:
            chunks.add(pending, np.concatenate(rows))
    barrier(env)
    if env.is_main:
        _assemble_bigfile(_all_chunks(partial, env), list(videos), out_dir)
        shutil.rmtree(partial, ignore_errors=True)
    barrier(env)
    return "written"


def _own_chunks(partial: Path, env: DistEnv) -> ChunkStore:
    """This rank's chunks: `partial` itself for one process, `partial/rank-<r>-of-<W>` under
    torchrun (a share left by a run with another number of ranks is refused)."""
    check_world_size(partial, env, single_process="chunk-*.json")
    return ChunkStore(partial / shard_name(env) if env.distributed else partial)


def _all_chunks(partial: Path, env: DistEnv) -> list[ChunkStore]:
    if not env.distributed:
        return [ChunkStore(partial)]
    ranks = [DistEnv(rank, env.world_size) for rank in range(env.world_size)]
    return [ChunkStore(partial / shard_name(rank)) for rank in ranks]


def _label(name: str, env: DistEnv) -> str:
    return f"{name} [rank {env.rank}/{env.world_size}]" if env.distributed else name


def extract_for_spec(
    spec: DataSpec,
    root: str | Path,
    feature: str,
    encoder: ImageEncoder,
    splits: Sequence[str] | None = None,
    batch_size: int = 32,
    force: bool = False,
    fps: float | None = None,
    env: DistEnv | None = None,
) -> dict[str, str]:
    """Extract `feature` for `splits` of `spec` from its raw store; {output path: status}.
    Under torchrun (`env`), the ranks share every output's items (see `extract_images`)."""
    if feature == RAW:
        raise DataError("pick a feature folder name to write (e.g. clip_vit_b32), not 'raw'")
    results: dict[str, str] = {}
    targets: dict[Path, tuple[ResolvedStore, ResolvedStore, list[str]]] = {}
    for split in splits or list(spec.splits):
        raw = resolve_store(spec, root, split, RAW)
        out = resolve_store(spec, root, split, feature)
        items = split_item_ids(spec, root, split)
        if out.format == "npy":
            if raw.format != "images":
                raise DataError(
                    f"npy features come from images; the raw store of '{spec.name}' holds {raw.format}"
                )
            # An id file that already exists (e.g. the official FeatureData/train_id.txt) fixes the row order.
            fixed = out.ids is not None and out.ids.is_file() and not out.path.exists()
            order = read_id_list(out.ids) if fixed else items  # type: ignore[arg-type]
            image_path = functools.partial(_image_path, raw)
            results[str(out.path)] = extract_images(
                order, image_path, encoder, out.path, out.ids, batch_size, force, env
            )  # type: ignore[arg-type]
        else:
            _, _, known = targets.setdefault(out.path, (raw, out, []))
            known.extend(item for item in items if item not in known)
    for out_dir, (raw, _, videos) in targets.items():
        results[str(out_dir)] = extract_videos(
            videos, frame_source(raw, fps), encoder, out_dir, batch_size, force, env=env
        )
    return results


def split_item_ids(
    spec: DataSpec, root: str | Path, split: str, feature: str | None = RAW
) -> list[str]:
    """The split's `items` file, else every item named by its caption files (first appearance).
    By default the list of the raw store (a new feature's own list, when the spec names one, is
    written by the extraction); a reader of an existing `feature` (None: the spec's default)
    passes it, as the item list may live in that feature's folder."""
    items_path = spec.items_path(root, split, feature)
    if items_path is not None:
        return read_id_list(items_path)
    items: dict[str, None] = {}
    for role in ROLES:
        for lang in spec.langs_of(role):
            path = spec.caption_path(root, split, role, lang)
            if path is not None and path.is_file():
                items.update(
                    dict.fromkeys(
                        r.item_id for r in read_captions(path, json_tag=spec.tag(role, lang))
                    )
                )
    return list(items)


def frame_source(raw: ResolvedStore, fps: float | None = None) -> FrameSource:
    """(frame id, image) pairs of a video: decoded from a video file, or existing frame images."""
    if raw.format == "videos":
        rate = fps or raw.fps

        def decoded(video: str) -> list[tuple[str, object]]:
            images = decode_video(raw.path / f"{video}{raw.ext}", rate)
            return [(f"{video}_{k}", image) for k, image in enumerate(images)]

        return decoded
    if raw.format == "frames":
        loader = VisualLoader(raw)

        def stored(video: str) -> list[tuple[str, object]]:
            problem = loader.problem(video)
            if problem is not None:
                raise problem
            return [(f, load_image(raw.path / f"{f}{raw.ext}")) for f in loader.video2frames[video]]  # type: ignore[index]

        return stored
    raise DataError(
        f"frame features come from videos or frame images, not '{raw.format}'", raw.path
    )


def _image_path(raw: ResolvedStore, item: str) -> Path:
    return raw.path / f"{item}{raw.ext}"


def _batches(values: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _assemble_npy(stores: list[ChunkStore], items: list[str], out: Path) -> None:
    where: dict[str, tuple[int, int]] = {}
    arrays = []
    for keys, rows in (chunk for store in stores for chunk in store.chunks()):
        for row, key in enumerate(keys):
            where[key] = (len(arrays), row)
        arrays.append(rows)
    dim = arrays[0].shape[1] if arrays else 0
    with _atomic_path(out) as tmp:
        result = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=np.float32, shape=(len(items), dim)
        )
        for index, item in enumerate(items):
            number, row = where[item]
            result[index] = arrays[number][row]
        result.flush()
        del result


def _assemble_bigfile(stores: list[ChunkStore], videos: list[str], out_dir: Path) -> None:
    """One BigFile of every video's frames, in `videos` order, from the chunks of all ranks."""
    where: dict[str, tuple[np.ndarray, int, list[str]]] = {}  # video -> rows, offset, frames
    dim = 0
    for keys, rows in (chunk for store in stores for chunk in store.chunks()):
        offset = 0
        for video, meta in keys.items():
            where.setdefault(video, (rows, offset, meta["frames"]))
            offset += len(meta["frames"])
        dim = rows.shape[1]
    ids: list[str] = []
    with _atomic_path(out_dir / FEATURE_FILE) as tmp, open(tmp, "wb") as handle:
        for video in dict.fromkeys(videos):
            rows, offset, frames = where[video]
            handle.write(
                np.ascontiguousarray(rows[offset : offset + len(frames)], dtype=DTYPE).tobytes()
            )
            ids.extend(frames)
    write_atomic(out_dir / ID_FILE, "".join(f"{i}\n" for i in ids).encode("utf-8"))
    write_atomic(out_dir / SHAPE_FILE, f"{len(ids)} {dim}\n".encode())
    write_video2frames(out_dir / "video2frames.txt", {v: where[v][2] for v in videos})


@contextlib.contextmanager
def _atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path`, renamed onto it when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
