"""Experiment grids and their results pages (`ccrkit report`): runs cached by config hash, worlds
generated once per MT noise level, SumR mean ± std over seeds, per-language recall and MRV
(`languages`), Markdown tables and PNG plots, and `results/README.md`, the comparison report that
gathers every grid page."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ccrkit.report.aggregate import Row, is_capped, is_still_improving, summarise
from ccrkit.report.claims import ClaimResult, evaluate_claims
from ccrkit.report.compare import Comparison, cells_needing_seeds, compare, pairs
from ccrkit.report.estimate import Plan, plan_costs
from ccrkit.report.execute import execute, is_done, read_record, run_seconds
from ccrkit.report.grid import load_grid
from ccrkit.report.languages import LanguageRow, summarise_languages
from ccrkit.report.matched import check_grid
from ccrkit.report.page import Budget, Results, page_code, write_page
from ccrkit.report.plan import PlannedRun, describe, plan_experiment, unique_runs
from ccrkit.report.plot import plot_languages, plot_noise
from ccrkit.report.spec import ExperimentSpec, GridSpec, MethodSpec, WorldSpec
from ccrkit.report.worlds import World, generate_worlds, locate_worlds

__all__ = [
    "ExperimentSpec",
    "GridSpec",
    "MethodSpec",
    "ReportOutcome",
    "WorldSpec",
    "describe",
    "estimate_grid",
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
    comparisons: dict[str, list[Comparison]] = field(default_factory=dict)
    claims: list[ClaimResult] = field(default_factory=list)
    untrained: int = 0  # runs of the page not trained yet (`train=False`: a partial page)


@dataclass
class GridPlan:
    """A grid's runs by experiment and its worlds, found or planned: nothing written yet."""

    runs: dict[str, list[PlannedRun]]
    worlds: dict[float, World]

    @property
    def identities(self) -> dict[float, tuple[Path, str]]:
        return {noise: (w.root, w.identity) for noise, w in self.worlds.items()}

    def unique(self) -> list[PlannedRun]:
        return unique_runs([run for runs in self.runs.values() for run in runs])

    def add(self, experiment: str, runs: list[PlannedRun]) -> None:
        self.runs[experiment] = [*self.runs[experiment], *runs]
        _share_folders(self.runs)


def plan_grid(grid: GridSpec) -> GridPlan:
    """Every experiment's runs and the worlds they read; reads folders, writes nothing."""
    levels = [n for e in grid.experiments for n in grid.noise_levels(e)]
    worlds = locate_worlds(grid, levels)
    plan = GridPlan({}, worlds)
    plan.runs = {e.name: plan_experiment(grid, e, plan.identities) for e in grid.experiments}
    _share_folders(plan.runs)
    return plan


def _share_folders(planned: dict[str, list[PlannedRun]]) -> None:
    first: dict[str, Path] = {}
    for run in (run for runs in planned.values() for run in runs):
        # a run two experiments share (same config hash) lives in the folder named first
        run.run_dir = first.setdefault(run.digest, run.run_dir)


def estimate_grid(grid: GridSpec) -> tuple[GridPlan, Plan]:
    """The plan and its expected cost (`report.estimate`). Runs of `more_seeds` already trained
    join the plan; the others count as the most that close comparisons may add (every seed of
    `more_seeds` for both sides of every comparison)."""
    plan = plan_grid(grid)
    known = {run.digest for run in plan.unique()}
    extra = [r for r in unique_runs(_add_finished_more_seeds(grid, plan)) if r.digest not in known]
    return plan, plan_costs(grid, plan.unique(), plan.worlds, extra)


def _add_finished_more_seeds(grid: GridSpec, plan: GridPlan) -> list[PlannedRun]:
    """Add the finished runs of `more_seeds` (both sides of every comparison) to the plan;
    return the unfinished ones."""
    unfinished = []
    for experiment in grid.experiments:
        if not experiment.more_seeds:
            continue
        sides = {side for pair in pairs(grid, experiment) for side in (pair.a, pair.b)}
        more = plan_experiment(grid, experiment, plan.identities, seeds=experiment.more_seeds)
        more = [r for r in more if (r.key.method, r.key.variant) in sides]
        plan.add(experiment.name, [r for r in more if is_done(r)])
        unfinished += [r for r in more if not is_done(r)]
    return unfinished


