"""NRF's parallel-data selectors (methods.md §2, "selected parallel data" [abs]; the rules [ours]).

A selector decides which (source, MT) pairs train NRF's noise filter and cross-lingual term; every
pair still feeds the vision terms. Selectors register by name in `PAIR_SELECTORS` (config:
`method.selector` + `method.selection`, that selector's own parameters):

- `roundtrip`: the pairs whose round-trip chrF (the back-translation against its source, the
  translation stage's `.roundtrip.tsv` beside the MT file) is highest — the top `fraction` of the
  training set per language, or every pair with chrF ≥ `min_chrf`. Without the `.roundtrip.tsv`
  the scores are computed from the back-translation file with the translation stage's own
  `sentence_chrf` (`missing: compute`), or reported as an error naming the command that writes
  them (`missing: error`, or no back-translations either);
- `fraction`: a fixed random `fraction` of the training set (seeded), the control for selection;
- `similarity`: per batch, the top `fraction` of pairs by the current model's cosine between the
  source and the target (`between: encoder`, the text encoder's pooled states — mBERT(s) vs
  mBERT(t)) or between the source and its back-translation (`between: backtranslation`, e_s vs e_b);
- `all`: every pair (no selection).

Dataset-level selectors keep exactly round(fraction · N) of the N training pairs (ties broken by
row order); the per-batch one round(fraction · B) of each batch. What was kept, and by which rule,
is returned by `prepare` and recorded in run.json.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ccrkit.config import build
from ccrkit.data.datasets import TrainingData
from ccrkit.data.errors import DataError
from ccrkit.methods.nrf.roundtrip import check_roundtrip_sources, training_roundtrip_scores
from ccrkit.registry import Registry

MISSING_RULES = ("compute", "error")
BETWEEN = ("encoder", "backtranslation")


def kept_count(fraction: float, total: int) -> int:
    """round(fraction · total), halves rounded up: how many pairs a fraction keeps."""
    return math.floor(fraction * total + 0.5)


def top_fraction(scores: torch.Tensor, fraction: float) -> torch.Tensor:
    """(N,) bool: the round(fraction · N) highest scores, ties going to the earlier row."""
    keep = torch.zeros(len(scores), dtype=torch.bool, device=scores.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    keep[order[: kept_count(fraction, len(scores))]] = True
    return keep


def _check_fraction(fraction: float) -> None:
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")


@dataclass
class SelectionInput:
    """What a selector sees of one batch and one target language."""

    lang: str
    size: int  # B
    example_index: torch.Tensor | None = None  # (B,) rows of the training set
    source: torch.Tensor | None = None  # (B, D) for per-batch similarity
    target: torch.Tensor | None = None


class PairSelector(nn.Module):
    """Base class: `prepare` once before training, `keep` per batch → (B,) bool."""

    config_class: ClassVar[type]

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config
        self.needs: str | None = None  # per-batch inputs: "encoder" | "backtranslation" | None

    def prepare(self, train_set: TrainingData) -> dict[str, Any]:
        return {"rule": self.rule()}

    def rule(self) -> str:
        raise NotImplementedError

    def keep(self, batch: SelectionInput) -> torch.Tensor:
        raise NotImplementedError


PAIR_SELECTORS: Registry[type[PairSelector]] = Registry("pair selector")


def build_selector(name: str, params: dict[str, Any], source: str = "config") -> PairSelector:
    entry = PAIR_SELECTORS.get(name)
    return entry(build(entry.config_class, params, source, "method.selection"))


# ------------------------------------------------------------------------------ per batch
@dataclass
class AllConfig:
    pass


@PAIR_SELECTORS.register("all")
class AllPairs(PairSelector):
    config_class = AllConfig

    def rule(self) -> str:
        return "all pairs"

    def prepare(self, train_set: TrainingData) -> dict[str, Any]:
        return {"rule": self.rule(), "fraction": 1.0}

    def keep(self, batch: SelectionInput) -> torch.Tensor:
        return torch.ones(batch.size, dtype=torch.bool)


@dataclass
class SimilarityConfig:
    fraction: float = 0.5  # [ours]
    between: str = "encoder"  # encoder: text encoder's pooled s vs t | backtranslation: e_s vs e_b

    def __post_init__(self) -> None:
        _check_fraction(self.fraction)
        if self.between not in BETWEEN:
            raise ValueError(f"between must be one of {', '.join(BETWEEN)}, got {self.between!r}")


@PAIR_SELECTORS.register("similarity")
class SimilaritySelector(PairSelector):
    config_class = SimilarityConfig

    def __init__(self, config: SimilarityConfig) -> None:
        super().__init__(config)
        self.needs = config.between

    def rule(self) -> str:
        what = (
            "the text encoder's pooled source vs MT states"
            if self.config.between == "encoder"
            else "the source vs back-translation embeddings (e_s, e_b)"
        )
        return f"top {self.config.fraction:.0%} of each batch by cosine of {what}"

    def prepare(self, train_set: TrainingData) -> dict[str, Any]:
        return {"rule": self.rule(), "fraction": self.config.fraction, "per": "batch"}

    def keep(self, batch: SelectionInput) -> torch.Tensor:
        if batch.source is None or batch.target is None:
            raise ValueError("the similarity selector needs the source and target of the batch")
        with torch.no_grad():
            scores = nn.functional.cosine_similarity(batch.source, batch.target, dim=-1)
        return top_fraction(scores.float(), self.config.fraction)


# ------------------------------------------------------------------------------ dataset level
class DatasetSelector(PairSelector):
    """Decides once per training row and language (`prepare`); `keep` looks the batch's rows up."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self._tables: dict[str, torch.Tensor] = {}

    def prepare(self, train_set: TrainingData) -> dict[str, Any]:
        languages = {}
        for lang in _target_langs(train_set):
            keep, details = self.decide(train_set, lang)
            self._tables[lang] = torch.as_tensor(keep, dtype=torch.bool)
            languages[lang] = {"kept": int(keep.sum()), "total": len(keep),
                               "fraction": round(float(keep.mean()), 6), **details}  # fmt: skip
        return {"rule": self.rule(), "languages": languages}

    def decide(self, train_set: TrainingData, lang: str) -> tuple[np.ndarray, dict[str, Any]]:
        raise NotImplementedError

    def keep(self, batch: SelectionInput) -> torch.Tensor:
        table = self._tables.get(batch.lang)
        if table is None:
            raise RuntimeError(
                f"pair selector '{self.rule()}' has no decision for language '{batch.lang}': "
                "prepare_training(train_set) must run before training (the trainer's run does)"
            )
        if batch.example_index is None:
            raise ValueError(
                "this pair selector decides per training row, but the batch carries no "
                "example_index; build batches with ccrkit.data.TrainCollate from a dataset whose "
                "examples know their row (TrainExample.index)"
            )
        index = batch.example_index.to(table.device)
        return table[index].to(batch.example_index.device)


