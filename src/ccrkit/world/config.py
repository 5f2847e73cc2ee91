"""`WorldConfig`: everything that decides what `ccrkit world` generates (its hash names the world)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from omegaconf import OmegaConf

from ccrkit.config import NOT_NAMING, hash_view, stable_hash, to_dict

# Bump when the generator's output changes for the same config, so old worlds are not reused.
GENERATOR_VERSION = 3
TARGET_LANGUAGES = ("de", "fr", "cs", "zh", "ja")
NOISE_TYPES = (
    "wrong_sense", "dropped_word", "untranslated", "agreement", "word_order", "hallucination",
    "wrong_attribute",
)  # fmt: skip


def _check_sizes(section: str, **sizes: int) -> None:
    for name, value in sizes.items():
        if value < 1:
            raise ValueError(f"{section}.{name} must be >= 1, got {value}")


@dataclass
class ImageWorld:
    train: int = 4000
    val: int = 500
    test: int = 1000
    captions: int = 5  # human captions per image and language (Multi30K task 2, MSCOCO)
    size: int = 64  # pixels per side
    max_objects: int = 3
    # relative frequency of pictures with 1, 2, 3 objects (the first max_objects weights count)
    object_weights: list[float] = field(default_factory=lambda: [0.5, 1.0, 1.0])
    supersample: int = 4  # anti-aliasing: draw at size*supersample, then reduce

    def __post_init__(self) -> None:
        _check_sizes("image", train=self.train, val=self.val, test=self.test,
                     captions=self.captions, size=self.size, max_objects=self.max_objects,
                     supersample=self.supersample)  # fmt: skip
        if self.max_objects > 3:
            raise ValueError(f"image.max_objects must be 1, 2 or 3, got {self.max_objects}")
        weights = self.object_weights[: self.max_objects]
        if len(weights) < self.max_objects or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(
                f"image.object_weights needs {self.max_objects} weights >= 0 with a positive sum, "
                f"got {self.object_weights}"
            )


@dataclass
class VideoWorld:
    train: int = 1000
    val: int = 300
    test: int = 500
    captions: int = 10  # human captions per video and language (VATEX)
    size: int = 64
    frames: int = 8
    supersample: int = 3

    def __post_init__(self) -> None:
        _check_sizes("video", train=self.train, val=self.val, test=self.test,
                     captions=self.captions, size=self.size, supersample=self.supersample)  # fmt: skip
        if not 8 <= self.frames <= 16:
            raise ValueError(f"video.frames must be between 8 and 16, got {self.frames}")


@dataclass
class MTWorld:
    """The synthetic MT: `noise` is the rate of every noise type for en->xx, `back_noise` for
    xx->en; `weights` scale single types (rate of type t = noise * weights[t], capped at 1)."""

    # 0.08: German MT BLEU vs human near real MT on Multi30K test 2016 (docs/world.md)
    noise: float = 0.08
    back_noise: float = 0.05
    weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(NOISE_TYPES, 1.0))
    bleu_split: str = "test"  # the split whose MT is scored with sacrebleu

    def __post_init__(self) -> None:
        for name in ("noise", "back_noise"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"mt.{name} must be in [0, 1], got {value}")
        unknown = sorted(set(self.weights) - set(NOISE_TYPES))
        if unknown:
            raise ValueError(
                f"mt.weights: unknown noise type(s) {', '.join(unknown)}; allowed: {', '.join(NOISE_TYPES)}"
            )
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("mt.weights must be >= 0")
        if self.bleu_split not in ("train", "val", "test"):
            raise ValueError(f"mt.bleu_split must be train, val or test, got {self.bleu_split!r}")


@dataclass
class CaptionWorld:
    """What one human caption chooses to say: the share of image captions of each kind, and the
    probability of saying each attribute of a mentioned object. The oracle (world.json) measures
    what these buy: how many test items a caption still fits."""

    # image captions about two objects and how they relate (where some pair clearly does)
    relation: float = 0.7
    conjunction: float = 0.15  # image captions about two objects joined by 'and'; the rest: one
    colour: float = 0.9  # in one-object image captions the colour is always said
    size: float = 0.6
    texture: float = 0.6  # of a striped or dotted object (plain is never said)
    position: float = 0.9  # an image object's cell of the 3x3 grid, in captions without a relation
    count: float = 0.8  # one-object image captions that say how many objects the picture holds

    def __post_init__(self) -> None:
        for name in ("relation", "conjunction", "colour", "size", "texture", "position", "count"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"captions.{name} must be in [0, 1], got {value}")
        if self.relation + self.conjunction > 1.0:
            raise ValueError(
                f"captions.relation + captions.conjunction must be <= 1, got {self.relation} + {self.conjunction}"
            )


@dataclass
class BackboneWorld:
    """`world-clip`, the frozen English-only visual backbone (the world's CLIP): pretrained
    contrastively on `images` pictures of its own scenes with `captions` English captions each,
    never on the benchmark, then frozen. `probe_epochs`: the English model trained on the
    benchmark's train captions over the frozen features that measures it (world.json)."""

    images: int = 20000
    captions: int = 5
    dim: int = 256
    width: int = 16
    epochs: int = 8
    batch_size: int = 256
    lr: float = 2e-3
    temperature: float = 0.07
    text_width: int = 64  # the throwaway caption encoder that teaches the visual side
    probe_epochs: int = 8
    device: str = "cpu"
    # torch threads of its training: one, as world-mbert trains on the other core meanwhile
    threads: int = 1

    def __post_init__(self) -> None:
        _check_sizes("backbone", images=self.images, captions=self.captions, dim=self.dim,
                     width=self.width, epochs=self.epochs, batch_size=self.batch_size,
                     text_width=self.text_width, probe_epochs=self.probe_epochs,
                     threads=self.threads)  # fmt: skip


@dataclass
class TextModelWorld:
    """`world-mbert`, the world's mBERT: a BERT masked LM (transformers' `BertForMaskedLM`) with a
    WordPiece tokenizer, pretrained on `sentences` monolingual captions per language of all six
    languages (each language from its own scenes: no parallel text), saved in Hugging Face format.
    Trained for `steps` optimiser steps of `batch_size` sentences."""

    sentences: int = 8000
    vocab_size: int = 2000
    hidden: int = 128
    layers: int = 4
    heads: int = 2
    intermediate: int = 512
    max_length: int = 48
    steps: int = 300
    batch_size: int = 128
    lr: float = 1e-3
    mask_probability: float = 0.15
    eval_sentences: int = 500  # held out per language: masked-token accuracy, retrieval
    threads: int = 1  # torch threads; it trains in a worker process beside world-clip

    def __post_init__(self) -> None:
        _check_sizes("text_model", sentences=self.sentences, vocab_size=self.vocab_size,
                     hidden=self.hidden, layers=self.layers, heads=self.heads,
                     intermediate=self.intermediate, max_length=self.max_length,
                     steps=self.steps, batch_size=self.batch_size,
                     eval_sentences=self.eval_sentences, threads=self.threads)  # fmt: skip
        if self.hidden % self.heads:
            raise ValueError(
                f"text_model.hidden ({self.hidden}) must be a multiple of text_model.heads ({self.heads})"
            )
        if not 0.0 < self.mask_probability < 1.0:
            raise ValueError(
                f"text_model.mask_probability must be in (0, 1), got {self.mask_probability}"
            )


@dataclass
class WorldConfig:
    seed: int = 0
    languages: list[str] = field(default_factory=lambda: list(TARGET_LANGUAGES))
    family_size: int = 4  # items per family of near-duplicate scenes (hard negatives)
    workers: int = field(default=2, metadata=NOT_NAMING)  # processes drawing pictures
    image: ImageWorld = field(default_factory=ImageWorld)
    video: VideoWorld = field(default_factory=VideoWorld)
    captions: CaptionWorld = field(default_factory=CaptionWorld)
    mt: MTWorld = field(default_factory=MTWorld)
    backbone: BackboneWorld = field(default_factory=BackboneWorld)
    text_model: TextModelWorld = field(default_factory=TextModelWorld)
    preview_items: int = field(default=4, metadata=NOT_NAMING)  # what the preview shows

    def __post_init__(self) -> None:
        unknown = [lang for lang in self.languages if lang not in TARGET_LANGUAGES]
        if unknown or not self.languages:
            got = ", ".join(unknown) if unknown else "an empty list"
            raise ValueError(
                f"languages: unknown or missing target language ({got}); allowed: {', '.join(TARGET_LANGUAGES)}"
            )
        if len(set(self.languages)) != len(self.languages):
            raise ValueError(f"languages: listed twice: {self.languages}")
        _check_sizes("world", family_size=self.family_size, workers=self.workers)


# The world-config fields hashed before defaults were left out of the hash (issue 21): they enter
# even at their default so that the worlds generated then keep their names. Frozen: a field added
# later enters only when it differs from its default (`ccrkit.config.hash_view`), so adding one
# renames no world and needs no entry here. `backbone.threads` joined after the rule it follows
# (it names a world only when not the default), so it is not listed.
HASHED_AT_DEFAULT = frozenset({
    "seed", "languages", "family_size", "image", "image.train", "image.val", "image.test",
    "image.captions", "image.size", "image.max_objects", "image.object_weights",
    "image.supersample", "video", "video.train", "video.val", "video.test", "video.captions",
    "video.size", "video.frames", "video.supersample", "captions", "captions.relation",
    "captions.conjunction", "captions.colour", "captions.size", "captions.texture",
    "captions.position", "captions.count", "mt", "mt.noise", "mt.back_noise", "mt.weights",
    "mt.bleu_split", "backbone", "backbone.images", "backbone.captions", "backbone.dim",
    "backbone.width", "backbone.epochs", "backbone.batch_size", "backbone.lr",
    "backbone.temperature", "backbone.text_width", "backbone.probe_epochs", "backbone.device",
    "text_model", "text_model.sentences", "text_model.vocab_size", "text_model.hidden",
    "text_model.layers", "text_model.heads", "text_model.intermediate", "text_model.max_length",
    "text_model.steps", "text_model.batch_size", "text_model.lr", "text_model.mask_probability",
    "text_model.eval_sentences", "text_model.threads",
})  # fmt: skip


def config_hash(cfg: WorldConfig) -> str:
    """The world's name: the generator version and what of `cfg` names its output (`hash_view`).
    The fields that change only speed (workers) or what the preview shows are `NOT_NAMING`. The
    device and the thread counts stay: they change the float rounding of the pretrained models'
    training, so the features.

    Example::

        config_hash(load_config(WorldConfig, "world-tiny"))  # 'cfbecbe830555086'
    """
    # typed as a YAML-loaded config holds them (`WorldConfig(mt=MTWorld(noise=0))` hashes as 0.0)
    typed = OmegaConf.to_object(OmegaConf.structured(cfg))
    view = hash_view(typed, HASHED_AT_DEFAULT)
    return stable_hash({"generator": GENERATOR_VERSION, "config": view})[:16]


# What shapes only the benchmark (its splits, captions, MT) or the measurements, never a
# pretrained model: worlds that differ only here share `world-clip` and `world-mbert` (the
# report's worlds at several MT noise levels, the tiny and the default world's sizes).
BENCHMARK_ONLY = (
    "workers", "preview_items", "languages", "mt", "image.train", "image.val", "image.test",
    "image.captions", "video", "backbone.probe_epochs", "text_model.eval_sentences",
)  # fmt: skip
PRETRAINED_MODELS = {  # model -> what else it does not depend on
    "world-clip": ("text_model",),
    "world-mbert": ("backbone", "image.size", "image.supersample"),
}


def pretrained_hash(cfg: WorldConfig, model: str) -> str:
    """sha256 over the generator version and every config field a pretrained model depends on:
    everything but `BENCHMARK_ONLY` and the other model's section. Keys added to the config later
    count by default, so a model is never reused for a config that might change it."""
    data = to_dict(cfg)
    for dotted in (*BENCHMARK_ONLY, *PRETRAINED_MODELS[model]):
        section, _, key = dotted.partition(".")
        if key:
            data[section].pop(key, None)
        else:
            data.pop(section, None)
    text = json.dumps(
        {"generator": GENERATOR_VERSION, "model": model, "config": data}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]
