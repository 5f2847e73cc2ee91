"""`ccrkit index build`: encode a gallery, write FAISS index + item metadata + manifest atomically.

The build streams: each encoded chunk goes to the float16 vector store on disk (and, for an index
that needs no training, straight into FAISS); an IVF index is then trained on a sample of the
store and filled from it chunk by chunk. Memory holds the FAISS index being built, a chunk and
the training sample, never all vectors at once. Index parameters come from the config, or from
a memory budget and a recall target (`ccrkit.index.plan`).

Everything is written into a fresh staging folder beside the destination and renamed into place
at the end, so a crash or an error mid-build leaves the previous index (if any) untouched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ccrkit.config import to_dict
from ccrkit.index.backend import IndexBuilder, write_faiss
from ccrkit.index.calibrate import Calibration, calibrate
from ccrkit.index.config import IndexConfig
from ccrkit.index.gallery import Gallery, open_gallery
from ccrkit.index.manifest import FAISS_FILE, ITEMS_FILE, MANIFEST, STORE_FILE, Manifest
from ccrkit.index.model import RetrievalModel, check_embeddings, load_retrieval_model
from ccrkit.index.plan import (
    RecallOutOfReach,
    RecallProbe,
    Tuned,
    choose_config,
    index_bytes,
    scan_fallback,
    scan_needs,
    tune,
)
from ccrkit.index.store import ItemRecord, write_items
from ccrkit.index.vectors import VectorStore, VectorWriter, shortlist_search
from ccrkit.runs import DiskFullError, RunRecord, is_disk_full, now_iso

log = logging.getLogger(__name__)
MIN_SEPARATION = 0.05  # Youden's J below this: the threshold would separate nothing
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")
MAX_ID_LENGTH = 1024
ADD_CHUNK = 1 << 16  # store rows added to a trained index at a time (64 MiB at 256-d)


def build_index(
    model: RetrievalModel,
    gallery: Gallery,
    out: str | Path,
    config: IndexConfig | None = None,
    *,
    checkpoint: str | Path | None = None,
    data: str | None = None,
    split: str | None = None,
    force: bool = False,
    progress: bool = True,
    calibration: Calibration | None = None,
) -> Manifest:
    """Build the index of `gallery` with `model` in folder `out` and return its manifest.

    An existing `out` is replaced only with `force` (and only if it is a ccrkit index or empty).
    `calibration` (`ccrkit.index.calibrate`) gives the no-good-match threshold stored with it.
    """
    config = config or IndexConfig()
    out = Path(out)
    _check_destination(out, force)
    ids = _checked_ids(gallery.item_ids)
    root = Path(gallery.root).resolve()
    count, dim = len(ids), model.dim
    requested, config = config, choose_config(config, count, dim)  # too small a budget: fails now
    started = time.perf_counter()
    caption_langs: set[str] = set()
    with _staging_folder(out) as staging, _disk_full_names(out):
        records = _noting_langs(
            (_item_record(gallery, root, row, item_id) for row, item_id in enumerate(ids)),
            caption_langs,
        )
        write_items(staging / ITEMS_FILE, records)
        builder = IndexBuilder(config, count, dim)
        store = _encode_into(builder, model, gallery, staging / STORE_FILE, config, progress)
        index = builder.finish()
        try:
            tuned = _tune_or_measure(index, store, config)
        except RecallOutOfReach:
            # auto: no IVF setting reaches the target (vectors with little structure); a scan
            # (exact, or float16 where exact does not fit the budget) does
            fallback = scan_fallback(requested, count, dim)
            if fallback is None:
                raise
            config = fallback
            builder = IndexBuilder(config, count, dim)
            for _, chunk in store.chunks(ADD_CHUNK):
                builder.add(chunk)
            index = builder.finish()
            tuned = _tune_or_measure(index, store, config)
        write_faiss(index, staging / FAISS_FILE)
        manifest = Manifest(
            model_id=model.model_id, dim=dim, count=count, index_type=config.type,
            factory=builder.factory, media_root=str(root), languages=list(model.languages),
            search_params=tuned.search_params if tuned else config.kind.search_params(),
            checkpoint=None if checkpoint is None else str(checkpoint), data=data, split=split,
            recall_at_10=tuned.recall if tuned else None, built=now_iso(),
            build_seconds=round(time.perf_counter() - started, 3), store=STORE_FILE,
            rerank=tuned.rerank if tuned else 0, index_bytes=index_bytes(config, count, dim),
            score_threshold=calibration.threshold if calibration else None,
            calibration=calibration.to_dict() if calibration else {},
            caption_langs=sorted(caption_langs), plugins=list(config.plugins),
        )  # fmt: skip
        manifest.save(staging)
        _replace_folder(staging, out)
    return manifest


def _noting_langs(records: Iterator[ItemRecord], langs: set[str]) -> Iterator[ItemRecord]:
    """`records` as they stream into the item store, adding each one's caption languages to
    `langs` (the manifest lists them; a 10M-item gallery is never held as a list)."""
    for record in records:
        langs.update(record.lang_captions)
        yield record


def _encode_into(
    builder: IndexBuilder,
    model: RetrievalModel,
    gallery: Gallery,
    store_path: Path,
    config: IndexConfig,
    progress: bool,
) -> VectorStore:
    """Encode the gallery into the store (and into an index that needs no training), then train
    an IVF index on a sample of the store and fill it from the store; returns the store."""
    count, dim = builder.count, model.dim
    training = builder.training_rows()
    writer = VectorWriter(store_path, count, dim)
    for chunk in encoded_chunks(model, gallery, config.batch_size, progress):
        writer.append(chunk.astype(np.float16))
        if training is None:
            builder.add(chunk)
    writer.close()
    store = VectorStore(store_path, count, dim)
    if training is not None:
        builder.train(store.sample(training))
        with tqdm(total=count, unit="item", desc="filling the index", disable=not progress) as bar:
            for _, chunk in store.chunks(ADD_CHUNK):
                builder.add(chunk)
                bar.update(len(chunk))
    return store


def _tune_or_measure(index: object, store: VectorStore, config: IndexConfig) -> Tuned | None:
    """For an approximate index: its search knob tuned to `target_recall` (when set and the type
    has one) and its recall@10 against exact search; None for an exact index."""
    kind = config.kind
    if kind.exact:
        return None
    probe = RecallProbe(store, config.recall_queries, config.seed)

    def rerank_search(shortlist: int):  # rows of (queries, k) with that shortlist re-scored
        search = shortlist_search(index, store, shortlist)
        return lambda queries, k: search(queries, k)[1]

    if config.target_recall and kind.knob:  # flat16 has no knob: only measured
        way_out = scan_needs(len(store), store.vectors.shape[1])
        return tune(index, config, probe, rerank_search, way_out)
    recall = probe.recall(rerank_search(kind.rerank))
    return Tuned(kind.search_params(), kind.rerank, recall, 0.0)


def build_from_checkpoint(
    checkpoint: str | Path,
    data: str,
    data_root: str | Path | None,
    split: str,
    out: str | Path,
    config: IndexConfig,
    force: bool = False,
    progress: bool = True,
) -> Manifest:
    """`ccrkit index build`: load the run's model and the split's gallery, build, record the run."""
    model = load_retrieval_model(checkpoint)
    trained = getattr(model, "data_config", {})  # the run's own data settings, when it has them
    root = data_root or trained.get("root")
    gallery = open_gallery(data, root, split, trained.get("feature"))
    calibration = _validation_calibration(model, data, root, trained, config, progress)
    manifest = build_index(model, gallery, out, config, checkpoint=Path(checkpoint).resolve(),
                           data=data, split=split, force=force, progress=progress,
                           calibration=calibration)  # fmt: skip
    record = RunRecord(Path(out), "index build", to_dict(config), seed=config.seed)
    record.metrics = {"items": manifest.count, "recall_at_10": manifest.recall_at_10,
                      "build_seconds": manifest.build_seconds}  # fmt: skip
    record.status, record.ended = "ok", now_iso()
    record.save()
    return manifest


def calibrate_on(
    model: RetrievalModel, gallery: Gallery, batch_size: int, progress: bool = True
) -> Calibration | None:
    """The no-good-match threshold from a labelled split (a gallery with `labelled_captions`:
    every caption in the model's languages with its item's row); None without such captions."""
    labelled = getattr(gallery, "labelled_captions", None)
    queries = labelled(model.languages) if labelled is not None else []
    if not queries or len(gallery.item_ids) < 2:
        return None
    vectors = encode_gallery(model, gallery, batch_size, progress)
    found = calibrate(model, vectors, queries, getattr(gallery, "split", "gallery"))
    if found.kept + found.flagged - 1.0 < MIN_SEPARATION:
        log.warning(
            "note: no 'no good match' threshold: on split '%s' the model scores its captions' own "
            "items no higher than the best other items (kept %.0f%%, flagged %.0f%%)",
            found.split, 100 * found.kept, 100 * found.flagged,
        )  # fmt: skip
        return None
    return found


def _validation_calibration(
    model: RetrievalModel, data: str, root: str | Path | None, trained: dict,
    config: IndexConfig, progress: bool,
) -> Calibration | None:  # fmt: skip
    """The threshold from the run's validation split; a split that cannot be read only costs
    the threshold (the page then shows every result as it is), said on stderr."""
    split = trained.get("val_split", "val")
    if not config.calibrate or not split:
        return None
    try:
        gallery = open_gallery(data, root, split, trained.get("feature"))
    except (ValueError, OSError) as err:
        log.warning("note: no 'no good match' threshold: split '%s' of %s: %s", split, data, err)
        return None
    return calibrate_on(model, gallery, config.batch_size, progress)


def encode_gallery(
    model: RetrievalModel, gallery: Gallery, batch_size: int, progress: bool = True
) -> np.ndarray:
    """(n, dim) float32 unit vectors of the gallery's items, in gallery order, in memory."""
    chunks = list(encoded_chunks(model, gallery, batch_size, progress))
    return np.concatenate(chunks) if chunks else np.empty((0, model.dim), np.float32)


