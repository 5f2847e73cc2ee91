"""The built-in backends; importing this package registers them in `BACKENDS`.

`hf` imports torch and transformers only when a backend is built, so listing backends is cheap.
`build_backend` lives here, above the backends, so that a backend is always found by name once
`ccrkit.translate` is imported (and `backend.py`, which each of them imports, imports none).
"""

from __future__ import annotations

from ccrkit.translate.backend import BACKENDS, Backend, BackendContext
from ccrkit.translate.backends.files import FileBackend, FileOptions
from ccrkit.translate.backends.hf import HFBackend
from ccrkit.translate.backends.langcodes import LanguagePlan, detect_family, plan_languages
from ccrkit.translate.backends.synthetic import SyntheticBackend, SyntheticOptions
from ccrkit.translate.config import BackendConfig


def build_backend(
    config: BackendConfig, src: str, tgt: str, context: BackendContext | None = None
) -> Backend:
    """The backend `config.backend` for src -> tgt (unknown names list the registered ones).

    Example::

        backend = build_backend(BackendConfig(backend="hf", model="Helsinki-NLP/opus-mt-en-de"),
                                "en", "de")
        backend.load()
        [out.text for out in backend.translate([Segment("a#enc#0", "A dog runs.")])]
    """
    return BACKENDS.get(config.backend)(config, src, tgt, context or BackendContext())


__all__ = [
    "FileBackend", "FileOptions", "HFBackend", "LanguagePlan", "SyntheticBackend",
    "SyntheticOptions", "build_backend", "detect_family", "plan_languages",
]  # fmt: skip