def run_report(
    grid: GridSpec, source: str, dry_run: bool = False, progress: bool = True,
    force: bool = False, train: bool = True,
) -> ReportOutcome:  # fmt: skip
    """Generate the worlds, train what is missing (resuming interrupted runs; `force`: redo them
    and regenerate unfinished worlds), add `more_seeds` where a comparison is too close, then
    write the page, the JSON, the plots and the index. `dry_run`: plan only, write nothing.
    `train=False`: write a partial page from the runs finished so far (a grid of days shows its
    evidence as it grows); it generates and trains nothing and says how many runs it lacks."""
    plan = plan_grid(grid)
    runs = plan.unique()
    if dry_run:
        return ReportOutcome(None, runs)
    matched = check_grid(grid)
    started, todo, failures = time.perf_counter(), 0, {}
    if train:
        generate_worlds(grid, plan.worlds, force, f"ccrkit report --grid {source}", progress)
        todo = sum(not is_done(run) for run in runs)
        failures = execute(runs, grid.jobs, grid.threads, progress, force)
        extra = _more_seeds(grid, plan)
        if extra:
            todo += sum(not is_done(run) for run in extra)
            failures |= execute(extra, grid.jobs, grid.threads, progress, force)
            runs = plan.unique()
    else:  # a partial page shows every finished run, extra seeds included
        _add_finished_more_seeds(grid, plan)
        runs = plan.unique()
    untrained = 0 if train else sum(not is_done(run) for run in runs)
    budget = Budget(len(runs), todo, wall_seconds=time.perf_counter() - started,
                    untrained=untrained)  # fmt: skip
    tables = {
        name: summarise(grid, _experiment(grid, name), rows) for name, rows in plan.runs.items()
    }
    languages = {
        e.name: summarise_languages(grid, e, plan.runs[e.name])
        for e in grid.experiments
        if e.cross_language
    }
    comparisons = {e.name: compare(grid, e, tables[e.name]) for e in grid.experiments}
    claims = evaluate_claims(grid, tables, languages)
    _add_run_costs(budget, runs)
    code = page_code(grid, source)
    plots = {
        e.name: _plots(grid, e, tables[e.name], languages.get(e.name)) for e in grid.experiments
    }
    results = Results(tables, failures, languages, comparisons, claims, matched)
    page = write_page(grid, source, results, plots, plan.identities, budget, code)
    return ReportOutcome(
        page, runs, tables, failures, languages, comparisons, claims, budget.untrained
    )


def _more_seeds(grid: GridSpec, plan: GridPlan) -> list[PlannedRun]:
    """The `more_seeds` runs of the cells whose comparison lies within two standard deviations
    on the seeds trained so far (added to the plan)."""
    added = []
    for experiment in grid.experiments:
        if not experiment.more_seeds:
            continue
        rows = summarise(grid, experiment, plan.runs[experiment.name])
        cells = cells_needing_seeds(experiment, compare(grid, experiment, rows))
        if not cells:
            continue
        more = plan_experiment(
            grid, experiment, plan.identities, seeds=experiment.more_seeds, cells=cells
        )
        plan.add(experiment.name, more)
        added += more
    return unique_runs(added)


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
        level = f"MT noise {noise:g}"
        label = title if level in title else f"{title} ({level})"  # not twice in the title
        paths.append(plot_languages(chosen, path, label))
    return paths


def _experiment(grid: GridSpec, name: str) -> ExperimentSpec:
    return next(e for e in grid.experiments if e.name == name)


def _add_run_costs(budget: Budget, runs: list[PlannedRun]) -> None:
    """Training seconds and epochs of every finished run, and which runs the epoch cap stopped
    (and of those, which were still improving), each run counted once however many tables
    show it."""
    for run in runs:
        record = read_record(run) or {}
        value = run_seconds(record) if record else None
        if value is not None:
            budget.train_seconds.append(value)
        if record.get("epochs") is not None:
            budget.epochs.append(int(record["epochs"]))
        budget.run_dirs.append(str(run.run_dir))
        if is_capped(record):
            budget.capped_dirs.append(str(run.run_dir))
        if is_still_improving(record):
            budget.rising_dirs.append(str(run.run_dir))
