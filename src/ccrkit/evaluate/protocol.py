"""The evaluation protocol shared by every method (methods.md §1.4, §5).

Given anything with `tokenize`, `encode_text(tokens, lang)` and `encode_visual(visual)` and an
evaluation set (`EvalDataset` of the data layer, or any object with the same attributes), encode
the gallery and the queries in batches, then score:

- `<lang> native`: the human target-language queries alone (fusion weight 0);
- `<lang> fused w=<w>`: NRCCR's translate-test fusion w·minmax(S(q')) + (1−w)·minmax(S(q)) with q'
  the MT of each query into English, for every configured weight (0.2 at validation, 0.5 at image
  test in NRCCR);
- `en source`: the English captions, when the set has them.

Each label gets t2v and v2t metrics and, optionally, per-query ranks on disk (with the query ->
item map and the gallery's ids, so ranks can be aligned across languages and runs).
`evaluate_languages` scores several query languages over one gallery and adds the
`cross-language` row (MRV, mR spread; `crosslang`); `validate_languages` selects on the mean of
the languages' selection scores. Never imports the trainer: the trainer's validation calls into
this module.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from ccrkit.data.batch import VisualBatch
from ccrkit.evaluate.crosslang import (
    CROSS_LABEL,
    LanguageRanks,
    cross_language_metrics,
    save_rank_files,
)
from ccrkit.evaluate.metrics import metrics_from_ranks
from ccrkit.evaluate.scores import EmbeddingScores, FusedScores, ScoreSource
from ccrkit.evaluate.table import results_tables
from ccrkit.retrieval.ranking import TIE_POLICIES, compute_ranks
from ccrkit.runs import write_atomic

SELECTION_METRICS = ("t2v_sum", "v2t_sum", "sumr", "mr")


@dataclass
class EvalConfig:
    batch_size: int = 256
    fusion_weights: list[float] = field(default_factory=lambda: [0.2, 0.5])  # test-time fusion
    val_fusion_weight: float = 0.2  # NRCCR validates on fused scores with w = 0.2
    select_metric: str = "t2v_sum"  # NRCCR: t2v R@1+R@5+R@10; CCRk: mr
    ties: str = "pessimistic"
    english: bool = True  # also score the English source captions when the set has them
    save_ranks: bool = True

    def __post_init__(self) -> None:
        if self.select_metric not in SELECTION_METRICS:
            raise ValueError(
                f"select_metric must be one of {', '.join(SELECTION_METRICS)}, got {self.select_metric!r}"
            )
        if self.ties not in TIE_POLICIES:
            raise ValueError(f"ties must be one of {', '.join(TIE_POLICIES)}, got {self.ties!r}")
        for weight in [*self.fusion_weights, self.val_fusion_weight]:
            if not 0.0 <= weight <= 1.0:
                raise ValueError(f"fusion weights must lie in [0, 1], got {weight}")


class Encoder(Protocol):
    def tokenize(self, texts: list[str]) -> Any: ...
    def encode_text(self, tokens: Any, lang: str) -> torch.Tensor: ...
    def encode_visual(self, visual: VisualBatch) -> torch.Tensor: ...


class EvalSet(Protocol):
    item_ids: list[str]
    query_texts: list[str]
    query_texts_to_en: list[str] | None
    query_item: np.ndarray
    source_texts: list[str] | None
    source_item: np.ndarray | None

    def visual_batches(self, batch_size: int) -> Iterator[VisualBatch]: ...


ENGLISH_SOURCE_LABEL = "en source"


def native_label(lang: str) -> str:
    return f"{lang} native"


def fused_label(lang: str, weight: float) -> str:
    return native_label(lang) if weight == 0 else f"{lang} fused w={weight:g}"


def selection_score(metrics: dict[str, float], name: str) -> float:
    """The model-selection number (higher is better): t2v_sum = t2v R@1+R@5+R@10 (NRCCR), mr, ..."""
    if name == "t2v_sum":
        return metrics["t2v_r1"] + metrics["t2v_r5"] + metrics["t2v_r10"]
    if name == "v2t_sum":
        return metrics["v2t_r1"] + metrics["v2t_r5"] + metrics["v2t_r10"]
    if name in ("sumr", "mr"):
        return metrics[name]
    raise ValueError(f"unknown selection metric {name!r}; known: {', '.join(SELECTION_METRICS)}")


@contextlib.contextmanager
def eval_mode(module: Any) -> Iterator[None]:
    """Eval mode and no autograd for the duration; the previous training flag is restored.

    `no_grad`, not `inference_mode`: a module that keeps training after validation must not be
    left holding inference tensors (e.g. caches some Hugging Face models build lazily).
    """
    was_training = getattr(module, "training", False)
    if hasattr(module, "eval"):
        module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training:
            module.train()


def encode_texts(
    method: Encoder, texts: Sequence[str], lang: str, batch_size: int, device: torch.device | str
) -> np.ndarray:
    """(len(texts), D) float32 embeddings, encoded `batch_size` captions at a time."""
    parts = []
    for start in range(0, len(texts), batch_size):
        tokens = method.tokenize(list(texts[start : start + batch_size])).to(device)
        parts.append(method.encode_text(tokens, lang).float().cpu().numpy())
    return np.concatenate(parts)


def encode_gallery(
    method: Encoder, batches: Iterator[VisualBatch], device: torch.device | str
) -> np.ndarray:
    return np.concatenate(
        [method.encode_visual(batch.to(device)).float().cpu().numpy() for batch in batches]
    )


def _shared_galleries(
    method: Encoder, datasets: Mapping[str, EvalSet], batch_size: int, device: torch.device | str
) -> dict[str, np.ndarray]:
    """Each language's gallery embeddings, encoded once per distinct gallery (the languages of
    a multi-language run share one: the same item ids)."""
    encoded: dict[tuple[str, ...], np.ndarray] = {}
    with eval_mode(method):
        for dataset in datasets.values():
            key = tuple(dataset.item_ids)
            if key not in encoded:
                encoded[key] = encode_gallery(method, dataset.visual_batches(batch_size), device)
    return {lang: encoded[tuple(dataset.item_ids)] for lang, dataset in datasets.items()}


def evaluate_method(
    method: Encoder,
    dataset: EvalSet,
    lang: str,
    weights: Sequence[float] = (0.2, 0.5),
    config: EvalConfig | None = None,
    device: torch.device | str = "cpu",
    ranks_dir: Path | None = None,
    progress: bool = False,
    gallery: np.ndarray | None = None,
) -> dict[str, dict[str, float]]:
    """{label: metrics} for native queries, each fusion weight, and English captions.

    `gallery`: the set's item embeddings when the caller already has them (several languages
    over one gallery); encoded here otherwise."""
    scored = _evaluate(method, dataset, lang, weights, config, device, ranks_dir, progress, gallery)
    return {label: metrics for label, (metrics, _) in scored.items()}


def evaluate_languages(
    method: Encoder,
    datasets: Mapping[str, EvalSet],
    weights: Sequence[float] = (0.2, 0.5),
    config: EvalConfig | None = None,
    device: torch.device | str = "cpu",
    ranks_dir: Path | None = None,
    progress: bool = False,
) -> dict[str, dict[str, float]]:
    """`evaluate_method` for every language of `datasets` ({lang: set over the same gallery}),
    English captions once (with the first language), and with two or more languages the
    `CROSS_LABEL` row: MRV of the native queries and the spread of their mR (`crosslang`)."""
    config = config or EvalConfig()
    results: dict[str, dict[str, float]] = {}
    native: list[LanguageRanks] = []
    galleries = _shared_galleries(method, datasets, config.batch_size, device)
    for index, (lang, dataset) in enumerate(datasets.items()):
        wanted = config if index == 0 else replace(config, english=False)
        scored = _evaluate(
            method, dataset, lang, weights, wanted, device, ranks_dir, progress, galleries[lang]
        )
        results |= {label: metrics for label, (metrics, _) in scored.items()}
        native.append(scored[native_label(lang)][1])
    if len(native) > 1:
        mr = {ranks.lang: results[native_label(ranks.lang)]["mr"] for ranks in native}
        results[CROSS_LABEL] = cross_language_metrics(native, mr)
    return results


def _evaluate(
    method: Encoder,
    dataset: EvalSet,
    lang: str,
    weights: Sequence[float],
    config: EvalConfig | None,
    device: torch.device | str,
    ranks_dir: Path | None,
    progress: bool,
    gallery: np.ndarray | None = None,
) -> dict[str, tuple[dict[str, float], LanguageRanks]]:
    config = config or EvalConfig()
    size = config.batch_size
    with eval_mode(method):
        steps = tqdm(total=3, desc=f"evaluate {lang}", disable=not progress, leave=False)
        items = (
            gallery
            if gallery is not None
            else encode_gallery(method, dataset.visual_batches(size), device)
        )
        steps.update()
        native = EmbeddingScores(
            encode_texts(method, dataset.query_texts, lang, size, device), items
        )
        steps.update()
        sources: dict[str, tuple[ScoreSource, np.ndarray, str]] = {
            native_label(lang): (native, dataset.query_item, lang)
        }
        if dataset.query_texts_to_en is not None and any(w > 0 for w in weights):
            to_en = EmbeddingScores(
                encode_texts(method, dataset.query_texts_to_en, "en", size, device), items
            )
            for weight in (w for w in weights if w > 0):
                fused = FusedScores([to_en, native], [weight, 1.0 - weight])
                sources[fused_label(lang, weight)] = (fused, dataset.query_item, lang)
        if config.english and dataset.source_texts is not None:
            english = EmbeddingScores(
                encode_texts(method, dataset.source_texts, "en", size, device), items
            )
            sources[ENGLISH_SOURCE_LABEL] = (english, dataset.source_item, "en")
        steps.update()
        steps.close()
    return {
        label: _score(source, query_item, label, query_lang, dataset, config, ranks_dir)
        for label, (source, query_item, query_lang) in sources.items()
    }


def _score(
    source: ScoreSource,
    query_item: np.ndarray,
    label: str,
    lang: str,
    dataset: EvalSet,
    config: EvalConfig,
    ranks_dir: Path | None,
) -> tuple[dict[str, float], LanguageRanks]:
    ranks = compute_ranks(source, query_item, config.ties)  # type: ignore[arg-type]
    if ranks_dir is not None and config.save_ranks:
        save_rank_files(ranks_dir, f"{slug(label)}.", ranks, query_item, dataset.item_ids)
    return metrics_from_ranks(ranks), LanguageRanks.from_ranks(
        lang, ranks, query_item, dataset.item_ids
    )


def slug(label: str) -> str:
    """A file-name-safe form of a label: "de fused w=0.2" -> "de_fused_w0.2"."""
    return re.sub(r"[^A-Za-z0-9.]+", "_", label.replace("=", "")).strip("_")


def write_results(path: str | Path, results: dict[str, dict[str, float]], title: str) -> Path:
    """`results.md`: a heading, the metrics table (native and fused rows labelled) and, for
    several languages, the cross-language table (MRV, mR spread)."""
    text = f"# {title}\n\n{results_tables(results)}\n"
    write_atomic(path, text.encode("utf-8"))
    return Path(path)


def validation_label(lang: str, dataset: EvalSet, weight: float) -> str:
    """The label validation selects on: fused at `weight` when MT-to-English queries exist."""
    return (
        fused_label(lang, weight) if dataset.query_texts_to_en is not None else native_label(lang)
    )


def validate(
    method: Encoder,
    dataset: EvalSet,
    lang: str,
    config: EvalConfig,
    device: torch.device | str = "cpu",
    gallery: np.ndarray | None = None,
) -> tuple[dict[str, dict[str, float]], float]:
    """NRCCR validation: metrics at the validation fusion weight and the selection score on them."""
    no_english = replace(config, english=False)
    results = evaluate_method(
        method, dataset, lang, [config.val_fusion_weight], no_english, device, gallery=gallery
    )
    label = validation_label(lang, dataset, config.val_fusion_weight)
    return results, selection_score(results[label], config.select_metric)


def validate_languages(
    method: Encoder,
    datasets: Mapping[str, EvalSet],
    config: EvalConfig,
    device: torch.device | str = "cpu",
) -> tuple[dict[str, dict[str, float]], float]:
    """`validate` in every language of `datasets`; the selection score is their mean (one
    language: exactly `validate`)."""
    results: dict[str, dict[str, float]] = {}
    scores = []
    galleries = _shared_galleries(method, datasets, config.batch_size, device)
    for lang, dataset in datasets.items():
        found, score = validate(method, dataset, lang, config, device, galleries[lang])
        results |= found
        scores.append(score)
    return results, float(np.mean(scores))
