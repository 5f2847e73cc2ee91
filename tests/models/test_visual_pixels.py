"""The CLIP vision tower over pixels: preprocessing, frames, freezing, saved assets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tinymodels import tiny_clip_vision

from ccrkit.data.batch import VisualBatch
from ccrkit.models import BuildContext, build_visual_encoder


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_clip_vision(tmp_path_factory.mktemp("clip"))


def test_frozen_clip_encodes_images_and_frames_without_gradient(clip_dir: Path) -> None:
    encoder = build_visual_encoder({"name": "clip", "path": str(clip_dir)}, BuildContext()).train()
    assert not any(p.requires_grad for p in encoder.parameters())
    assert not encoder.backbone.training  # a frozen tower stays in eval mode
    images = torch.rand(2, 3, 40, 56)  # resized and centre-cropped to 32 x 32
    out = encoder(VisualBatch(images, torch.ones(2, 1, dtype=torch.bool), "pixels"))
    assert out.pooled.shape == (2, 16) and not out.pooled.requires_grad
    frames = torch.stack([images, images.flip(0)])  # (2 videos, 2 frames, 3, H, W)
    mask = torch.tensor([[True, False], [True, True]])
    video = encoder(VisualBatch(frames, mask, "pixels")).pooled
    assert torch.allclose(video[0], out.pooled[0], atol=1e-5)  # padding frame ignored
    assert torch.allclose(video[1], out.pooled.mean(0), atol=1e-5)


def test_trainable_clip_gets_gradients_and_rebuilds_from_assets(
    clip_dir: Path, tmp_path: Path
) -> None:
    section = {"name": "clip", "path": str(clip_dir), "trainable": True}
    encoder = build_visual_encoder(section, BuildContext())
    encoder(
        VisualBatch(torch.rand(2, 3, 32, 32), torch.ones(2, 1, dtype=torch.bool), "pixels")
    ).pooled.sum().backward()
    assert any(p.grad is not None for p in encoder.parameters())
    encoder.save_assets(tmp_path)
    again = build_visual_encoder({**section, "path": "gone"}, BuildContext(assets_dir=tmp_path))
    assert again.state_dict().keys() == encoder.state_dict().keys()
