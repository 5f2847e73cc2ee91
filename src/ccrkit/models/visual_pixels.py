"""Visual encoders over raw pixels: a CLIP vision tower, or the synthetic world's CNN.

Both read `VisualBatch(kind="pixels")`: images (B, 3, H, W) or frames (B, T, 3, H, W) with values in
[0, 1]. Frames are encoded one by one and mean-pooled over the real frames. Frozen towers (the
default; NRCCR's CLIP is effectively frozen, methods.md §1.1) run without gradient and stay in
eval mode even while the method trains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import MISSING
from PIL import Image
from torch import nn

from ccrkit.data.batch import VisualBatch
from ccrkit.data.media import to_pixels
from ccrkit.models.base import (
    VISUAL_ENCODERS,
    BuildContext,
    EncoderOutput,
    VisualEncoder,
    import_transformers,
    masked_mean,
)
from ccrkit.models.world_clip import load_world_clip

ASSETS_NAME = "visual"
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def encode_pixels(
    visual: VisualBatch, encode: Callable[[torch.Tensor], torch.Tensor]
) -> EncoderOutput:
    """Apply `encode` ((N, 3, H, W) -> (N, D)) to every image or frame, then pool frames."""
    if visual.kind != "pixels":
        raise ValueError(
            f"this visual encoder reads 'pixels' batches but the data gives '{visual.kind}'"
        )
    values = visual.values.float()
    if values.dim() == 4:
        pooled = encode(values)
        return EncoderOutput(
            pooled[:, None], torch.ones_like(pooled[:, :1], dtype=torch.bool), pooled
        )
    batch, frames = values.shape[:2]
    tokens = encode(values.flatten(0, 1)).view(batch, frames, -1)
    mask = visual.mask.bool()
    return EncoderOutput(tokens, mask, masked_mean(tokens, mask))


def resized_pixels(pixels: torch.Tensor, size: int) -> torch.Tensor:
    """(..., 3, H, W) in [0, 1] -> (..., 3, size, size) through `ccrkit.data.media.to_pixels`
    (PIL bicubic of the shorter side, centre crop), via 8-bit images: the same pixels as the data
    layer's loader and as Hugging Face's CLIP image processor (`ccrkit features --encoder clip`),
    so a model sees one picture the same way whichever path loaded it."""
    flat = pixels.detach().reshape(-1, *pixels.shape[-3:]).clamp(0.0, 1.0)
    as_bytes = (flat * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    resized = np.stack([to_pixels(Image.fromarray(image), size) for image in as_bytes])
    out = torch.from_numpy(resized).to(device=pixels.device, dtype=pixels.dtype)
    return out.reshape(*pixels.shape[:-3], 3, size, size)


class FrozenAware(VisualEncoder):
    """Keeps a frozen backbone in eval mode and out of autograd."""

    backbone: nn.Module
    trainable: bool

    def freeze(self, trainable: bool) -> None:
        self.trainable = trainable
        for param in self.backbone.parameters():
            param.requires_grad_(trainable)

    def train(self, mode: bool = True) -> FrozenAware:
        super().train(mode)
        if not self.trainable:
            self.backbone.eval()
        return self

    def run_backbone(self, pixels: torch.Tensor) -> torch.Tensor:
        with torch.set_grad_enabled(self.trainable and torch.is_grad_enabled()):
            return self.features(pixels)

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


@dataclass
class ClipConfig:
    path: str = MISSING  # a CLIP (or CLIP vision) model folder or hub id
    trainable: bool = False
    projection: bool = True  # use CLIP's image projection (the 512-d embedding of ViT-B/32)
    image_size: int | None = None  # default: the model's own input size
    mean: list[float] = field(default_factory=lambda: list(CLIP_MEAN))
    std: list[float] = field(default_factory=lambda: list(CLIP_STD))


@VISUAL_ENCODERS.register("clip")
class ClipVisionEncoder(FrozenAware):
    """CLIP preprocessing (bicubic resize of the short side, centre crop, CLIP mean/std) + tower.

    The resize and crop are the data layer's (`resized_pixels`): the pixels equal those of the
    Hugging Face image processor that `ccrkit features` uses for the same model."""

    config_class = ClipConfig

    def __init__(self, config: ClipConfig, backbone: nn.Module) -> None:
        super().__init__()
        self.config, self.backbone = config, backbone
        vision = backbone.config
        self.size = config.image_size or int(vision.image_size)
        self.dim = int(vision.projection_dim if config.projection else vision.hidden_size)
        self.register_buffer("mean", torch.tensor(config.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(config.std).view(1, 3, 1, 1), persistent=False)
        self.freeze(config.trainable)

    @classmethod
    def from_config(cls, config: ClipConfig, context: BuildContext) -> ClipVisionEncoder:
        hf: Any = import_transformers("visual encoder 'clip'")
        model_class = hf.CLIPVisionModelWithProjection if config.projection else hf.CLIPVisionModel
        saved = context.assets(ASSETS_NAME)
        try:
            if saved is not None:
                backbone = model_class(hf.CLIPVisionConfig.from_pretrained(saved))
            else:
                backbone = model_class.from_pretrained(config.path)
        except (OSError, ValueError) as err:
            raise ValueError(
                f"visual_encoder.path '{saved or config.path}': cannot load a CLIP vision model: "
                f"{str(err).splitlines()[0]}"
            ) from None
        return cls(config, backbone)

    def preprocess(self, pixels: torch.Tensor) -> torch.Tensor:
        """CLIP's normalisation of pixels in [0, 1]; pixels loaded at another size than the
        model's are first resized as the data layer does (`resized_pixels`)."""
        if tuple(pixels.shape[-2:]) != (self.size, self.size):
            pixels = resized_pixels(pixels, self.size)
        return (pixels.clamp(0.0, 1.0) - self.mean) / self.std

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        output = self.backbone(pixel_values=self.preprocess(pixels))
        return output.image_embeds if self.config.projection else output.pooler_output

    def forward(self, visual: VisualBatch) -> EncoderOutput:
        return encode_pixels(visual, self.run_backbone)

    def save_assets(self, directory: Path) -> None:
        self.backbone.config.save_pretrained(Path(directory) / ASSETS_NAME)


@dataclass
class WorldCnnConfig:
    dir: str = MISSING  # the synthetic world's backbone folder
    trainable: bool = False


@VISUAL_ENCODERS.register("world_cnn")
class WorldCnnEncoder(FrozenAware):
    """The synthetic world's frozen `world-clip` (`ccrkit.models.world_clip`) over raw pixels:
    `dir` is a folder with its `backbone.safetensors` (e.g. the world's FeatureData/worldcnn)."""

    config_class = WorldCnnConfig

    def __init__(self, config: WorldCnnConfig, backbone: Any) -> None:
        super().__init__()
        self.config, self.backbone, self.dim = config, backbone, int(backbone.dim)
        self.freeze(config.trainable)

    @classmethod
    def from_config(cls, config: WorldCnnConfig, context: BuildContext) -> WorldCnnEncoder:
        return cls(config, load_world_clip(config.dir))

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.backbone(pixels)

    def forward(self, visual: VisualBatch) -> EncoderOutput:
        return encode_pixels(visual, self.run_backbone)
