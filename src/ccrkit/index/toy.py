"""A toy model and gallery: coloured shapes with captions, searchable in five languages.

For tests, benchmarks and trying `ccrkit serve` before a model is trained; it is not a retrieval
model. `ToyModel` embeds text as a hashed bag of concepts (a small lexicon maps German, French,
Chinese and Japanese words to English ones); a toy item's "visual feature" is the bag of its
English caption, so every caption, in any of the five languages, retrieves its own item.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ccrkit.data.batch import VisualBatch

COLOURS = {
    "red": (220, 40, 40), "blue": (40, 80, 220), "green": (30, 160, 70),
    "yellow": (235, 200, 20), "purple": (140, 60, 190), "orange": (245, 130, 20),
}  # fmt: skip
SHAPES = ("star", "square", "circle", "triangle")
LEXICON = {
    "red": "rot roter rote rotes roten rouge rouges 红色 红 赤い 赤",
    "blue": "blau blauer blaue blaues blauen bleu bleue 蓝色 蓝 青い 青",
    "green": "grün grüner grüne grünes grünen vert verte 绿色 绿 緑色 緑",
    "yellow": "gelb gelber gelbe gelbes gelben jaune 黄色 黄",
    "purple": "lila violett violetter violette violettes violet 紫色 紫",
    "orange": "orangefarben orangefarbener orangefarbenes orangener orangene 橙色 オレンジ",
    "star": "stern sterne étoile 星星 星",
    "square": "quadrat quadrate carré 正方形 四角",
    "circle": "kreis kreise cercle 圆形 圆 円",
    "triangle": "dreieck dreiecke 三角形 三角",
}
ARTICLES = "ein eine einen un une"  # German and French "a": the same concept as English's
LANGUAGES = ["de", "en", "fr", "ja", "zh"]
# the toy items' captions in the other languages ("a red star" -> "ein roter Stern", ...)
NAMES = {
    "de": ({"red": "rot", "blue": "blau", "green": "grün", "yellow": "gelb", "purple": "violett",
            "orange": "orangefarben"},
           {"star": "er Stern", "square": "es Quadrat", "circle": "er Kreis",
            "triangle": "es Dreieck"}),
    "fr": ({"red": "rouge", "blue": "bleu", "green": "vert", "yellow": "jaune", "purple": "violet",
            "orange": "orange"},
           {"star": "étoile", "square": "carré", "circle": "cercle", "triangle": "triangle"}),
    "zh": ({"red": "红色", "blue": "蓝色", "green": "绿色", "yellow": "黄色", "purple": "紫色",
            "orange": "橙色"},
           {"star": "星星", "square": "正方形", "circle": "圆形", "triangle": "三角形"}),
    "ja": ({"red": "赤い", "blue": "青い", "green": "緑色の", "yellow": "黄色い", "purple": "紫色の",
            "orange": "オレンジ色の"},
           {"star": "星", "square": "四角", "circle": "円", "triangle": "三角形"}),
}  # fmt: skip
WORD = re.compile(r"\w+", re.UNICODE)


def _concepts() -> dict[str, str]:
    table = {word: concept for concept, words in LEXICON.items() for word in words.split()}
    articles = dict.fromkeys(ARTICLES.split(), "a")
    return {**table, **{concept: concept for concept in LEXICON}, **articles}


CONCEPTS = _concepts()
CJK_START = 0x2E80  # scripts written without spaces between words start here
CJK_WORDS = sorted((w for w in CONCEPTS if ord(w[0]) >= CJK_START), key=len, reverse=True)


def concepts_of(text: str) -> list[str]:
    """The English concepts a text mentions (unknown words are kept as themselves)."""
    words = [CONCEPTS.get(w, w) for w in WORD.findall(text.lower()) if ord(w[0]) < CJK_START]
    rest = text
    for word in CJK_WORDS:  # scripts without spaces: longest lexicon entries first
        if word in rest:
            words.append(CONCEPTS[word])
            rest = rest.replace(word, " ")
    return words


def bag_vector(text: str, dim: int) -> np.ndarray:
    """A unit vector: one hashed coordinate per concept (and unknown word), counted."""
    vector = np.zeros(dim, dtype=np.float32)
    for word in concepts_of(text):
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
        vector[int.from_bytes(digest, "little") % dim] += 1.0
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


@dataclass
class ToyModel:
    """Satisfies `RetrievalModel`; see the module docstring."""

    dim: int = 64
    model_id: str = "toy-bag-of-concepts"
    languages: list[str] = field(default_factory=lambda: list(LANGUAGES))

    def encode_texts(self, texts: list[str], lang: str | None) -> np.ndarray:
        return np.stack([bag_vector(t, self.dim) for t in texts]) if texts else self._empty()

    def encode_visual(self, batch: VisualBatch) -> np.ndarray:
        features = batch.values[:, 0].to(torch.float32).numpy()
        norms = np.linalg.norm(features, axis=1, keepdims=True)
        return (features / np.maximum(norms, 1e-12)).astype(np.float32)

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.dim), dtype=np.float32)


@dataclass
class ToyGallery:
    """Satisfies `Gallery`: items with a caption, a feature and one picture or several frames."""

    root: Path
    item_ids: list[str]
    features: np.ndarray
    media: dict[str, list[Path]]
    texts: dict[str, list[str]]
    translations: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # item: lang: ...

    def visual_batches(self, batch_size: int) -> Iterator[VisualBatch]:
        for start in range(0, len(self.item_ids), batch_size):
            values = torch.from_numpy(self.features[start : start + batch_size]).unsqueeze(1)
            yield VisualBatch(values, torch.ones(values.shape[:2], dtype=torch.bool), "feature")

    def media_paths(self, item_id: str) -> list[Path]:
        return list(self.media[item_id])

    def captions(self, item_id: str) -> list[str]:
        return list(self.texts[item_id])

    def captions_by_language(self, item_id: str) -> dict[str, list[str]]:
        return {"en": self.captions(item_id), **self.translations.get(item_id, {})}

    def labelled_captions(self, languages: list[str]) -> list[tuple[str, str, int]]:
        return [
            (text, lang, row)
            for row, item_id in enumerate(self.item_ids)
            for lang, texts in self.captions_by_language(item_id).items() if lang in languages
            for text in texts
        ]  # fmt: skip


def toy_caption(lang: str, colour: str, shape: str) -> str:
    """A toy item's caption in `lang` (de, fr, zh, ja), e.g. "ein roter Stern", "赤い星"."""
    colours, shapes = NAMES[lang]
    if lang == "de":
        ending, noun = shapes[shape].split(" ")
        return f"ein {colours[colour]}{ending} {noun}"
    if lang == "fr":
        if shape != "star":
            return f"un {shapes[shape]} {colours[colour]}"
        feminine = {"bleu": "bleue", "vert": "verte", "violet": "violette"}
        return f"une {shapes[shape]} {feminine.get(colours[colour], colours[colour])}"
    joiner = "的" if lang == "zh" else ""
    return f"{colours[colour]}{joiner}{shapes[shape]}"


