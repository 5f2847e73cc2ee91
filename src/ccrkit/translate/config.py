"""The typed configuration of `ccrkit translate` (YAML in `configs/translate/`, CLI flags on top).

One `BackendConfig` says how to translate in one direction; the forward one (source -> target) is
always used, the back one (target -> source) only with `back_translate` (the `enc2xx2enc` role and
the `xx2enc` translate-test view). Backend-specific settings live in `options` and are validated by
the backend against its own dataclass (see `ccrkit.translate.backends`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING, OmegaConf

from ccrkit.config import build, parse_override, read_yaml, resolve_config_path

PRECISIONS = ("auto", "fp32", "fp16", "bf16")


@dataclass
class DecodeConfig:
    """Decoding settings. Everything here but `batch_size` is part of the cache key."""

    beams: int | None = None  # None: the model's generation config (1 = greedy search)
    batch_size: int = 32
    max_input_tokens: int | None = None  # None: the model's own limit; longer inputs are truncated
    max_new_tokens: int = 256

    def __post_init__(self) -> None:
        if self.beams is not None and self.beams < 1:
            raise ValueError(f"decode.beams must be >= 1 (1 = greedy), got {self.beams}")
        for name in ("batch_size", "max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"decode.{name} must be >= 1, got {getattr(self, name)}")
        if self.max_input_tokens is not None and self.max_input_tokens < 2:
            raise ValueError(f"decode.max_input_tokens must be >= 2, got {self.max_input_tokens}")


@dataclass
class BackendConfig:
    """One translation direction: which backend, which model (or file), how to decode."""

    backend: str = "hf"
    model: str | None = None  # hf: model directory or hub id; file: the translation file
    src_code: str | None = None  # the model's own language codes (None: derived per model family)
    tgt_code: str | None = None
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    device: str = "auto"  # auto = the first GPU when there is one, else the CPU
    # autocast on GPU: auto (bf16 where supported, else fp16), fp16, bf16; fp32 = none
    precision: str = "auto"
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision '{self.precision}' is not one of {', '.join(PRECISIONS)}")


@dataclass
class TranslateConfig:
    data: str = MISSING  # data spec name (configs/data/) or YAML path
    root: str = MISSING  # the folder holding the collection folders ("VisualSearch")
    splits: list[str] = field(default_factory=lambda: ["train"])
    src: str = "en"
    tgt: str = MISSING
    forward: BackendConfig = field(default_factory=BackendConfig)
    back_translate: bool = False
    back: BackendConfig | None = None  # None: the forward settings (same model) in reverse
    cache: str | None = None  # SQLite file; None: $CCRKIT_CACHE_DIR or ~/.cache/ccrkit
    force: bool = False  # overwrite existing outputs
    keep_existing: bool = False  # keep existing outputs as they are (and read them for --back)
    plugins: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.splits:
            raise ValueError("splits is empty; name at least one split, e.g. [train]")
        if self.force and self.keep_existing:
            raise ValueError("force and keep_existing exclude each other; choose one")
        if self.src == self.tgt:
            raise ValueError(f"src and tgt are both '{self.src}'; nothing to translate")

    def back_config(self) -> BackendConfig:
        """The back direction's settings: `back`, or the forward ones without its language codes."""
        if self.back is not None:
            return self.back
        if self.forward.backend == "file":
            raise ValueError(
                "the file backend reads one direction's translations; give the back-translations "
                "their own file (--back-model FILE)"
            )
        return dataclasses.replace(
            self.forward, src_code=self.forward.tgt_code, tgt_code=self.forward.src_code
        )


def load_translate_config(
    name_or_path: str | None = None,
    flags: Mapping[str, Any] | None = None,
    back_flags: Mapping[str, Any] | None = None,
    overrides: Iterable[str] = (),
) -> TranslateConfig:
    """A YAML file (`configs/translate/<name>.yaml` or a path), then command-line flags, then
    `key=value` overrides.

    `flags` are nested like the config (`{"forward": {"model": ...}}`); their `forward.decode`,
    `forward.device` and `forward.precision` apply to the back direction too. `back_flags` (the
    back `backend`/`model`) start the back settings from the forward ones when the file has none.
    """
    source = "command line"
    data: dict[str, Any] = {}
    if name_or_path is not None:
        path = resolve_config_path(name_or_path, "translate")
        data, source = read_yaml(path, "translate"), f"{path} + command line"
    merged = OmegaConf.merge(OmegaConf.create(data), OmegaConf.create(dict(flags or {})))
    if back_flags:
        if merged.get("back") is None:
            forward = OmegaConf.to_container(merged.get("forward") or OmegaConf.create({}))
            merged.back = {k: v for k, v in forward.items() if k not in _DIRECTIONAL}
        merged.back = OmegaConf.merge(merged.back, dict(back_flags))
    shared = {k: v for k, v in dict((flags or {}).get("forward", {})).items() if k in _SHARED}
    if shared and merged.get("back") is not None:
        merged.back = OmegaConf.merge(merged.back, shared)
    for override in overrides:
        merged = OmegaConf.merge(merged, parse_override(override))
    return build(TranslateConfig, merged, source)


_DIRECTIONAL = ("src_code", "tgt_code", "options", "model", "backend")
_SHARED = ("decode", "device", "precision")
