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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from ccrkit.devices import resolve_device
from ccrkit.quiet import quiet_transformers
from ccrkit.registry import Registry

if TYPE_CHECKING:
    from PIL import Image


class ImageEncoder(Protocol):
    """Turns a batch of RGB images into a (B, D) float32 array."""

    name: str

    def encode(self, images: list[Image.Image]) -> np.ndarray: ...


FEATURE_ENCODERS: Registry[Callable[..., ImageEncoder]] = Registry("feature encoder")


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


MODEL_TYPES = {  # encoder -> the config.json model types its model class loads
    "clip": ("clip", "clip_vision_model"),
    "siglip": ("siglip", "siglip_vision_model", "siglip2", "siglip2_vision_model"),
}
# weights a checkpoint must hold for the encoder's output (else they would be random)
REQUIRED_WEIGHTS = {"clip": ("visual_projection.weight",)}


def _hf_encoder(
    model_class: str, output: str, name: str, model: str, device: torch.device, half: bool
) -> ImageEncoder:
    """A transformers vision tower `model_class` (from `model`) with its own image processor;
    `output` names the field of its forward's output that holds the features."""
    transformers = _transformers(name)
    source = model_source(model)
    with quiet_transformers(warnings=True):
        config = _loaded(name, model, transformers.AutoConfig.from_pretrained, source)
        _check_model_type(name, model, getattr(config, "model_type", "?"))
        processor = _loaded(name, model, transformers.AutoImageProcessor.from_pretrained, source)
        load = getattr(transformers, model_class).from_pretrained
        module, info = _loaded(name, model, load, source, config=_vision_config(config),
                               output_loading_info=True)  # fmt: skip
    missing = [key for key in REQUIRED_WEIGHTS.get(name, ()) if key in info["missing_keys"]]
    if missing:
        raise ValueError(
            f"{name} model '{model}' has no {', '.join(missing)}: it is a vision tower without "
            "CLIP's projection (its features would be random); use a full CLIP checkpoint or "
            "a CLIPVisionModelWithProjection"
        )

    def preprocess(images: list) -> torch.Tensor:
        return processor(images=images, return_tensors="pt")["pixel_values"]

    def forward(module: torch.nn.Module, pixels: torch.Tensor) -> torch.Tensor:
        return getattr(module(pixel_values=pixels), output)

    return TorchImageEncoder(name, module, preprocess, forward, device, half)


def model_source(model: str) -> str:
    """A local folder as an absolute path, or a hub id as it is; a path that names no folder is
    an error that says so (not the hub's complaint about the characters of a repo id)."""
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path.resolve())
    if path.exists():
        raise ValueError(f"--model {model}: not a folder; expected a model folder or a hub id")
    if model.startswith(("/", ".", "~")) or model.count("/") > 1 or "\\" in model:
        raise FileNotFoundError(f"--model {model}: folder not found")
    return model


def _loaded(name: str, model: str, loader: Callable, *args: Any, **kwargs: Any) -> Any:
    """`loader(*args, **kwargs)`, its failure as one line (RuntimeError: weights that do not fit
    the config, e.g. another projection width)."""
    try:
        return loader(*args, **kwargs)
    except (OSError, ValueError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"cannot load {name} model '{model}' (a local folder or a hub id): {first}"
        ) from None


def _vision_config(config: Any) -> Any:
    """The vision tower's config. A full CLIP config keeps the projection width at its top level
    (`projection_dim`); its vision part may lack it, and the projection would not fit."""
    vision = getattr(config, "vision_config", None)
    if vision is None:
        return config
    if hasattr(config, "projection_dim"):
        vision.projection_dim = config.projection_dim
    return vision


def _check_model_type(name: str, model: str, model_type: str) -> None:
    if model_type in MODEL_TYPES[name]:
        return
    fits = [other for other, types in MODEL_TYPES.items() if model_type in types]
    hint = f"use --encoder {fits[0]}" if fits else f"expected one of {', '.join(MODEL_TYPES[name])}"
    raise ValueError(f"--encoder {name}: '{model}' holds a '{model_type}' model; {hint}")


def _transformers(name: str) -> Any:
    try:
        # transformers on first use: importing it costs seconds that other commands need not pay
        import transformers
    except ImportError:
        raise ValueError(
            f"the {name} encoder needs the Hugging Face transformers library: "
            "pip install 'ccrkit[features]'"
        ) from None
    return transformers


@FEATURE_ENCODERS.register("clip")
def clip(model: str, device: torch.device, half: bool) -> ImageEncoder:
    """CLIP's image embedding (the projection output): the features NRCCR's image runs read."""
    return _hf_encoder("CLIPVisionModelWithProjection", "image_embeds", "clip", model, device, half)


@FEATURE_ENCODERS.register("siglip")
def siglip(model: str, device: torch.device, half: bool) -> ImageEncoder:
    """SigLIP's pooled vision output."""
    return _hf_encoder("SiglipVisionModel", "pooler_output", "siglip", model, device, half)