@dataclass
class VectorGallery:
    """A `Gallery` of given feature vectors without pictures (items `item0000000`, ...): large
    galleries for benchmarks and for tests of the writing paths."""

    root: Path
    features: np.ndarray
    item_ids: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.item_ids = [f"item{i:07d}" for i in range(len(self.features))]

    def visual_batches(self, batch_size: int) -> Iterator[VisualBatch]:
        for start in range(0, len(self.features), batch_size):
            values = torch.from_numpy(self.features[start : start + batch_size]).unsqueeze(1)
            yield VisualBatch(values, torch.ones(values.shape[:2], dtype=torch.bool), "feature")

    def media_paths(self, item_id: str) -> list[Path]:
        return []

    def captions(self, item_id: str) -> list[str]:
        return [f"random item {item_id}"]


def make_toy_gallery(root: str | Path, dim: int = 64, videos: int = 0) -> ToyGallery:
    """Draw one PNG per colour x shape under `root` (24 items); the first `videos` become clips."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    ids, media, texts = [], {}, {}
    for n, (colour, shape) in enumerate(itertools.product(COLOURS, SHAPES)):
        item_id = f"{colour}-{shape}"
        frames = 4 if n < videos else 1
        paths = []
        for frame in range(frames):
            image = Image.new("RGB", (160, 160), (245, 245, 240))
            _draw(
                ImageDraw.Draw(image), shape, COLOURS[colour], shift=12 * frame - 18 * (frames > 1)
            )
            path = root / (f"{item_id}.png" if frames == 1 else f"{item_id}/frame{frame:02d}.png")
            path.parent.mkdir(parents=True, exist_ok=True)
            image.save(path)
            paths.append(path)
        ids.append(item_id)
        media[item_id] = paths
        texts[item_id] = [f"{'an' if colour[0] in 'aeiou' else 'a'} {colour} {shape}"]
    features = np.stack([bag_vector(texts[i][0], dim) for i in ids])
    translations = {
        f"{colour}-{shape}": {lang: [toy_caption(lang, colour, shape)] for lang in NAMES}
        for colour, shape in itertools.product(COLOURS, SHAPES)
    }
    return ToyGallery(root, ids, features, media, texts, translations)


def _draw(draw: object, shape: str, colour: tuple[int, int, int], shift: int = 0) -> None:
    cx, cy, r = 80 + shift, 80, 52
    if shape == "square":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=colour)  # type: ignore[attr-defined]
    elif shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)  # type: ignore[attr-defined]
    elif shape == "triangle":
        points = [(cx, cy - r), (cx + r, cy + r * 0.8), (cx - r, cy + r * 0.8)]
        draw.polygon(points, fill=colour)  # type: ignore[attr-defined]
    else:
        points = [
            (cx + (r if i % 2 == 0 else r * 0.45) * math.sin(i * math.pi / 5),
             cy - (r if i % 2 == 0 else r * 0.45) * math.cos(i * math.pi / 5))
            for i in range(10)
        ]  # fmt: skip
        draw.polygon(points, fill=colour)  # type: ignore[attr-defined]
