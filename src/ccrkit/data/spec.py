"""Data specs: one YAML file per benchmark in `configs/data/` says where every file is.

A spec names, per split, the caption file of each role (with `{lang}` and `{split}` placeholders),
the item list, and the visual stores; the tags that caption ids carry per role; and what to expect
(captions per item, feature dimensions). Every inconsistent official file name lives in a spec, so
the code has no special cases: adding a benchmark is adding one YAML file.

Paths are relative to `<root>/<collection>/` (the split's `collection`, else the spec's); caption
file names are relative to `<collection>/<text_dir>/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import MISSING

from ccrkit.data.errors import DataError

ROLES = ("source", "mt", "bt", "human", "human_to_en")
TARGET_ROLES = ("mt", "bt", "human", "human_to_en")
MODALITIES = ("image", "video")
FEATURE_FORMATS = ("npy", "bigfile")
RAW_FORMATS = ("images", "frames", "videos")
RAW = "raw"


@dataclass
class TagSpec:
    """The tag in caption ids (`<item>#<tag>#<n>`) of each role; `{lang}` is the target language."""

    source: str = "enc"
    mt: str = "enc2{lang}"
    bt: str = "enc2{lang}2enc"
    human: str = "{lang}"
    human_to_en: str = "{lang}2enc"


@dataclass
class CaptionFiles:
    """Caption file name of each role in one split (None: the split has no such captions)."""

    source: str | None = None
    mt: str | None = None
    bt: str | None = None
    human: str | None = None
    human_to_en: str | None = None


@dataclass
class StoreSpec:
    """Where visual data lives.

    - `npy`: `path` is an (N, D) .npy file, `ids` the file naming its rows (one per line);
    - `bigfile`: `path` is a BigFile folder; `video2frames` (optional) maps videos to frame rows,
      without it every row is one item;
    - `images`: `path` is a folder of `<item><ext>` files;
    - `frames`: `path` is a folder of `<frame><ext>` files, grouped into videos by `video2frames`
      or, without it, by the name pattern `<video>_<k><ext>`;
    - `videos`: `path` is a folder of `<item><ext>` video files, decoded at `fps`.
    """

    format: str = MISSING
    path: str = MISSING
    ids: str | None = None
    video2frames: str | None = None
    ext: str = ".jpg"
    fps: float = 1.0

    def __post_init__(self) -> None:
        if self.format not in (*FEATURE_FORMATS, *RAW_FORMATS):
            known = ", ".join((*FEATURE_FORMATS, *RAW_FORMATS))
            raise ValueError(f"store format '{self.format}' is not one of {known}")
        if self.format == "npy" and not self.ids:
            raise ValueError(f"npy store '{self.path}' needs 'ids' (the file naming its rows)")


@dataclass
class SplitSpec:
    """One split. `items` may hold `{feature}` (see `VisualSpec.ids_feature`); `features` names
    stores of single feature names; `layout` is the store of any other feature name in this split
    (`{feature}` placeholder; overrides `visual.layout`) — the official code names a split's
    feature files after the feature, differently per split."""

    collection: str | None = None
    captions: CaptionFiles = field(default_factory=CaptionFiles)
    captions_per_item: int | None = None
    items: str | None = None
    features: dict[str, StoreSpec] = field(default_factory=dict)
    layout: StoreSpec | None = None


@dataclass
class VisualSpec:
    """`feature`: the default store (a feature name, or `raw`); `layout`: the store of any other
    feature name (`{feature}`, `{split}` placeholders); `raw`: images, frames or videos; `dims`:
    expected dimension per feature name; `max_frames`: frames kept per video (None: all);
    `ids_feature`: what `{feature}` stands for in an item-list path when the run reads the raw
    store (the official image scripts keep `--visual_feature resnet_152` with CLIP too, so their
    tester reads the test ids from `FeatureData/resnet_152/`)."""

    feature: str = RAW
    layout: StoreSpec | None = None
    raw: StoreSpec | None = None
    dims: dict[str, int] = field(default_factory=dict)
    max_frames: int | None = None
    ids_feature: str | None = None


@dataclass
class DataSpec:
    name: str = MISSING
    description: str = ""
    modality: str = MISSING
    collection: str = MISSING
    text_dir: str = "TextData"
    source_lang: str = "en"
    target_langs: list[str] = MISSING
    tags: TagSpec = field(default_factory=TagSpec)
    visual: VisualSpec = field(default_factory=VisualSpec)
    splits: dict[str, SplitSpec] = MISSING
    # A file under the data root that the tool making the data writes last (the synthetic world:
    # world.json): without it the data is unfinished and every reader refuses it. `remake`: the
    # command that makes the data again (`{root}` placeholder), shown in that error.
    complete_marker: str | None = None
    remake: str | None = None

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ValueError(f"modality '{self.modality}' is not one of {', '.join(MODALITIES)}")
        if not self.target_langs:
            raise ValueError("target_langs is empty; list at least one target language")
        if not self.splits:
            raise ValueError("splits is empty; define at least one split")

    def unfinished(self, root: str | Path) -> DataError | None:
        """Why the data under `root` is unfinished (its `complete_marker` is missing), or None."""
        if self.complete_marker is None or (Path(root) / self.complete_marker).is_file():
            return None
        how = f": {self.remake.format(root=root)}" if self.remake else ""
        return DataError(
            f"unfinished data: {self.complete_marker}, which is written last, is missing (the "
            f"command that made this folder was interrupted or failed); make it again{how}",
            root,
        )

    # --- paths -------------------------------------------------------------------------------

    def split(self, name: str) -> SplitSpec:
        if name not in self.splits:
            raise DataError(
                f"data spec '{self.name}' has no split '{name}'; splits: {', '.join(self.splits)}"
            )
        return self.splits[name]

    def collection_dir(self, root: str | Path, split: str) -> Path:
        return Path(root) / (self.split(split).collection or self.collection)

    def tag(self, role: str, lang: str | None = None) -> str:
        return _fill(getattr(self.tags, role), lang=lang or "")

    def langs_of(self, role: str) -> list[str | None]:
        """Languages a role comes in: None for English sources, else every target language."""
        return [None] if role == "source" else list(self.target_langs)

    def caption_path(
        self, root: str | Path, split: str, role: str, lang: str | None = None
    ) -> Path | None:
        """The caption file of (split, role, lang), or None when the spec has none."""
        if role not in ROLES:
            raise DataError(f"unknown caption role '{role}'; roles: {', '.join(ROLES)}")
        pattern = getattr(self.split(split).captions, role)
        if pattern is None:
            return None
        name = _fill(pattern, lang=lang or "", split=split, collection=self.collection)
        return self.collection_dir(root, split) / self.text_dir / name

    def items_path(self, root: str | Path, split: str, feature: str | None = None) -> Path | None:
        """The split's item list for a run reading `feature` (None: the spec's default)."""
        items = self.split(split).items
        if items is None:
            return None
        if "{feature}" not in items:
            return self.collection_dir(root, split) / _fill(items, split=split)
        name = feature or self.visual.feature
        if name == RAW:
            if self.visual.ids_feature is None:
                raise DataError(
                    f"data spec '{self.name}': the {split} item list '{items}' depends on a "
                    "feature name but the run reads raw files; set visual.ids_feature in the spec"
                )
            name = self.visual.ids_feature
        return self.collection_dir(root, split) / _fill(items, split=split, feature=name)

    def store(self, split: str, feature: str | None = None) -> tuple[str, StoreSpec]:
        """(feature name or `raw`, store) for a split: `feature` or the spec's default."""
        name = feature or self.visual.feature
        if name == RAW:
            if self.visual.raw is None:
                raise DataError(
                    f"data spec '{self.name}' has no raw visual store; pick a feature with --feature"
                )
            return name, self.visual.raw
        named = self.split(split).features.get(name) or self.split(split).layout
        if named is not None:
            return name, named
        if self.visual.layout is None:
            known = sorted({RAW} | set(self.split(split).features))
            raise DataError(
                f"data spec '{self.name}' has no feature '{name}' for split '{split}'; known: {', '.join(known)}"
            )
        return name, self.visual.layout

    def store_path(
        self, root: str | Path, split: str, feature: str, value: str | None
    ) -> Path | None:
        if value is None:
            return None
        return self.collection_dir(root, split) / _fill(value, feature=feature, split=split)


