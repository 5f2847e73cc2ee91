"""`ccrkit translate` as a library call: plan the jobs from the data spec, translate through the
cache, write caption files in the spec's layout, measure quality.

`run_translate(config)` (= `TranslationRun(config).run()`) does the work and returns one
`JobResult` per job; `dry_run(config)`
returns what a run would translate and how much of it is cached, translating nothing and loading
no model weights.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccrkit.data import CaptionRecord, DataSpec, load_data_spec, read_captions
from ccrkit.ranks import DistEnv, barrier, check_world_size, gather_objects
from ccrkit.registry import import_plugins
from ccrkit.translate import sharded
from ccrkit.translate.backend import (
    Backend,
    BackendContext,
    Segment,
    TranslationError,
)
from ccrkit.translate.backends import build_backend
from ccrkit.translate.cache import TranslationCache, default_cache_path
from ccrkit.translate.config import TranslateConfig
from ccrkit.translate.engine import EngineStats, cached_count, cached_outputs, translate_segments
from ccrkit.translate.jobs import FORWARD, Job, check_outputs, plan_jobs
from ccrkit.translate.outputs import (
    Assembled,
    assemble,
    reference_scores,
    roundtrip,
    show_ids,
    write_captions,
)

logger = logging.getLogger(__name__)


@dataclass
class JobResult:
    job: Job
    status: str  # written | kept
    stats: EngineStats | None = None
    missing: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)
    quality: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class PlanRow:
    job: Job
    action: str  # write | overwrite | keep | exists (needs --force)
    captions: int | None  # None: the input is made earlier in this run and is not known yet
    unique: int | None
    cached: int | None
    note: str = ""


class Backends:
    """The forward and back backends, each built once and only for a direction with work to do
    (building reads a model's config and tokenizer; its weights load on the first batch)."""

    def __init__(self, config: TranslateConfig, spec: DataSpec) -> None:
        self.config, self.context = config, BackendContext(Path(config.root), spec)
        self._built: dict[str, Backend] = {}

    def get(self, job: Job) -> Backend:
        if job.direction not in self._built:
            settings = (
                self.config.forward if job.direction == FORWARD else self.config.back_config()
            )
            self._built[job.direction] = build_backend(settings, job.src, job.tgt, self.context)
        return self._built[job.direction]

    def identities(self) -> dict[str, Any]:
        return {direction: backend.identity() for direction, backend in self._built.items()}


class TranslationRun:
    """A checked plan: building it reads the spec, refuses existing outputs and builds every
    backend needed (a bad model, language or file fails here, before any work); `run()` works."""

    def __init__(self, config: TranslateConfig) -> None:
        self.config = config
        spec, self.jobs, self.actions = _prepare(config)
        self.backends = Backends(config, spec)
        for job in self.jobs:
            if self.actions[job.output_path] == "write":
                self.backends.get(job)

    def check_shards(self, env: DistEnv) -> None:
        """Refuse shards an unfinished run with another number of ranks left (before joining
        the process group: every rank fails alike, with one clear line)."""
        if env.distributed:
            for job in self.jobs:
                check_world_size(sharded.shard_folder(job), env)

    def run(
        self, progress: bool = True, env: DistEnv | None = None
    ) -> tuple[list[JobResult], dict[str, Any]]:
        """Translate every job; returns the results and the identities of the backends used.

        Under torchrun (`env` of several ranks, group joined) every rank translates its share
        and rank 0 writes the files (`translate.sharded`); the other ranks return no results."""
        env = env or DistEnv()
        results = []
        failed: dict[Path, set[tuple[str, str]]] = {}  # output -> (item, n) of empty outputs
        with _open_cache(self.config) as cache:
            self.check_shards(env)
            barrier(env)  # every rank has checked the outputs before rank 0 writes any
            for job in self.jobs:
                if self.actions[job.output_path] == "keep":
                    results.append(JobResult(job, "kept"))
                    continue
                backend = self.backends.get(job)
                if not env.distributed:
                    results.append(_run_job(job, backend, cache, progress, failed))
                    continue
                results.append(_run_sharded(job, backend, cache, progress, failed, env))
        return (results if env.is_main else []), self.backends.identities()


def run_translate(
    config: TranslateConfig, progress: bool = True
) -> tuple[list[JobResult], dict[str, Any]]:
    """Translate every planned job; returns the results and the identities of the backends used."""
    return TranslationRun(config).run(progress)


def dry_run(config: TranslateConfig) -> list[PlanRow]:
    spec, jobs, actions = _prepare(config, dry=True)
    backends = Backends(config, spec)
    rows: list[PlanRow] = []
    upcoming: dict[Path, tuple[list[Segment], Backend]] = {}  # outputs this run would write
    with _open_cache(config, create=False) as cache:
        for job in jobs:
            action = actions[job.output_path]
            if action == "keep":
                rows.append(PlanRow(job, "keep", None, None, None, "existing output kept"))
                continue
            backend = backends.get(job)
            segments, note = _planned_inputs(job, upcoming, cache)
            if action == "write" and job.output_path.exists():
                action = "overwrite" if config.force else "exists (needs --force)"
            if segments is None:
                rows.append(PlanRow(job, action, None, None, None, note))
                continue
            upcoming[job.output_path] = (segments, backend)
            warnings = backend.prepare(segments)
            unique, cached = cached_count(segments, backend, cache)
            rows.append(
                PlanRow(job, action, len(segments), unique, cached, note or "; ".join(warnings))
            )
    return rows


def _prepare(config: TranslateConfig, dry: bool = False) -> tuple[DataSpec, list[Job], dict]:
    import_plugins(config.plugins)
    spec = load_data_spec(config.data)
    if config.tgt not in spec.target_langs:
        logger.warning(
            "warning: data spec '%s' lists target languages %s, not '%s'; files are named for '%s' "
            "anyway", spec.name, ", ".join(spec.target_langs), config.tgt, config.tgt,
        )  # fmt: skip
    jobs = plan_jobs(
        spec, config.root, config.splits, config.src, config.tgt, config.back_translate
    )
    actions = check_outputs(jobs, config.force or dry, config.keep_existing)
    return spec, jobs, actions


@contextlib.contextmanager
def _open_cache(config: TranslateConfig, create: bool = True) -> Iterator[TranslationCache | None]:
    """The cache; with `create=False` (a dry run) None when there is no cache file yet."""
    path = Path(config.cache) if config.cache else default_cache_path()
    if not create and not path.is_file():
        yield None
        return
    with TranslationCache(path) as cache:
        yield cache


def _run_job(
    job: Job,
    backend: Backend,
    cache: TranslationCache,
    progress: bool,
    failed: dict[Path, set[tuple[str, str]]],
) -> JobResult:
    inputs = read_captions(job.input_path)
    segments = [Segment(record.cap_id, record.text) for record in inputs]
    outputs, stats = translate_segments(segments, backend, cache, progress, desc=job.label)
    assembled = assemble(inputs, outputs, job.output_tag)
    if inputs and len(assembled.empty) == len(inputs):  # a file of copied sources is no MT
        raise TranslationError(
            f"{job.label}: all {len(inputs)} translations came back empty, so "
            f"{job.output_path.name} was not written; check that the model translates "
            f"{job.src} -> {job.tgt} (model: {backend.identity().get('model', backend.name)})"
        )
    write_captions(job.output_path, assembled.records)
    failed[job.output_path] = assembled.failed
    result = JobResult(
        job, "written", stats, assembled.missing, assembled.empty, assembled.truncated
    )
    result.warnings = stats.warnings + _issue_warnings(job, assembled, backend)
    both = assembled.failed | failed.get(job.input_path, set())
    result.quality = _quality(job, assembled.records, both)
    for warning in result.warnings:
        logger.warning("warning: %s", warning)
    return result


def _run_sharded(
    job: Job,
    backend: Backend,
    cache: TranslationCache,
    progress: bool,
    failed: dict[Path, set[tuple[str, str]]],
    env: DistEnv,
) -> JobResult:
    """One job over all ranks: shares translated, merged and written by rank 0; every rank
    returns when the output exists (the next job may read it)."""
    shares = None
    if backend.cacheable:
        shares = gather_objects(sharded.translate_share(job, backend, cache, env, progress), env)
        if env.is_main:
            sharded.merge_shards(job, backend, cache)
    result = JobResult(job, "written")
    if env.is_main:
        result = _run_job(job, backend, cache, progress, failed)
        if shares is not None and result.stats is not None:
            result.stats = sharded.combined(shares, result.stats)
        sharded.remove_shards(job)
    barrier(env)
    return result


def _quality(
    job: Job, records: list[CaptionRecord], failed: set[tuple[str, str]]
) -> dict[str, Any] | None:
    if job.step == "bt" and job.source_path is not None and job.source_path.is_file():
        scores, path = roundtrip(job.input_path, records, job.source_path, job.tgt, failed)
        return {**scores, "roundtrip_file": path.name} if scores else None
    return reference_scores(records, job.reference_path, job.tgt)


def _issue_warnings(job: Job, assembled: Assembled, backend: Backend) -> list[str]:
    where = f"{job.label} ({job.output_path.name})"
    warnings = []
    if assembled.truncated:
        limit = getattr(backend, "max_input_tokens", "?")
        warnings.append(
            f"{where}: {len(assembled.truncated)} caption(s) longer than the model's limit of "
            f"{limit} tokens were truncated before translation: {show_ids(assembled.truncated)}"
        )
    if assembled.empty:
        warnings.append(
            f"{where}: {len(assembled.empty)} empty translation(s) were replaced by the source "
            f"text: {show_ids(assembled.empty)}"
        )
    if assembled.missing:
        warnings.append(
            f"{where}: {len(assembled.missing)} caption(s) have no translation and were left out: "
            f"{show_ids(assembled.missing)}"
        )
    return warnings


def _written_text(segment: Segment, output: Any) -> str:
    """What the output file will hold for `segment` (an empty translation becomes the source)."""
    return output.text if output.text and output.text.strip() else segment.text


def _planned_inputs(
    job: Job, upcoming: dict[Path, tuple[list[Segment], Backend]], cache: TranslationCache | None
) -> tuple[list[Segment] | None, str]:
    """The segments a job would read: from its input file, or (when an earlier job of this run
    writes that file) the earlier job's cached translations, as far as they are known."""
    if job.input_path not in upcoming:
        if not job.input_path.is_file():
            return None, f"input missing: {job.input_path}"
        return [Segment(r.cap_id, r.text) for r in read_captions(job.input_path)], ""
    earlier, backend = upcoming[job.input_path]
    known = cached_outputs(earlier, backend, cache)
    segments = [Segment(s.id, _written_text(s, known[s.text])) for s in earlier if s.text in known]
    if len(segments) < len(earlier):
        return None, f"input made by this run: {len(segments)}/{len(earlier)} known from the cache"
    return segments, "input from the cache"