def encoded_chunks(
    model: RetrievalModel, gallery: Gallery, batch_size: int, progress: bool = True
) -> Iterator[np.ndarray]:
    """The gallery's items as float32 unit vectors, one batch at a time, in gallery order,
    checked against the gallery's item count."""
    count, dim = len(gallery.item_ids), model.dim
    filled = 0
    with tqdm(total=count, unit="item", desc="encoding gallery", disable=not progress) as bar:
        for batch in gallery.visual_batches(batch_size):
            size = len(batch)
            if filled + size > count:
                raise ValueError(f"the gallery yielded more than its {count} items")
            what = f"encode_visual of items {filled}..{filled + size - 1}"
            vectors = check_embeddings(model.encode_visual(batch), size, dim, what)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            yield vectors / np.maximum(norms, 1e-12)  # a no-op for a conforming model
            filled += size
            bar.update(size)
    if filled != count:
        raise ValueError(f"the gallery yielded {filled} items, its item_ids list {count}")


def _checked_ids(item_ids: list[str]) -> list[str]:
    ids = list(item_ids)
    if not ids:
        raise ValueError("the gallery is empty: nothing to index")
    seen: set[str] = set()
    for row, item_id in enumerate(ids):
        if not isinstance(item_id, str) or not item_id or len(item_id) > MAX_ID_LENGTH:
            raise ValueError(f"item #{row}: id must be a non-empty string of at most "
                             f"{MAX_ID_LENGTH} characters, got {item_id!r}")  # fmt: skip
        if item_id in seen:
            raise ValueError(f"item #{row}: duplicate item id {item_id!r}")
        seen.add(item_id)
    return ids


