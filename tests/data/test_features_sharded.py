"""`ccrkit features` under torchrun: ranks share the items, rank 0 assembles the single-process
files; a rank's share resumes; a share of another rank count is refused."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.distributed as dist

from ccrkit.cli.main import main
from ccrkit.data.features import extract_images, extract_videos
from ccrkit.ranks import DistEnv

transformers = pytest.importorskip("transformers")


class Encoder:
    """A stand-in image encoder: mean colour and size of each image, counted."""

    name = "stand-in"

    def __init__(self, fail_after: int | None = None) -> None:
        self.images, self.fail_after = 0, fail_after

    def encode(self, images: list) -> np.ndarray:
        if self.fail_after is not None and self.images >= self.fail_after:
            raise KeyboardInterrupt  # an interrupted rank
        self.images += len(images)
        return np.stack([[*np.asarray(i, np.float32).mean((0, 1)), i.size[0]] for i in images])


@pytest.fixture
def one_process_group():
    """A gloo group of one, so that two ranks' calls can run one after the other in this
    process (their barriers then wait for nobody)."""
    dist.init_process_group("gloo", rank=0, world_size=1, store=dist.HashStore())
    yield
    dist.destroy_process_group()


def image_paths(visual_search):
    folder = visual_search / "multi30k" / "flickr30k-images"
    items = [p.stem for p in sorted(folder.glob("*.jpg"))][:7]
    return items, lambda item: folder / f"{item}.jpg"


def test_two_shares_assemble_to_the_one_process_file_and_resume(
    visual_search, tmp_path, one_process_group
):
    items, path = image_paths(visual_search)
    single = tmp_path / "single.npy"
    extract_images(items, path, Encoder(), single, tmp_path / "single_id.txt", batch_size=2)
    out, ids = tmp_path / "f" / "x.npy", tmp_path / "f" / "x_id.txt"
    with pytest.raises(KeyboardInterrupt):  # rank 1 (items 1, 3, 5) stops after one batch
        extract_images(items, path, Encoder(2), out, ids, batch_size=2, env=DistEnv(1, 2))
    resumed = Encoder()
    assert extract_images(items, path, resumed, out, ids, 2, env=DistEnv(1, 2)) == "written"
    assert resumed.images == 1 and not out.exists()  # only its last item; rank 0 writes
    with pytest.raises(ValueError, match=r"unfinished run with 2 ranks, and this run has 3"):
        extract_images(items, path, Encoder(), out, ids, 2, env=DistEnv(0, 3))
    with pytest.raises(ValueError, match=r"unfinished run with 2 ranks, and this run has 1"):
        extract_images(items, path, Encoder(), out, ids, 2)
    assert extract_images(items, path, Encoder(), out, ids, 2, env=DistEnv(0, 2)) == "written"
    assert out.read_bytes() == single.read_bytes() and ids.read_text().split() == items
    assert not (tmp_path / "f" / ".x.npy.partial").exists()


def test_video_shares_are_written_in_the_videos_order(tmp_path, one_process_group):
    frames = {f"v{k}": [(f"v{k}_{j}", _picture(k + j)) for j in range(k % 3 + 1)] for k in range(5)}
    videos = list(frames)
    extract_videos(videos, frames.__getitem__, Encoder(), tmp_path / "single", chunk_rows=2)
    for rank in (1, 0):  # rank 1's chunks come first on disk; the file follows `videos`
        extract_videos(videos, frames.__getitem__, Encoder(), tmp_path / "sharded", chunk_rows=2,
                       env=DistEnv(rank, 2))  # fmt: skip
    for name in ("feature.bin", "id.txt", "shape.txt", "video2frames.txt"):
        assert (tmp_path / "sharded" / name).read_bytes() == (
            tmp_path / "single" / name
        ).read_bytes()


def _picture(seed: int):
    from PIL import Image

    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (8, 12, 3), dtype=np.uint8))


def test_torchrun_two_ranks_write_the_bytes_one_process_writes(fresh_visual_search, tmp_path):
    """Byte-identical needs an image's features not to depend on its batch: one image per
    batch and one thread in both runs (float sums over other shapes or thread splits round
    differently)."""
    torch.manual_seed(0)
    config = transformers.CLIPVisionConfig(hidden_size=16, intermediate_size=32,
                                           num_hidden_layers=1, num_attention_heads=2,
                                           image_size=32, patch_size=16, projection_dim=8)  # fmt: skip
    transformers.CLIPVisionModelWithProjection(config).save_pretrained(tmp_path / "clip")
    transformers.CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(tmp_path / "clip")
    two = tmp_path / "two"
    shutil.copytree(fresh_visual_search, two)

    def argv(root):
        return ["features", "--data", "mscoco-ja", "--root", str(root), "--feature", "c",
                "--encoder", "clip", "--model", str(tmp_path / "clip"), "--batch-size", "1",
                "--device", "cpu"]  # fmt: skip

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(argv(fresh_visual_search)) == 0
    finally:
        torch.set_num_threads(threads)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               f"--master_port={port}", "--master_addr=127.0.0.1", "-m", "ccrkit", *argv(two)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    written = sorted((fresh_visual_search / "mscoco" / "FeatureData" / "c").iterdir())
    names = [p.name for p in written if p.name != "run.json"]
    # the official tester's file names (configs/data/mscoco-ja.yaml)
    assert {"train-c-avgpool.npy", "val-c-avgpool.npy",
            "test_2016_flickr-resnet152-avgpool.npy"} <= set(names)  # fmt: skip
    for name in names:
        sharded = two / "mscoco" / "FeatureData" / "c" / name
        assert (
            sharded.read_bytes()
            == (fresh_visual_search / "mscoco/FeatureData/c" / name).read_bytes()
        )
