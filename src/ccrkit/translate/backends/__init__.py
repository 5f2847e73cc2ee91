"""The built-in backends; importing this package registers them in `BACKENDS`.

`hf` imports torch and transformers only when a backend is built, so listing backends is cheap.
"""

from ccrkit.translate.backends.files import FileBackend, FileOptions
from ccrkit.translate.backends.hf import HFBackend
from ccrkit.translate.backends.langcodes import LanguagePlan, detect_family, plan_languages
from ccrkit.translate.backends.synthetic import SyntheticBackend, SyntheticOptions

__all__ = [
    "FileBackend", "FileOptions", "HFBackend", "LanguagePlan", "SyntheticBackend",
    "SyntheticOptions", "detect_family", "plan_languages",
]  # fmt: skip
