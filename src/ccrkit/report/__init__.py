"""Experiment grids and their results pages (`ccrkit report`): runs cached by config hash, worlds
generated once per MT noise level, SumR mean ± std over seeds, per-language recall and MRV
(`languages`), Markdown tables and PNG plots, and `results/README.md`, the comparison report that
gathers every grid page."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ccrkit.report.aggregate import Row, summarise
from ccrkit.report.execute import execute, is_done
from ccrkit.report.languages import LanguageRow, summarise_languages
from ccrkit.report.page import Budget, write_page
from ccrkit.report.plan import PlannedRun, describe, plan_experiment, unique_runs
from ccrkit.report.plot import plot_languages, plot_noise
from ccrkit.report.spec import ExperimentSpec, GridSpec, MethodSpec, WorldSpec, load_grid
from ccrkit.report.worlds import prepare_worlds

__all__ = [
    "ExperimentSpec",
    "GridSpec",
    "MethodSpec",
    "ReportOutcome",
    "WorldSpec",
    "describe",
    "load_grid",
    "plan_grid",
    "run_report",
]


@dataclass
class ReportOutcome:
    page: Path | None
    runs: list[PlannedRun]
    tables: dict[str, list[Row]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    languages: dict[str, list[LanguageRow]] = field(default_factory=dict)


def plan_grid(grid: GridSpec) -> tuple[dict[str, list[PlannedRun]], dict]:
    """Worlds (generated if missing) and every experiment's runs."""
    levels = [n for e in grid.experiments for n in grid.noise_levels(e)]
    worlds = prepare_worlds(grid, levels)
    planned = {e.name: plan_experiment(grid, e, worlds) for e in grid.experiments}
    first: dict[str, Path] = {}
    for run in (run for runs in planned.values() for run in runs):
        # a run two experiments share (same config hash) lives in the folder named first
        run.run_dir = first.setdefault(run.digest, run.run_dir)
    return planned, worlds


def run_report(
    grid: GridSpec, source: str, dry_run: bool = False, progress: bool = True
) -> ReportOutcome:
    """Train what is missing, then write the page, the JSON, the plots and the index."""
    planned, worlds = plan_grid(grid)
    runs = unique_runs([run for runs in planned.values() for run in runs])
    if dry_run:
        return ReportOutcome(None, runs)
    todo = sum(not is_done(run) for run in runs)
    started = time.perf_counter()
    failures = execute(runs, grid.jobs, grid.threads, progress)
    budget = Budget(len(runs), todo, wall_seconds=time.perf_counter() - started)
    tables = {
        name: summarise(grid, _experiment(grid, name), rows) for name, rows in planned.items()
    }
    languages = {
        e.name: summarise_languages(grid, e, planned[e.name])
        for e in grid.experiments
        if e.cross_language
    }
    budget.train_seconds, budget.epochs = _run_costs(runs)
    plots = {
        e.name: _plots(grid, e, tables[e.name], languages.get(e.name)) for e in grid.experiments
    }
    page = write_page(grid, source, tables, plots, worlds, budget, failures, languages)
    return ReportOutcome(page, runs, tables, failures, languages)


def _plots(
    grid: GridSpec, experiment: ExperimentSpec, rows: list[Row], languages: list[LanguageRow] | None
) -> list[Path]:
    """The noise plot (`plot: true`) and, per noise level, the language plot (`cross_language`)."""
    out, title = Path(grid.out), experiment.title or experiment.name
    paths = []
    if experiment.plot:
        path = out / f"{grid.name}-{experiment.name}.png"
        paths.append(plot_noise(rows, path, title, grid.fused_weight))
    levels = grid.noise_levels(experiment)
    for noise in levels if languages else []:
        chosen = [row for row in languages or [] if row.noise == noise]
        suffix = "" if len(levels) == 1 else f"-noise{noise:g}"
        path = out / f"{grid.name}-{experiment.name}-languages{suffix}.png"
        paths.append(plot_languages(chosen, path, f"{title} (MT noise {noise:g})"))
    return paths


def _experiment(grid: GridSpec, name: str) -> ExperimentSpec:
    return next(e for e in grid.experiments if e.name == name)


def _run_costs(runs: list[PlannedRun]) -> tuple[list[float], list[int]]:
    """Training seconds and epochs trained of every finished run."""
    from ccrkit.report.execute import read_record, run_seconds

    seconds, epochs = [], []
    for run in runs:
        record = read_record(run) or {}
        value = run_seconds(record) if record else None
        if value is not None:
            seconds.append(value)
        if record.get("epochs") is not None:
            epochs.append(int(record["epochs"]))
    return seconds, epochs
