"""What the index and the server need from a trained checkpoint, and the seam that loads one.

Index building and serving depend only on `RetrievalModel`: two encoders into one L2-normalised
space plus the facts that tie an index to the model that built it. Any object with these members
works (a method wrapper, a test fake, `ccrkit.index.toy.ToyModel`); nothing here imports the
trainer or a method.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from ccrkit.data.batch import VisualBatch


@runtime_checkable
class RetrievalModel(Protocol):
    """A trained model as search sees it.

    - `model_id`: names the weights (e.g. the run directory's name plus a checkpoint hash). It is
      written into the index manifest; serving an index with a different model is refused.
    - `dim`: width of both embeddings.
    - `languages`: languages seen in training (ISO codes, "en" included); a query's `lang` hint
      must be one of them.
    - `encode_texts(texts, lang)`: (n, dim) float32, rows L2-normalised; `lang` is a hint the
      model may use (None: unknown).
    - `encode_visual(batch)`: (n, dim) float32, rows L2-normalised, one row per gallery item.
    """

    model_id: str
    dim: int
    languages: list[str]

    def encode_texts(self, texts: list[str], lang: str | None) -> np.ndarray: ...

    def encode_visual(self, batch: VisualBatch) -> np.ndarray: ...


class IndexMismatchError(ValueError):
    """An index was built by another model (or another embedding width) than the one loaded."""


def load_retrieval_model(run_dir: str | Path, which: str = "best") -> RetrievalModel:
    """Load the trained model of a training run directory (config + safetensors) for search."""
    from ccrkit.index.trained import TrainedModel

    return TrainedModel(run_dir, which)


def check_compatible(model: RetrievalModel, model_id: str, dim: int, where: str | Path) -> None:
    """Refuse an index whose manifest names another model or embedding width than `model`."""
    if model.dim != dim:
        raise IndexMismatchError(
            f"{where}: the index holds {dim}-d vectors but model '{model.model_id}' encodes "
            f"{model.dim}-d; rebuild the index with this model (ccrkit index build --force)"
        )
    if model.model_id != model_id:
        raise IndexMismatchError(
            f"{where}: the index was built by model '{model_id}', not by the loaded model "
            f"'{model.model_id}'; serve it with that model or rebuild it (ccrkit index build --force)"
        )


def check_embeddings(vectors: np.ndarray, rows: int, dim: int, what: str) -> np.ndarray:
    """The model's output as contiguous float32 (rows, dim), or a clear error naming `what`."""
    array = np.asarray(vectors)
    if array.shape != (rows, dim):
        raise ValueError(f"{what}: expected embeddings of shape ({rows}, {dim}), got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{what}: the model returned NaN or infinite embeddings")
    return np.ascontiguousarray(array, dtype=np.float32)