@dataclass
class FractionConfig:
    fraction: float = 0.5  # [ours]
    seed: int = 0

    def __post_init__(self) -> None:
        _check_fraction(self.fraction)


@PAIR_SELECTORS.register("fraction")
class FractionSelector(DatasetSelector):
    config_class = FractionConfig

    def rule(self) -> str:
        return (
            f"a random {self.config.fraction:.0%} of the training pairs (seed {self.config.seed})"
        )

    def decide(self, train_set: TrainingData, lang: str) -> tuple[np.ndarray, dict[str, Any]]:
        total = len(train_set)
        generator = torch.Generator().manual_seed(self.config.seed)
        order = torch.randperm(total, generator=generator)
        keep = np.zeros(total, dtype=bool)
        keep[order[: kept_count(self.config.fraction, total)].numpy()] = True
        return keep, {}


@dataclass
class RoundtripConfig:
    fraction: float = 0.5  # [ours]: keep the best half by round-trip chrF
    min_chrf: float | None = None  # instead of a fraction: keep every pair with chrF >= this
    missing: str = "compute"  # no .roundtrip.tsv: compute from the back-translations, or error

    def __post_init__(self) -> None:
        _check_fraction(self.fraction)
        if self.missing not in MISSING_RULES:
            raise ValueError(
                f"missing must be one of {', '.join(MISSING_RULES)}, got {self.missing!r}"
            )


@PAIR_SELECTORS.register("roundtrip")
class RoundtripSelector(DatasetSelector):
    config_class = RoundtripConfig

    def rule(self) -> str:
        c = self.config
        if c.min_chrf is not None:
            return f"round-trip chrF >= {c.min_chrf:g}"
        return f"top {c.fraction:.0%} by round-trip chrF"

    def check_data(self, spec: Any, root: Any, split: str, lang: str) -> None:
        """Before training: the scores, or what they are computed from, exist."""
        check_roundtrip_sources(spec, root, split, lang, self.config.missing)

    def decide(self, train_set: TrainingData, lang: str) -> tuple[np.ndarray, dict[str, Any]]:
        scores, origin = training_roundtrip_scores(train_set, lang, self.config.missing)
        if self.config.min_chrf is not None:
            keep = scores >= self.config.min_chrf
        else:
            keep = top_fraction(torch.as_tensor(scores), self.config.fraction).numpy()
        kept = scores[keep]
        details = {"scores": origin, "mean_chrf": round(float(scores.mean()), 2),
                   "threshold": round(float(kept.min()), 2) if len(kept) else None}  # fmt: skip
        return keep, details


def _target_langs(train_set: TrainingData) -> list[str]:
    langs = getattr(train_set, "target_langs", None)
    if not langs:
        raise DataError(
            "the pair selector needs the training set's target languages (TrainDataset.target_langs)"
        )
    return list(langs)
