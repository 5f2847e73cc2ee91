"""Translation: turn a collection's English captions into any target language (and back) with a
real MT model, an existing translation file or the synthetic world's MT, cached and measured.

Public names:
- backends: `Backend` (the protocol), `BACKENDS` (registry: `hf`, `file`, `synthetic`),
  `build_backend`, `Segment`, `Output`, `BackendContext`, `TranslationError`;
- running: `TranslateConfig`, `BackendConfig`, `DecodeConfig`, `run_translate` (or
  `TranslationRun(config).run()`), `dry_run`,
  `translate_segments` (any backend, through the cache), `plan_jobs`, `Job`;
- the cache: `TranslationCache`, `default_cache_path`, `cache_key`;
- quality: `corpus_scores`, `sentence_chrf`, `bleu_tokenizer`, and the round-trip scores beside
  MT files: `read_roundtrip`, `roundtrip_scores`, `roundtrip_path`.
"""

from ccrkit.translate.backend import (
    BACKENDS,
    Backend,
    BackendContext,
    Output,
    Segment,
    TranslationError,
)
from ccrkit.translate.backends import build_backend
from ccrkit.translate.cache import TranslationCache, cache_key, default_cache_path
from ccrkit.translate.config import BackendConfig, DecodeConfig, TranslateConfig
from ccrkit.translate.engine import EngineStats, translate_segments
from ccrkit.translate.jobs import Job, plan_jobs
from ccrkit.translate.pipeline import JobResult, PlanRow, TranslationRun, dry_run, run_translate
from ccrkit.translate.quality import bleu_tokenizer, corpus_scores, sentence_chrf
from ccrkit.translate.roundtrip import read_roundtrip, roundtrip_path, roundtrip_scores

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendConfig",
    "BackendContext",
    "DecodeConfig",
    "EngineStats",
    "Job",
    "JobResult",
    "Output",
    "PlanRow",
    "Segment",
    "TranslateConfig",
    "TranslationCache",
    "TranslationError",
    "TranslationRun",
    "bleu_tokenizer",
    "build_backend",
    "cache_key",
    "corpus_scores",
    "default_cache_path",
    "dry_run",
    "plan_jobs",
    "read_roundtrip",
    "roundtrip_path",
    "roundtrip_scores",
    "run_translate",
    "sentence_chrf",
    "translate_segments",
]  # fmt: skip
