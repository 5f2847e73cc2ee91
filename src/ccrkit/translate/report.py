"""The summary of a translation run (Markdown table, and one JSON-ready row per job for run.json)
and of a dry run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ccrkit.tables import pipe_table
from ccrkit.translate.pipeline import JobResult, PlanRow

RESULT_COLUMNS = (
    "split", "output", "langs", "captions", "unique", "cached", "translated", "sent/s",
    "truncated", "empty", "missing", "BLEU", "chrF", "round-trip chrF", "status",
)  # fmt: skip
PLAN_COLUMNS = (
    "split", "output", "langs", "captions", "unique", "cached", "to translate", "action", "file",
    "note",
)  # fmt: skip


def result_row(result: JobResult) -> dict[str, Any]:
    """What run.json records for one job."""
    job, stats = result.job, result.stats
    row: dict[str, Any] = {
        "split": job.split, "step": job.step, "src": job.src, "tgt": job.tgt,
        "input": str(job.input_path), "output": str(job.output_path), "status": result.status,
    }  # fmt: skip
    if stats is not None:
        row |= {
            "captions": stats.segments, "unique": stats.unique, "cached": stats.cached,
            "translated": stats.translated, "batches": stats.batches,
            "seconds": round(stats.seconds, 3),
            "sentences_per_s": _round(stats.sentences_per_s),
            "truncated": len(result.truncated), "empty": len(result.empty),
            "missing": len(result.missing), "truncated_ids": result.truncated[:100],
            "empty_ids": result.empty[:100], "missing_ids": result.missing[:100],
        }  # fmt: skip
    row["quality"] = result.quality
    row["warnings"] = result.warnings
    return row


def results_table(results: Sequence[JobResult]) -> str:
    rows = []
    for result in results:
        job, stats, quality = result.job, result.stats, result.quality or {}
        counts: list[Any] = ["–"] * 8
        if stats is not None:
            counts = [
                stats.segments, stats.unique, stats.cached, stats.translated,
                _fmt(stats.sentences_per_s), len(result.truncated), len(result.empty),
                len(result.missing),
            ]  # fmt: skip
        scores = [_fmt(quality.get("bleu")), _fmt(quality.get("chrf")),
                  _fmt(quality.get("roundtrip_chrf_mean"))]  # fmt: skip
        rows.append(
            [job.split, job.output_tag, f"{job.src}→{job.tgt}", *counts, *scores, result.status]
        )
    return pipe_table(RESULT_COLUMNS, rows)


def plan_table(rows: Sequence[PlanRow]) -> str:
    cells = []
    for row in rows:
        job = row.job
        todo = None if row.unique is None or row.cached is None else row.unique - row.cached
        cells.append([
            job.split, job.output_tag, f"{job.src}→{job.tgt}", _fmt(row.captions), _fmt(row.unique),
            _fmt(row.cached), _fmt(todo), row.action, job.output_path.name, row.note or "",
        ])  # fmt: skip
    return pipe_table(PLAN_COLUMNS, cells)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
