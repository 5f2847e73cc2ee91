"""`data.sort_batch_by`: NRCCR's longest-first order within each batch (a generic collate option)."""

from __future__ import annotations

import numpy as np
import torch

from ccrkit.data.batch import TokenBatch
from ccrkit.data.datasets import TrainCollate, TrainExample


def tokenize(texts: list[str]) -> TokenBatch:
    """One id per word (its length), padded with 0."""
    width = max(len(t.split()) for t in texts)
    ids = torch.zeros(len(texts), width, dtype=torch.long)
    for row, text in enumerate(texts):
        for col, word in enumerate(text.split()):
            ids[row, col] = len(word)
    return TokenBatch(ids, (ids > 0).long(), list(texts))


def examples() -> list[TrainExample]:
    sources = ["a dog", "a big red dog runs", "one", "two cats sit"]
    return [
        TrainExample(f"i{n}", n, np.full(3, n, dtype=np.float32), {"source": s, "mt:de": f"de {n}"})
        for n, s in enumerate(sources)
    ]


def test_sorted_longest_first_with_every_view_and_the_visual_kept_aligned() -> None:
    batch = TrainCollate(tokenize, sort_by="source")(examples())
    assert batch.item_ids == ["i1", "i3", "i0", "i2"]
    assert batch.views["source"].texts == ["a big red dog runs", "two cats sit", "a dog", "one"]
    assert batch.views["mt:de"].texts == ["de 1", "de 3", "de 0", "de 2"]
    assert batch.views["source"].attention_mask.sum(dim=1).tolist() == [5, 3, 2, 1]
    assert batch.item_index.tolist() == [1, 3, 0, 2]
    assert batch.visual.values[:, 0, 0].tolist() == [1.0, 3.0, 0.0, 2.0]


def test_default_keeps_the_sampler_order() -> None:
    batch = TrainCollate(tokenize)(examples())
    assert batch.item_ids == ["i0", "i1", "i2", "i3"]


def test_unknown_view() -> None:
    import pytest

    from ccrkit.data.errors import DataError

    with pytest.raises(DataError, match="sort_batch_by names view 'bt:de'"):
        TrainCollate(tokenize, sort_by="bt:de")(examples())
