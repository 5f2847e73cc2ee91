"""`ccrkit translate` under torchrun: each rank translates its share of a job, rank 0 writes.

For a job with a cacheable backend, the job's distinct source texts (in order of first
appearance) are split by rank (`ccrkit.ranks.shard`: every world_size-th text). Each rank
translates its share into its own cache, `rank-<r>-of-<W>.sqlite` in a shard folder beside the
output file (`.<output name>.shards/`), after copying in what the shared `--cache` already knows.
Then rank 0 merges every rank's cache into the shared cache and runs the job as a single process
would: every text is cached by then, so it writes the same files (same bytes, for a backend
whose output for a sentence does not depend on the other sentences of its batch), and deletes
the shard folder. A rank killed mid-job keeps every batch it finished in its cache; a restart
with the same number of ranks gives it the same share and translates only the rest. A restart
with another number of ranks is refused: the shares would not line up with the caches.
A backend that is not cacheable (file, synthetic) runs on rank 0 alone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ccrkit.data import read_captions
from ccrkit.ranks import DistEnv, shard, shard_name
from ccrkit.translate.backend import Backend, Segment
from ccrkit.translate.cache import TranslationCache, cache_key
from ccrkit.translate.engine import EngineStats, translate_segments
from ccrkit.translate.jobs import Job


def shard_folder(job: Job) -> Path:
    return job.output_path.parent / f".{job.output_path.name}.shards"


def translate_share(
    job: Job, backend: Backend, shared: TranslationCache, env: DistEnv, progress: bool
) -> EngineStats:
    """Translate this rank's share of the job's distinct texts into the rank's own cache."""
    first: dict[str, Segment] = {}
    for record in read_captions(job.input_path):
        first.setdefault(record.text, Segment(record.cap_id, record.text))
    mine = shard(list(first.values()), env)
    folder = shard_folder(job)
    folder.mkdir(exist_ok=True)
    with TranslationCache(folder / f"{shard_name(env)}.sqlite") as own:
        key = own.register(backend.identity())
        known = shared.get_many(cache_key(backend.identity()), (s.text for s in mine))
        own.put_many(key, known.items())  # what an earlier run already translated
        desc = f"{job.label} [rank {env.rank}/{env.world_size}]"
        _, stats = translate_segments(mine, backend, own, progress, desc=desc)
    return stats


def merge_shards(job: Job, backend: Backend, shared: TranslationCache) -> None:
    """Rank 0: every rank's cache of `job` into the shared cache."""
    key = shared.register(backend.identity())
    for path in sorted(shard_folder(job).glob("rank-*-of-*.sqlite")):
        with TranslationCache(path) as part:
            shared.put_many(key, list(part.rows(cache_key(backend.identity()))))


def remove_shards(job: Job) -> None:
    shutil.rmtree(shard_folder(job), ignore_errors=True)


def combined(shares: list[EngineStats], written: EngineStats) -> EngineStats:
    """The job's figures over all ranks: what rank 0's writing pass saw (segments, distinct
    texts, warnings) plus what the ranks translated; the time is the slowest rank's."""
    written.cached = sum(s.cached for s in shares)
    written.translated = sum(s.translated for s in shares)
    written.batches = sum(s.batches for s in shares)
    written.seconds = max(s.seconds for s in shares)
    written.load_seconds = max(s.load_seconds for s in shares)
    return written
