"""Feature extraction: images -> per-image features (npy + ids), videos -> frames -> per-frame
features (BigFile + video2frames), written where a data spec expects them.

Encoders come from `FEATURE_ENCODERS` by name (`clip`, `siglip`; `worldcnn` once
`ccrkit.models.world_clip` registered it); the first two use transformers directly, and the data
stage never imports `ccrkit.models`.
"""

from ccrkit.data.features.encoders import FEATURE_ENCODERS, ImageEncoder, load_encoder
from ccrkit.data.features.extract import extract_for_spec, extract_images, extract_videos
from ccrkit.devices import resolve_device  # the one reading of --device

__all__ = [
    "FEATURE_ENCODERS", "ImageEncoder", "extract_for_spec", "extract_images", "extract_videos",
    "load_encoder", "resolve_device",
]  # fmt: skip
