"""Fixtures: the miniature NRCCR layouts (committed text, random features and pictures made here).

`tests/data/fixtures/VisualSearch/` holds real Multi30K lines (and invented MSCOCO/VATEX/MSR-VTT-CN
captions) under the official file names. The binary parts are generated per session under the
official names written out below, independently of the specs, so a wrong name in a spec fails.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ccrkit.data import write_bigfile, write_video2frames

FIXTURES = Path(__file__).parent / "fixtures" / "VisualSearch"

# Official feature files of the Multi30K release (methods.md §1.5): rows follow the id files.
MULTI30K_NPY = {
    "FeatureData/resnet_152/train-resnet_152-avgpool.npy": "FeatureData/train_id.txt",
    "FeatureData/resnet_152/val-resnet_152-avgpool.npy": "FeatureData/val_id.txt",
    "FeatureData/resnet_152/test_2016_flickr-resnet152-avgpool.npy": "FeatureData/resnet_152/test_id_2016.txt",
}
VIDEO_FEATURES = {"vatex": ("i3d_kinetics", 1024), "msrvttcn": ("resnext101-resnet152", 4096),
                  "msrvtt10kcn": ("resnext101-resnet152", 4096)}  # fmt: skip


def read_ids(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split()


def caption_items(folder: Path) -> list[str]:
    items = []
    for file in sorted(folder.glob("TextData/*.caption.txt")):
        for line in file.read_text(encoding="utf-8").splitlines():
            items.append(line.split("#", 1)[0].removesuffix(".jpg").removesuffix(".mp4"))
    return list(dict.fromkeys(items))


def write_image(path: Path, seed: int, size: tuple[int, int] = (40, 32)) -> None:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def build_visual_search(root: Path) -> Path:
    shutil.copytree(FIXTURES, root, dirs_exist_ok=True)
    rng = np.random.default_rng(0)
    multi30k = root / "multi30k"
    for npy, ids in MULTI30K_NPY.items():
        np.save(
            multi30k / npy,
            rng.standard_normal((len(read_ids(multi30k / ids)), 2048)).astype(np.float32),
        )
    for seed, item in enumerate(caption_items(multi30k)):
        write_image(multi30k / "flickr30k-images" / f"{item}.jpg", seed)
    for seed, item in enumerate(caption_items(root / "mscoco")):
        write_image(root / "mscoco" / "all_pics" / f"{item}.jpg", seed)
    for collection, (feature, dim) in VIDEO_FEATURES.items():
        videos = caption_items(root / collection)
        frames = {
            video: [f"{video}_{k}" for k in range(2 + i % 3)] for i, video in enumerate(videos)
        }
        ids = [frame for video in videos for frame in frames[video]]
        folder = root / collection / "FeatureData" / feature
        write_bigfile(folder, ids, rng.standard_normal((len(ids), dim)).astype(np.float32))
        write_video2frames(folder / "video2frames.txt", frames)
    return root


@pytest.fixture(scope="session")
def visual_search(tmp_path_factory) -> Path:
    """A read-only miniature VisualSearch tree; copy it (see `fresh_visual_search`) to break it."""
    return build_visual_search(tmp_path_factory.mktemp("vs") / "VisualSearch")


@pytest.fixture
def fresh_visual_search(tmp_path) -> Path:
    return build_visual_search(tmp_path / "VisualSearch")


# --- a tiny layout following the synthetic world's file contract (world-image, world-video) ---
LANGS = ("de", "fr", "cs", "zh", "ja")


def write_captions(
    text_dir: Path, prefix: str, split: str, items: list[str], per_item: int
) -> None:
    files = {"enc": f"{prefix}{split}_enc"}
    for xx in LANGS:
        files |= {f"enc2{xx}": f"{prefix}{split}_synthetic_enc2{xx}", f"enc2{xx}2enc": f"{prefix}{split}_synthetic_enc2{xx}2enc",
                  xx: f"{prefix}{split}_{xx}", f"{xx}2enc": f"{prefix}{split}_synthetic_{xx}2enc"}  # fmt: skip
    text_dir.mkdir(parents=True, exist_ok=True)
    for tag, name in files.items():
        lines = [
            f"{item}#{tag}#{n} caption {n} of {item} ({tag})\n"
            for item in items
            for n in range(per_item)
        ]
        (text_dir / f"{name}.caption.txt").write_text("".join(lines), encoding="utf-8")
    (text_dir / f"{prefix}{split}_synthetic_enc2de.noise.jsonl").write_text('{"ignored": true}\n')


def build_world(root: Path, dim: int = 6) -> Path:
    rng = np.random.default_rng(0)
    image, video = root / "worldimage", root / "worldvideo"
    splits = {"train": 3, "val": 2, "test": 2}
    start = 0
    frames: dict[str, list[str]] = {}
    for split, count in splits.items():
        items = [f"img{start + i:05d}" for i in range(count)]
        write_captions(image / "TextData", "worldimage", split, items, 5)
        feature = image / "FeatureData" / "worldcnn"
        feature.mkdir(parents=True, exist_ok=True)
        np.save(feature / f"{split}.npy", rng.standard_normal((count, dim)).astype(np.float32))
        (feature / f"{split}_id.txt").write_text("".join(f"{i}\n" for i in items))
        for item in items:
            (image / "ImageData").mkdir(exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(
                image / "ImageData" / f"{item}.png"
            )
        videos = [f"vid{start + i:05d}" for i in range(count)]
        write_captions(video / "TextData", "worldvideo", split, videos, 10)
        for i, vid in enumerate(videos):
            frames[vid] = [f"{vid}_{k}" for k in range(2 + i % 2)]
            for frame in frames[vid]:
                (video / "FrameData").mkdir(parents=True, exist_ok=True)
                Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(
                    video / "FrameData" / f"{frame}.png"
                )
        start += count
    ids = [frame for frame_ids in frames.values() for frame in frame_ids]
    folder = video / "FeatureData" / "worldcnn"
    write_bigfile(folder, ids, rng.standard_normal((len(ids), dim)).astype(np.float32))
    write_video2frames(folder / "video2frames.txt", frames)
    (folder / "video2frames.txt").write_text(repr(frames))  # the world writes a Python dict literal
    (root / "world.json").write_text("{}\n")  # `ccrkit world` writes it last: a finished world
    return root


@pytest.fixture(scope="session")
def world_root(tmp_path_factory) -> Path:
    return build_world(tmp_path_factory.mktemp("world"))
