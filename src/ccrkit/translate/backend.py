"""The small protocol every MT backend implements, and the registry that finds one by name.

A backend translates in one fixed direction (src -> tgt, chosen when it is built, so a wrong
language fails before any work). The engine (`engine.py`) hands it batches of `Segment`s and gets
one `Output` per segment back; it never asks which backend it is. Backends register a factory
`factory(config, src, tgt, context) -> Backend` under a name in `BACKENDS` with
`@BACKENDS.register(name)`; `ccrkit.translate.backends` imports the built-in ones and holds
`build_backend` (so this module, which they import, imports none of them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from ccrkit.config import build
from ccrkit.registry import Registry

if TYPE_CHECKING:
    from ccrkit.data import DataSpec
    from ccrkit.translate.config import BackendConfig

T = TypeVar("T")


class TranslationError(ValueError):
    """A translation request that cannot be served (bad language, model, file or caption)."""


@dataclass(frozen=True)
class Segment:
    """One caption to translate: its id (for messages and id-aligned backends) and its text."""

    id: str
    text: str


@dataclass(frozen=True)
class Output:
    """A backend's answer for one segment; `text` None: the backend has no translation for it."""

    text: str | None
    truncated: bool = False  # the input was longer than the model's limit and was cut


@dataclass(frozen=True)
class BackendContext:
    """Where the run happens, for backends that read files beside the collection (synthetic)."""

    root: Path | None = None
    spec: DataSpec | None = None


class Backend(Protocol):
    """A translator in one direction.

    - `cacheable`: outputs depend on the source text only, so the engine may cache them by text,
      translate each distinct text once and sort by length; otherwise it sends every segment in
      file order (the `file` backend aligns by caption id).
    - `batch_size`: segments per `translate` call.
    - `identity()`: what determines the output (backend, model, languages, decoding settings):
      the cache key and the run record.
    - `prepare(segments)`: called once with every segment of a job before any `translate` call
      (a backend may check coverage there and raise `TranslationError`).
    - `load()`: called before the first batch that needs translating (never when everything is
      cached), so a model loads only when it is needed and its loading time is not counted as
      translation time.
    """

    name: str
    cacheable: bool
    batch_size: int

    def identity(self) -> dict[str, Any]: ...

    def prepare(self, segments: Sequence[Segment]) -> list[str]:
        """Check a whole job up front; returns warnings (e.g. unused translations)."""
        ...

    def load(self) -> None: ...

    def translate(self, segments: Sequence[Segment]) -> list[Output]: ...


BackendFactory = Callable[["BackendConfig", str, str, BackendContext], Backend]
BACKENDS: Registry[BackendFactory] = Registry("translation backend")


def backend_options(schema: type[T], config: BackendConfig) -> T:
    """A backend's own `options` section, validated against its dataclass `schema`."""
    return build(schema, config.options, f"backend '{config.backend}'", "options")
