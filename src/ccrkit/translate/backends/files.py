"""`file`: translations that already exist (e.g. the official Google-MT caption files of NRCCR),
aligned with the collection by caption id.

The translation file is a caption file of the data layer (`<item>#<tag>#<n> <text>`, or CCLM
JSON); a caption of the collection takes the translation with the same item and the same n,
whatever the tags. A caption without a translation is an error (it names the file, the count and
the first ids; `options.allow_missing: true` leaves such captions out with a warning instead); a
translation whose id is not in the collection is reported as a warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccrkit.data import CaptionRecord, read_captions
from ccrkit.data.captions import parse_caption_id
from ccrkit.translate.backend import (
    BACKENDS,
    BackendContext,
    Output,
    Segment,
    TranslationError,
    backend_options,
)
from ccrkit.translate.config import BackendConfig

SHOWN_IDS = 5


@dataclass
class FileOptions:
    # leave captions without a translation out (with a warning) instead of failing
    allow_missing: bool = False


@BACKENDS.register("file")
class FileBackend:
    name = "file"
    cacheable = False  # aligned by caption id, not by text
    batch_size = 4096

    def __init__(
        self, config: BackendConfig, src: str, tgt: str, context: BackendContext | None = None
    ) -> None:
        if not config.model:
            raise TranslationError("the file backend needs a translation file (--model FILE)")
        self.path = Path(config.model).expanduser()
        self.options = backend_options(FileOptions, config)
        self.src, self.tgt = src, tgt
        self.records = read_captions(self.path)
        self.by_key = {_key(record.cap_id): record for record in self.records}

    def identity(self) -> dict[str, Any]:
        return {
            "backend": "file",
            "file": str(self.path.resolve()),
            "src": self.src,
            "tgt": self.tgt,
        }

    def prepare(self, segments: Sequence[Segment]) -> list[str]:
        """Fail on captions without a translation (unless allowed); warn on unused translations."""
        wanted = {_key(segment.id) for segment in segments}
        missing = [segment.id for segment in segments if _key(segment.id) not in self.by_key]
        extra = [record for record in self.records if _key(record.cap_id) not in wanted]
        warnings = [_extra_warning(self.path, extra)] if extra else []
        if missing and not self.options.allow_missing:
            raise TranslationError(
                f"{self.path}: no translation for {len(missing)} of {len(segments)} caption(s), "
                f"e.g. {_ids(missing)}; complete the file or set options.allow_missing=true"
            )
        return warnings

    def load(self) -> None:
        """Nothing to load (the file is read when the backend is built)."""

    def translate(self, segments: Sequence[Segment]) -> list[Output]:
        found = (self.by_key.get(_key(segment.id)) for segment in segments)
        return [Output(record.text if record else None) for record in found]


def _key(cap_id: str) -> tuple[str, str] | str:
    """(item id, n): the join key between views of one caption, whatever their tags."""
    parsed = parse_caption_id(cap_id)
    return (parsed[0], parsed[2]) if parsed else cap_id


def _extra_warning(path: Path, extra: list[CaptionRecord]) -> str:
    first = extra[0]
    where = f"{path}:{first.line}" if first.line else str(path)
    return (
        f"{where}: {len(extra)} translation(s) have ids not in the collection and are ignored, "
        f"e.g. {_ids([record.cap_id for record in extra])}"
    )


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(f"'{i}'" for i in ids[:SHOWN_IDS])
    return shown + (f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else "")