def _item_record(gallery: Gallery, root: Path, row: int, item_id: str) -> ItemRecord:
    media = tuple(_relative_media(root, item_id, Path(p)) for p in gallery.media_paths(item_id))
    captions = tuple(str(c) for c in gallery.captions(item_id))
    by_lang = getattr(gallery, "captions_by_language", None)  # optional: see Gallery
    translated = by_lang(item_id) if by_lang is not None else {}
    lang_captions = {lang: tuple(map(str, texts)) for lang, texts in translated.items() if texts}
    return ItemRecord(row, item_id, media, captions, lang_captions)


def _relative_media(root: Path, item_id: str, path: Path) -> str:
    """`path` as a root-relative POSIX path, after checking it is a picture inside the root."""
    resolved = (root / path).resolve()  # an absolute `path` replaces root
    if not resolved.is_relative_to(root):
        raise ValueError(f"item {item_id!r}: picture {path} lies outside the collection {root}")
    if resolved.suffix.lower() not in PICTURE_SUFFIXES:
        raise ValueError(
            f"item {item_id!r}: {path} is not a picture ({', '.join(PICTURE_SUFFIXES)})"
        )
    if not resolved.is_file():
        raise ValueError(f"item {item_id!r}: picture {path} not found")
    return resolved.relative_to(root).as_posix()


def _check_destination(out: Path, force: bool) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise FileExistsError(f"{out} exists and is not an index folder")
    if not force:
        raise FileExistsError(f"{out} already exists; pass --force to replace it")
    if not (out / MANIFEST).is_file() and any(out.iterdir()):
        raise FileExistsError(
            f"{out} is not a ccrkit index (no {MANIFEST}); refusing to replace it"
        )


@contextlib.contextmanager
def _staging_folder(out: Path) -> Iterator[Path]:
    """A fresh folder beside `out`, named after this process, removed unless renamed into place;
    the leftovers of killed builds of `out` are removed first."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(out)
    prefix = f".{out.name}.building-{os.getpid()}-"
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=prefix))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already after a successful rename


def _remove_leftovers(out: Path) -> None:
    """Staging folders of builds whose process is gone (killed), and old indexes moved aside by a
    replacement that finished (`out` exists again)."""
    for folder in out.parent.glob(f".{out.name}.building-*"):
        pid = folder.name.rsplit(".building-", 1)[1].split("-", 1)[0]
        if not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(folder, ignore_errors=True)
    if out.is_dir():
        for folder in out.parent.glob(f".{out.name}.old-*"):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


@contextlib.contextmanager
def _disk_full_names(out: Path) -> Iterator[None]:
    """A full disk anywhere in the build (FAISS, SQLite, the manifest) as one `DiskFullError`."""
    try:
        yield
    except Exception as err:
        if not is_disk_full(err):
            raise
        outcome = (
            "the previous index is unchanged" if out.exists() else "no index was written"
        ) + " and the unfinished build was removed"
        raise DiskFullError(out, "while writing the index", outcome) from err


def _replace_folder(staging: Path, out: Path) -> None:
    """Rename the finished build into place; an old index is moved aside first, then deleted."""
    old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
    if out.exists():
        os.rename(out, old)
    os.rename(staging, out)
    shutil.rmtree(old, ignore_errors=True)