def _fill(pattern: str, **values: str) -> str:
    """Replace the `{name}` placeholders of a spec path; unknown placeholders are an error."""
    try:
        return pattern.format(**values)
    except (KeyError, IndexError, ValueError) as err:
        known = ", ".join("{" + k + "}" for k in values)
        raise DataError(f"bad placeholder in '{pattern}' ({err}); known here: {known}") from None


def load_data_spec(
    name_or_path: str | Path, overrides: list[str] | tuple[str, ...] = ()
) -> DataSpec:
    """A spec by name (`configs/data/<name>.yaml`) or by path to a YAML file."""
    from ccrkit.config import ConfigError, load_config, read_yaml, resolve_config_path

    if isinstance(name_or_path, DataSpec):
        return name_or_path
    path = resolve_config_path(name_or_path, "data")
    _check_split_keys(read_yaml(path, "data"), path)
    try:
        return load_config(DataSpec, path, overrides, subdir="data")
    except (
        AttributeError,
        TypeError,
    ) as err:  # OmegaConf fails this way inside dict-of-dataclass values
        raise ConfigError(f"{path}: invalid data spec: {err}") from None


def _check_split_keys(data: dict, path: Path) -> None:
    """Name unknown keys inside `splits:` (OmegaConf cannot, for dict-of-dataclass values)."""
    from dataclasses import fields

    from ccrkit.config import ConfigError

    sections = {"": SplitSpec, "captions": CaptionFiles}
    for split, body in (data.get("splits") or {}).items():
        for section, schema in sections.items():
            values = body.get(section) if section else body
            if not isinstance(values, dict):
                continue
            valid = sorted(f.name for f in fields(schema))
            for key in values:
                if key not in valid:
                    where = ".".join(k for k in ("splits", str(split), section, str(key)) if k)
                    raise ConfigError(
                        f"{path}: unknown key '{where}'; valid keys here: {', '.join(valid)}"
                    )


def available_data_specs() -> list[str]:
    from ccrkit.config import available_configs

    return available_configs("data")
