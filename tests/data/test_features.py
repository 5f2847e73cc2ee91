"""Feature extraction through the same code path a real model takes (tiny random models on disk)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from ccrkit.cli.main import main
from ccrkit.data import (
    BigFile,
    DataError,
    check_data,
    decode_video,
    load_data_spec,
    load_image,
    read_video2frames,
)
from ccrkit.data.features import FEATURE_ENCODERS, extract_images, load_encoder
from ccrkit.models.world_clip import WorldClip, save_world_clip, world_clip_features

transformers = pytest.importorskip("transformers")
av = pytest.importorskip("av")

SMALL = {
    "hidden_size": 16,
    "intermediate_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "image_size": 32,
    "patch_size": 16,
}


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip")
    torch.manual_seed(0)
    config = transformers.CLIPVisionConfig(**SMALL, projection_dim=8)
    transformers.CLIPVisionModelWithProjection(config).save_pretrained(folder)
    transformers.CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def siglip_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("siglip")
    torch.manual_seed(0)
    transformers.SiglipVisionModel(transformers.SiglipVisionConfig(**SMALL)).save_pretrained(folder)
    transformers.SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def reference(model_dir, model_class: str, output: str, images) -> np.ndarray:
    """What the model itself gives for these images, computed without ccrkit."""
    processor = transformers.AutoImageProcessor.from_pretrained(model_dir)
    model = getattr(transformers, model_class).from_pretrained(model_dir).eval()
    with torch.no_grad():
        return getattr(
            model(pixel_values=processor(images=images, return_tensors="pt")["pixel_values"]),
            output,
        ).numpy()


def write_video(path, frames: int = 12, rate: int = 4, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for _ in range(frames):
            frame = av.VideoFrame.from_ndarray(
                rng.integers(0, 256, (24, 32, 3), dtype=np.uint8), format="rgb24"
            )
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.mark.parametrize(
    ("encoder", "model_class", "output"),
    [
        ("clip", "CLIPVisionModelWithProjection", "image_embeds"),
        ("siglip", "SiglipVisionModel", "pooler_output"),
    ],
)
def test_image_features_round_trip(
    fresh_visual_search, request, encoder, model_class, output, capsys
):
    model_dir = request.getfixturevalue(f"{encoder}_dir")
    root = fresh_visual_search
    argv = [
        "features",
        "--data",
        "mscoco-ja",
        "--root",
        str(root),
        "--feature",
        f"{encoder}_tiny",
        "--encoder",
        encoder,
        "--model",
        str(model_dir),
        "--batch-size",
        "2",
    ]
    assert main(argv) == 0
    folder = root / "mscoco" / "FeatureData" / f"{encoder}_tiny"
    # named as the official image trainer reads any feature: rows follow the official id list
    ids = (root / "mscoco" / "FeatureData" / "ja_val_id.txt").read_text().split()
    images = [load_image(root / "mscoco" / "all_pics" / f"{item}.jpg") for item in ids]
    np.testing.assert_allclose(
        np.load(folder / f"val-{encoder}_tiny-avgpool.npy"),
        reference(model_dir, model_class, output, images),
        rtol=1e-4,
        atol=1e-5,
    )
    record = json.loads((folder / "run.json").read_text())
    assert record["status"] == "ok" and record["config"]["encoder"] == encoder
    assert check_data(load_data_spec("mscoco-ja"), root, feature=f"{encoder}_tiny").ok
    capsys.readouterr()
    assert main(argv) == 0 and capsys.readouterr().out.count("complete") == 3


def test_existing_other_output_needs_force(fresh_visual_search, clip_dir, capsys):
    root = fresh_visual_search
    argv = [
        "features",
        "--data",
        "mscoco-ja",
        "--root",
        str(root),
        "--feature",
        "c",
        "--encoder",
        "clip",
        "--model",
        str(clip_dir),
        "--splits",
        "test",
    ]
    assert main(argv) == 0
    (root / "mscoco/FeatureData/c/ja_test_id.txt").write_text("other\n")
    assert main(argv) == 2 and "pass --force" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0


class Counting:
    """Wraps an encoder; optionally fails on the n-th call (an interrupted run)."""

    def __init__(self, inner, fail_on: int | None = None):
        self.inner, self.fail_on, self.calls, self.images = inner, fail_on, 0, 0
        self.name = inner.name

    def encode(self, images):
        self.calls += 1
        if self.calls == self.fail_on:
            raise KeyboardInterrupt
        self.images += len(images)
        return self.inner.encode(images)


def test_interrupted_extraction_resumes_where_it_stopped(visual_search, clip_dir, tmp_path):
    items = [
        p.stem for p in sorted((visual_search / "multi30k" / "flickr30k-images").glob("*.jpg"))
    ][:7]

    def path(item):
        return visual_search / "multi30k" / "flickr30k-images" / f"{item}.jpg"

    encoder = load_encoder("clip", str(clip_dir), "cpu")
    out, ids = tmp_path / "f" / "x.npy", tmp_path / "f" / "x_id.txt"
    with pytest.raises(KeyboardInterrupt):
        extract_images(items, path, Counting(encoder, fail_on=3), out, ids, batch_size=2)
    assert not out.exists() and len(list((tmp_path / "f" / ".x.npy.partial").glob("*.json"))) == 2
    second = Counting(encoder)
    assert extract_images(items, path, second, out, ids, batch_size=2) == "written"
    assert second.images == 3  # 4 of 7 were done before the interruption
    full = tmp_path / "g.npy"
    extract_images(items, path, encoder, full, tmp_path / "g_id.txt", batch_size=7)
    np.testing.assert_allclose(np.load(out), np.load(full), rtol=1e-5, atol=1e-6)
    assert ids.read_text().split() == items and not (tmp_path / "f" / ".x.npy.partial").exists()


def test_video_frames_extracted_at_the_requested_rate(fresh_visual_search, clip_dir):
    root = fresh_visual_search
    videos = sorted(
        {
            line.split("#")[0]
            for f in (root / "vatex" / "TextData").glob("*.txt")
            for line in f.read_text(encoding="utf-8").splitlines()
        }
    )
    for seed, video in enumerate(videos):
        write_video(root / "vatex" / "VideoData" / f"{video}.mp4", frames=12, rate=4, seed=seed)
    argv = [
        "features",
        "--data",
        "vatex-zh",
        "--root",
        str(root),
        "--feature",
        "clip_tiny",
        "--encoder",
        "clip",
        "--model",
        str(clip_dir),
        "--fps",
        "2",
    ]
    assert main(argv) == 0
    folder = root / "vatex" / "FeatureData" / "clip_tiny"
    store = BigFile(folder)
    v2f = read_video2frames(folder / "video2frames.txt")
    assert set(v2f) == set(videos) and all(
        len(frames) == 6 for frames in v2f.values()
    )  # 3 s at 2 fps
    assert store.shape == (6 * len(videos), 8) and v2f[videos[0]][2] == f"{videos[0]}_2"
    frames = decode_video(root / "vatex" / "VideoData" / f"{videos[0]}.mp4", fps=2)
    expected = reference(clip_dir, "CLIPVisionModelWithProjection", "image_embeds", frames)
    np.testing.assert_allclose(store.read(v2f[videos[0]]), expected, rtol=1e-4, atol=1e-5)
    assert check_data(load_data_spec("vatex-zh"), root, feature="clip_tiny").ok


def test_video_pyav_cannot_decode(tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    with pytest.raises(DataError) as info:
        decode_video(bad)
    assert info.value.path == str(bad) and "PyAV cannot decode this video" in str(info.value)


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_unreadable_or_truncated_image(tmp_path, damage):
    from PIL import Image

    path = tmp_path / "img.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
        path
    )
    path.write_bytes(path.read_bytes()[:300] if damage == "truncate" else b"not an image at all")
    with pytest.raises(DataError) as info:
        load_image(path)
    assert info.value.path == str(path)
    assert ("truncated" if damage == "truncate" else "not an image Pillow can read") in str(
        info.value
    )


def test_unknown_encoder_and_missing_model(tmp_path):
    with pytest.raises(
        ValueError, match="unknown feature encoder 'dino'; known: clip, siglip, worldcnn"
    ):
        load_encoder("dino", "x")
    with pytest.raises(FileNotFoundError, match="no-such-model: folder not found"):
        load_encoder("clip", str(tmp_path / "no-such-model"))


def test_world_cnn_feature_encoder_is_the_registered_world_clip(world_root, tmp_path):
    """`worldcnn` is registered by `ccrkit.models.world_clip` (data does not import models) and
    encodes images as they are, through the saved world-clip."""
    assert FEATURE_ENCODERS.get("worldcnn") is world_clip_features
    torch.manual_seed(0)
    model = WorldClip(dim=8, width=4, image_size=8).eval()  # the fixture draws 8x8 pictures
    save_world_clip(model, tmp_path / "worldcnn", {})
    encoder = load_encoder("worldcnn", str(tmp_path / "worldcnn"), "cpu")
    image = load_image(world_root / "worldimage" / "ImageData" / "img00000.png")
    features = encoder.encode([image, image])
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        expected = model(pixels)[0].numpy()
    np.testing.assert_allclose(features[0], expected, rtol=1e-5, atol=1e-6)
    assert features.shape == (2, 8)


def test_world_cnn_features_match_the_world_release(tiny_world, tmp_path):
    """Re-extract the world's images with its own backbone; rows must equal FeatureData/worldcnn."""
    root = tmp_path / "world"
    shutil.copytree(tiny_world, root)
    spec = load_data_spec("world-image")
    folder = root / "worldimage" / "FeatureData" / "worldcnn"
    assert (
        main(
            [
                "features",
                "--data",
                "world-image",
                "--root",
                str(root),
                "--feature",
                "worldcnn_again",
                "--encoder",
                "worldcnn",
                "--model",
                str(folder),
            ]
        )
        == 0
    )
    again = root / "worldimage" / "FeatureData" / "worldcnn_again"
    np.testing.assert_allclose(np.load(again / "test.npy"), np.load(folder / "test.npy"), rtol=1e-4)
    assert check_data(spec, root, feature="worldcnn_again").ok
