"""`world-clip`: the synthetic world's visual backbone, a registered visual model.

The world pretrains it contrastively on its own corpus of pictures and English captions
(`ccrkit.world.clip`) and freezes it; its features are the world's `worldcnn` features. Like any
other model it is used from here: the `world_cnn` visual encoder (raw pixels through the frozen
network, `ccrkit.models.registry`) and the `worldcnn` feature encoder of `ccrkit.data.features`
(registered below: `data` may not import `models`, so the model registers itself into the data
stage's registry, as a plug-in does; `ccrkit features` imports `ccrkit.models`).

A folder holds `backbone.safetensors` (the weights) and `backbone.json` (the architecture's
arguments plus what the world recorded about its training).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save
from torch import nn

from ccrkit.data.features.encoders import FEATURE_ENCODERS, ImageEncoder, TorchImageEncoder
from ccrkit.data.media import to_pixels
from ccrkit.runs import write_atomic

WEIGHTS, CONFIG = "backbone.safetensors", "backbone.json"
ARCHITECTURE = "world-clip"


def conv_block(
    channels_in: int, channels_out: int, kernel: int = 3, stride: int = 1
) -> list[nn.Module]:
    padding = kernel // 2 if stride == 1 else 0
    return [
        nn.Conv2d(channels_in, channels_out, kernel, stride, padding, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(),
    ]


class WorldClip(nn.Module):
    """(B, 3, H, W) pixels in [0, 1] -> (B, dim) features.

    Two coordinate channels are appended to the pixels (CoordConv), so that where a thing is
    becomes as easy to read as what colour it is. A 4x4 patch embedding (stride 4: textures and
    edges of one patch), a 3x3 convolution over the patch grid, a 2x2 max-pool and another 3x3
    convolution end at a coarse grid (H/8 x W/8) that is flattened, not pooled, before the
    projection: the features keep which object is where, so captions about relations and
    positions can be matched. Measured against a CNN that starts with full-resolution 3x3
    convolutions (five times the multiply-adds), it retrieves as well after the same
    pretraining (docs/world.md).
    """

    def __init__(self, dim: int = 256, width: int = 16, image_size: int = 64) -> None:
        super().__init__()
        self.config = {"dim": dim, "width": width, "image_size": image_size}
        self.dim = dim
        w = width
        self.convs = nn.Sequential(
            *conv_block(5, 2 * w, kernel=4, stride=4),
            *conv_block(2 * w, 2 * w), nn.MaxPool2d(2),
            *conv_block(2 * w, 4 * w),
        )  # fmt: skip
        grid = image_size // 8
        self.project = nn.Linear(4 * w * grid * grid, dim)
        self.to(memory_format=torch.channels_last)  # a third faster convolutions on CPU

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        b, _, h, w = pixels.shape
        ys = torch.linspace(-1, 1, h, device=pixels.device).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=pixels.device).view(1, 1, 1, w).expand(b, 1, h, w)
        x = torch.cat([(pixels - 0.5) / 0.25, xs, ys], dim=1)
        x = self.convs(x.contiguous(memory_format=torch.channels_last))
        return self.project(x.flatten(1))


def pixels_from_uint8(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float in [0, 1]: the model's preprocessing."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0


def load_pixels(paths: Sequence[str | Path]) -> torch.Tensor:
    """PNG files -> (N, 3, H, W) float tensor in [0, 1], ready for the model."""
    arrays = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    return pixels_from_uint8(np.stack(arrays))


@torch.no_grad()
def encode(
    model: nn.Module, inputs: torch.Tensor | np.ndarray, batch_size: int = 512
) -> np.ndarray:
    """Features of many inputs, in batches, as float32 numpy (on the model's device). A uint8
    (N, H, W, 3) array of pictures is converted batch by batch, never all at once."""
    model.eval()
    device = next(model.parameters()).device
    parts = []
    for i in range(0, len(inputs), batch_size):
        batch = inputs[i : i + batch_size]
        if isinstance(batch, np.ndarray):
            batch = pixels_from_uint8(batch)
        parts.append(model(batch.to(device)).cpu())
    return torch.cat(parts).numpy().astype(np.float32)


def save_world_clip(model: WorldClip, directory: str | Path, extra: dict[str, Any]) -> None:
    """Weights, then the JSON that names them (written atomically, last)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    write_atomic(directory / WEIGHTS, save(state))  # a full disk: one error, no partial file
    meta = {"architecture": ARCHITECTURE, **model.config, **extra}
    write_atomic(directory / CONFIG, (json.dumps(meta, indent=2) + "\n").encode())


def load_world_clip(directory: str | Path, device: str = "cpu") -> WorldClip:
    """The frozen model saved in `directory` (eval mode, no gradients)."""
    directory = Path(directory)
    for name in (WEIGHTS, CONFIG):
        if not (directory / name).is_file():
            raise FileNotFoundError(f"{directory / name} not found: not a world-clip model folder")
    meta = json.loads((directory / CONFIG).read_text(encoding="utf-8"))
    if meta.get("architecture") != ARCHITECTURE:
        raise ValueError(
            f"{directory / CONFIG}: architecture {meta.get('architecture')!r}, expected "
            f"{ARCHITECTURE!r} (a world generated by an older ccrkit: generate it again)"
        )
    model = WorldClip(meta["dim"], meta["width"], meta["image_size"])
    model.load_state_dict(load_file(str(directory / WEIGHTS), device=device))
    model.to(device).eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


@FEATURE_ENCODERS.register("worldcnn")
def world_clip_features(model: str, device: torch.device, half: bool) -> ImageEncoder:
    """`ccrkit features --encoder worldcnn --model DIR`: the frozen world-clip, images as they are."""
    module = load_world_clip(model)

    def preprocess(images: list) -> torch.Tensor:
        return torch.from_numpy(np.stack([to_pixels(image, size=None) for image in images]))

    def forward(network: nn.Module, pixels: torch.Tensor) -> torch.Tensor:
        return network(pixels)

    return TorchImageEncoder("worldcnn", module, preprocess, forward, device, half)
