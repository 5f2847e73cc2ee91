"""One CLIP preprocessing: the features of `ccrkit features --encoder clip` (Hugging Face's image
processor) and the `clip` visual encoder of a run see the same pixels, and give the same
embedding, whether the loader already resized a picture or left it at its own size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from PIL import Image
from tinymodels import tiny_clip_vision

from ccrkit.data.batch import VisualBatch
from ccrkit.data.features import load_encoder
from ccrkit.data.media import to_pixels
from ccrkit.models import BuildContext, build_visual_encoder

SIZES = [(50, 37), (37, 50), (45, 30), (32, 32)]  # (width, height)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tiny_clip_vision(tmp_path_factory.mktemp("clip"))
    transformers.CLIPImageProcessor(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(folder)
    return folder


def pictures() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in SIZES]


def test_the_processor_and_the_encoder_see_the_same_pixels(clip_dir: Path) -> None:
    extractor = load_encoder("clip", str(clip_dir), device="cpu", half=False)
    encoder = build_visual_encoder({"name": "clip", "path": str(clip_dir)}, BuildContext())
    for image in pictures():
        processed = extractor.preprocess([image])[0]
        loaded = encoder.preprocess(torch.from_numpy(to_pixels(image, 32))[None])[0]
        native = encoder.preprocess(torch.from_numpy(to_pixels(image, None))[None])[0]
        assert processed.shape == loaded.shape == native.shape == (3, 32, 32)
        assert torch.allclose(processed, loaded, atol=1e-6)
        assert torch.allclose(processed, native, atol=1e-6)


def test_the_same_picture_gets_the_same_embedding_on_both_paths(clip_dir: Path) -> None:
    images = pictures()
    features = load_encoder("clip", str(clip_dir), device="cpu", half=False).encode(images)
    encoder = build_visual_encoder({"name": "clip", "path": str(clip_dir)}, BuildContext())
    pixels = torch.from_numpy(np.stack([to_pixels(image, 32) for image in images]))
    pooled = encoder(VisualBatch(pixels, torch.ones(len(images), 1, dtype=torch.bool), "pixels"))
    assert np.allclose(pooled.pooled.detach().numpy(), features, atol=1e-5)
