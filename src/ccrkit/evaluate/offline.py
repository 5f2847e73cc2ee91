"""`ccrkit evaluate --sim`: metrics of similarity matrices that any model produced, read from .npy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ccrkit.evaluate.metrics import metrics_from_ranks
from ccrkit.evaluate.scores import FusedScores, MatrixScores
from ccrkit.retrieval.ranking import Ties, compute_ranks


def load_array(path: str | Path, what: str) -> np.ndarray:
    """Read a .npy file, or explain what was expected instead of a pickle or parser trace."""
    path = Path(path)
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ValueError(
            f"{path}: file not found (expected {what} saved with numpy.save)"
        ) from None
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(
            f"{path}: not a readable NumPy .npy file ({err}); expected {what} saved with numpy.save"
        ) from None


def evaluate_matrices(
    sims: Sequence[np.ndarray],
    query_item: np.ndarray,
    weights: Sequence[float] | None = None,
    ties: Ties = "pessimistic",
    ranks_dir: Path | None = None,
) -> dict[str, float]:
    """Metrics of one matrix, or of the fusion of several with `weights` (which are recorded)."""
    if len(sims) == 1 and weights is None:
        source = MatrixScores(sims[0])
    else:
        if weights is None:
            raise ValueError(f"{len(sims)} similarity matrices need --weights, one per matrix")
        source = FusedScores(
            [MatrixScores(s, f"sim #{i + 1}") for i, s in enumerate(sims)], weights
        )
    ranks = compute_ranks(source, query_item, ties)
    if ranks_dir is not None:
        ranks.save(ranks_dir)
    return metrics_from_ranks(ranks)


def distractor_note(query_item: np.ndarray, n_items: int) -> str:
    """How the gallery's items without a query were counted ('' when there are none)."""
    ranked = len(np.unique(np.asarray(query_item)))
    if ranked >= n_items:
        return ""
    return (
        f"\n{n_items - ranked} of {n_items} gallery items have no query (distractors): t2v ranks "
        f"each query against all {n_items} items; v2t is over the {ranked} items with queries"
    )


def example_similarity(
    n_items: int = 300, captions: int = 5, dim: int = 64, noise: float = 3.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A built-in example: captions are their item's vector plus noise, scored by cosine."""
    rng = np.random.default_rng(seed)
    items = rng.standard_normal((n_items, dim))
    query_item = np.repeat(np.arange(n_items), captions)
    queries = items[query_item] + noise * rng.standard_normal((len(query_item), dim))
    items /= np.linalg.norm(items, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return (queries @ items.T).astype(np.float32), query_item
