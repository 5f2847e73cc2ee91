"""Every file name the world writes, in the NRCCR "VisualSearch" layout (methods.md §1.5).

DATA_ROOT/world.json, DATA_ROOT/preview.png, and per collection (`worldimage`, `worldvideo`):
TextData/<C>{split}_enc.caption.txt, <C>{split}_synthetic_enc2xx.caption.txt,
<C>{split}_synthetic_enc2xx2enc.caption.txt, <C>{split}_xx.caption.txt,
<C>{split}_synthetic_xx2enc.caption.txt, a `.noise.jsonl` side file beside every synthetic file,
ImageData/<id>.png or FrameData/<video>_<k>.png, and FeatureData/worldcnn/.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ccrkit.data.captions import parse_caption_id

IMAGE_COLLECTION, VIDEO_COLLECTION = "worldimage", "worldvideo"
ITEM_PREFIX = {IMAGE_COLLECTION: "img", VIDEO_COLLECTION: "vid"}
SPLITS = ("train", "val", "test")
FEATURE = "worldcnn"
# world.json is written last: its presence marks a finished world (the world, the report's world
# planning and the synthetic MT backend read this name; the world data specs' `complete_marker`
# says it in YAML, checked equal by tests/world/test_world_names.py)
WORLD_JSON, PREVIEW_PNG = "world.json", "preview.png"
FRAMES_INDEX = "frames.jsonl.gz"  # caption text -> meaning, for the synthetic MT's text API


def item_id(collection: str, number: int) -> str:
    return f"{ITEM_PREFIX[collection]}{number:05d}"


def frame_id(video_id: str, k: int) -> str:
    return f"{video_id}_{k}"


def caption_id(item: str, tag: str, n: int) -> str:
    return f"{item}#{tag}#{n}"


def caption_parts(cid: str) -> tuple[str, str, int]:
    """(item, tag, n) of a caption id: `caption_id` undone by the layout's one parser
    (`ccrkit.data.captions.parse_caption_id`, which the readers of these files use too)."""
    parsed = parse_caption_id(cid)
    if parsed is None:
        raise ValueError(f"not a caption id '<item>#<tag>#<n>': {cid!r}")
    item, tag, n = parsed
    return item, tag, int(n)


def mt_tags(lang: str) -> tuple[str, str, str]:
    """The three machine-translated tags of a target language: MT, back-translation, translate-test."""
    return f"enc2{lang}", f"enc2{lang}2enc", f"{lang}2enc"


def caption_file(root: Path, collection: str, split: str, tag: str) -> Path:
    """`enc` and human `xx` captions have plain names; machine output carries `_synthetic_`."""
    kind = "" if tag == "enc" or "2" not in tag else "synthetic_"
    return root / collection / "TextData" / f"{collection}{split}_{kind}{tag}.caption.txt"


def noise_file(root: Path, collection: str, split: str, tag: str) -> Path:
    return caption_file(root, collection, split, tag).with_name(
        f"{collection}{split}_synthetic_{tag}.noise.jsonl"
    )


def frames_index_file(root: Path, collection: str) -> Path:
    return root / collection / "TextData" / f"{collection}_{FRAMES_INDEX}"


def picture_dir(root: Path, collection: str) -> Path:
    return root / collection / ("FrameData" if collection == VIDEO_COLLECTION else "ImageData")


def feature_dir(root: Path, collection: str) -> Path:
    return root / collection / "FeatureData" / FEATURE


def all_tags(languages: Iterable[str]) -> list[str]:
    tags = ["enc"]
    for lang in languages:
        tags += [lang, *mt_tags(lang)]
    return tags
