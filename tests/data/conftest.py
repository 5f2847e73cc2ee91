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
