"""Image encoders for feature extraction, registered by name.

- `clip`: `CLIPVisionModelWithProjection` (the projected `image_embeds`, the space CLIP text lives in);
- `siglip`: `SiglipVisionModel` (its pooled output);
- `worldcnn`: the synthetic world's frozen `world-clip`, registered here by
  `ccrkit.models.world_clip` (the data stage does not import models; `ccrkit features` imports
  that module, library users import it before asking for the name).

Hugging Face models load from a local directory or a hub id with `from_pretrained`, and images go
through the model's own image processor (`AutoImageProcessor`; without torchvision installed,
transformers uses its Pillow/numpy implementation). On a GPU the model runs in float16.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

from ccrkit.registry import Registry

if TYPE_CHECKING:
    from PIL import Image


class ImageEncoder(Protocol):
    """Turns a batch of RGB images into a (B, D) float32 array."""

    name: str

    def encode(self, images: list[Image.Image]) -> np.ndarray: ...


FEATURE_ENCODERS: Registry[Callable[..., ImageEncoder]] = Registry("feature encoder")


def resolve_device(device: str = "auto") -> torch.device:
    """`auto`: the first CUDA GPU when there is one, else the CPU; otherwise as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load_encoder(
    name: str, model: str, device: str = "auto", half: bool | None = None
) -> ImageEncoder:
    """The encoder `name` with weights from `model` (a directory or a hub id).

    `half=None` uses float16 exactly when the device is a GPU.
    """
    dev = resolve_device(device)
    return FEATURE_ENCODERS.get(name)(model, dev, dev.type == "cuda" if half is None else half)


class TorchImageEncoder:
    """A torch module behind a preprocessing function; batched, no gradients, optional fp16."""

    def __init__(
        self,
        name: str,
        module: torch.nn.Module,
        preprocess: Callable,
        output: Callable,
        device: torch.device,
        half: bool,
    ):
        self.name, self.device = name, device
        self.dtype = torch.float16 if half else torch.float32
        self.module = module.to(device=device, dtype=self.dtype).eval()
        self.preprocess, self.output = preprocess, output

    @torch.inference_mode()
    def encode(self, images: list[Image.Image]) -> np.ndarray:
        pixels = self.preprocess(images).to(self.device, self.dtype)
        features = self.output(self.module, pixels)
        return features.float().cpu().numpy()


def _hf_encoder(model_class: str, output: str, name: str) -> Callable[..., ImageEncoder]:
    def build(model: str, device: torch.device, half: bool) -> ImageEncoder:
        import transformers

        try:
            processor = transformers.AutoImageProcessor.from_pretrained(model)
            module = getattr(transformers, model_class).from_pretrained(model)
        except (OSError, ValueError) as err:
            raise ValueError(
                f"cannot load {name} model '{model}' (a local directory or a hub id): {err}"
            ) from None

        def preprocess(images: list) -> torch.Tensor:
            return processor(images=images, return_tensors="pt")["pixel_values"]

        def forward(module: torch.nn.Module, pixels: torch.Tensor) -> torch.Tensor:
            return getattr(module(pixel_values=pixels), output)

        return TorchImageEncoder(name, module, preprocess, forward, device, half)

    return build


FEATURE_ENCODERS.register("clip")(
    _hf_encoder("CLIPVisionModelWithProjection", "image_embeds", "clip")
)
FEATURE_ENCODERS.register("siglip")(_hf_encoder("SiglipVisionModel", "pooler_output", "siglip"))
