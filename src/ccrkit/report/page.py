"""The results page of a grid: `<out>/<grid>.md` (tables, budget, hardware, worlds),
`<out>/<grid>.json` (every run's numbers), the PNG plots, and `<out>/README.md`, the comparison
report over every grid page in the folder (`report.index`; regenerated each time, so later grids
add their own sections)."""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from ccrkit import __version__
from ccrkit.report.aggregate import EPOCHS_LEGEND, Row, markdown_table, span
from ccrkit.report.claims import ClaimResult, claim_detail, claims_table
from ccrkit.report.compare import LEGEND, Comparison, comparison_table
from ccrkit.report.index import INDEX, write_index
from ccrkit.report.languages import LanguageRow, mrv_table, recall_table
from ccrkit.report.matched import Matched
from ccrkit.report.plan import grid_config_files
from ccrkit.report.provenance import code_state, config_names
from ccrkit.report.spec import ExperimentSpec, GridSpec
from ccrkit.runs import write_atomic, write_json_atomic

__all__ = ["INDEX", "Budget", "Results", "hardware", "page_code", "write_index", "write_page"]


@dataclass
class Budget:
    """How long the grid took: training seconds of every run (cached ones as first measured) and
    the wall clock of this invocation."""

    runs: int = 0
    trained_now: int = 0
    train_seconds: list[float] = field(default_factory=list)
    wall_seconds: float = 0.0
    epochs: list[int] = field(default_factory=list)  # epochs each finished run trained
    run_dirs: list[str] = field(default_factory=list)  # every run of the grid, once
    capped_dirs: list[str] = field(default_factory=list)  # those the epoch cap stopped
    rising_dirs: list[str] = field(default_factory=list)  # capped, best epoch = last epoch
    untrained: int = 0  # runs not finished when `--no-train` wrote the page (a partial page)

    def line(self, grid: GridSpec) -> str:
        total = sum(self.train_seconds)
        mean = statistics.fmean(self.train_seconds) if self.train_seconds else 0.0
        epochs = span(self.epochs) if self.epochs else "0"
        partial = (
            f"**partial page** (`--no-train`): {self.untrained} of the {self.runs} runs are not "
            "trained yet, so cells short of seeds say so and claims count only the cells they "
            "have; "
            if self.untrained
            else ""
        )
        return partial + (
            f"{self.runs} distinct runs of {epochs} epoch(s) each, {total / 60:.1f} min of "
            f"training in all ({mean:.0f} s per run, {grid.jobs} at a time with {grid.threads} "
            f"torch thread(s) each); this invocation trained {self.trained_now} of them in "
            f"{self.wall_seconds / 60:.1f} min wall clock and reused the rest from "
            f"{grid.runs_dir}/"
        )


def hardware() -> str:
    """CPU model and cores, memory, and whether a CUDA device was visible."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in cpuinfo
                    if line.startswith("model name")
                ),
                model,
            )
    except OSError:
        pass
    try:
        memory = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        memory = ""
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} CPU cores ({model}){memory}, {gpu}"


@dataclass
class Results:
    """Everything a grid page shows, by experiment name where it is per experiment."""

    tables: dict[str, list[Row]]
    failures: dict[str, str] = field(default_factory=dict)
    languages: dict[str, list[LanguageRow]] = field(default_factory=dict)
    comparisons: dict[str, list[Comparison]] = field(default_factory=dict)
    claims: list[ClaimResult] = field(default_factory=list)
    matched: dict[str, Matched] = field(default_factory=dict)


def page_code(grid: GridSpec, source: str) -> dict[str, Any]:
    """The code state a page records (commit, code hash, configs). Taken before the page's plots
    are written: a plot that changes must not make the checkout look modified ('-dirty')."""
    return code_state(config_names(grid_config_files(grid, source)))


def write_page(
    grid: GridSpec, source: str, results: Results, plots: dict[str, list[Path]],
    worlds: dict[float, tuple[Path, str]], budget: Budget, code: dict[str, Any],
) -> Path:  # fmt: skip
    out = Path(grid.out)
    lines = [
        f"# {grid.title or grid.name}",
        "",
        _provenance(source, budget, grid, worlds, code),
        "",
    ]
    if grid.notes:
        lines += [grid.notes.strip(), ""]
    claims = [{**c.as_dict(), "partial": bool(budget.untrained)} for c in results.claims]
    if claims:
        lines += ["## The papers' claims", "", claims_table(claims), ""]
        for claim in results.claims:
            lines += [f"**{claim.spec.claim}** ({claim.spec.paper}; experiment "
                      f"`{claim.spec.experiment}`): {claim.verdict}.", "", claim_detail(claim), ""]  # fmt: skip
    if results.matched:
        lines += ["## Matched baselines", ""]
        for matched in results.matched.values():
            lines += [matched.describe(_label(grid, matched.method), _label(grid, matched.key)), ""]
    if results.failures:
        lines += ["**Failed runs** (not in the tables):", ""]
        lines += [f"- `{name}`: {error}" for name, error in results.failures.items()] + [""]
    for experiment in grid.experiments:
        name = experiment.name
        lines += _section(
            grid, experiment, results.tables[name], plots.get(name, []),
            results.languages.get(name), results.comparisons.get(name, []),
        )  # fmt: skip
    path = out / f"{grid.name}.md"
    write_atomic(path, ("\n".join(lines).rstrip() + "\n").encode("utf-8"))
    data = _json(grid, source, results.tables, worlds, budget, results.failures)
    data["code"] = code
    data["cross_language"] = {
        name: [row.as_dict() for row in rows] for name, rows in results.languages.items()
    }
    data["comparisons"] = {
        name: [c.as_dict() for c in found] for name, found in results.comparisons.items()
    }
    data["claims"] = claims
    data["matched_baselines"] = {
        key: {"method": m.method, "switched_off": m.switched, "shared": m.shared}
        for key, m in results.matched.items()
    }
    data["summary"] = summary_facts(grid, results, budget, worlds)
    write_json_atomic(out / f"{grid.name}.json", data)
    write_index(out)
    return path


def _label(grid: GridSpec, key: str) -> str:
    return grid.methods[key].label or key


def summary_facts(
    grid: GridSpec, results: Results, budget: Budget, worlds: dict[float, tuple[Path, str]]
) -> dict[str, Any]:
    """What the index's summary says of this grid: methods, languages, noise, seeds, runs."""
    rows = [row for rows in results.tables.values() for row in rows]
    seeds = [len(row.native) for row in rows if row.native]
    matched = {row.label for row in rows if grid.methods[row.method].matched}
    return {
        "methods": list(dict.fromkeys(row.label for row in rows if row.label not in matched)),
        "matched": sorted(matched),
        "langs": list(dict.fromkeys(row.lang for row in rows)),
        "noise": sorted({row.noise for row in rows}),
        "seeds": [min(seeds), max(seeds)] if seeds else [],
        "runs": budget.runs,
        "untrained_runs": budget.untrained,
        "capped_runs": len(budget.capped_dirs),
        "rising_runs": len(budget.rising_dirs),
        # the index counts runs shared by several pages (same runs folder) once
        "run_dirs": budget.run_dirs,
        "capped_dirs": budget.capped_dirs,
        "rising_dirs": budget.rising_dirs,
        "worlds": sorted({wid for _, wid in worlds.values()}),
        "world_config": grid.world.config,
    }


def _provenance(source: str, budget: Budget, grid: GridSpec, worlds: dict, code: dict) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    levels = ", ".join(f"{noise:g} (`{root}`)" for noise, (root, _) in sorted(worlds.items()))
    return "\n".join([
        f"Generated by `ccrkit report --grid {source}` on {stamp} (ccrkit {__version__}, "
        f"commit {code['commit'] or 'unknown'}, code hash {code['digest']}).",
        "",
        f"- Budget: {budget.line(grid)}. Hardware: {hardware()}, shared with other jobs while "
        "it ran: timings are indicative.",
        f"- Worlds by MT noise rate: {levels}.",
        "- Each cell: mean ± sample standard deviation over seeds (one seed: its value) of the test SumR "
        "(t2v + v2t R@1+5+10); native = human target-language queries alone; fused = NRCCR's "
        f"translate-test fusion with the queries' MT into English at w = {grid.fused_weight:g}; "
        "English = the same model on the English captions of the same test items (where the "
        "fused row's English half draws from; compared, but no claim rests on it).",
    ])  # fmt: skip


def _section(
    grid: GridSpec, experiment: ExperimentSpec, rows: list[Row], plots: list[Path],
    languages: list[LanguageRow] | None = None, comparisons: list[Comparison] | None = None,
) -> list[str]:  # fmt: skip
    lines = [
        f"## {experiment.title or experiment.name}",
        "",
        markdown_table(grid, experiment, rows),
        "",
        EPOCHS_LEGEND,
        "",
    ]
    if comparisons:
        with_training = len({c.a.training for c in comparisons}) > 1
        lines += ["Comparisons:", "", comparison_table(comparisons, with_training), "", LEGEND, ""]
    if languages is not None:
        lines += [
            "Per-language recall (mR = SumR / 6, native queries; spread = population std over "
            "the languages):", "", recall_table(languages), "",
            "Mean Rank Variance over the languages (methods.md §4.3; 0-based ranks; t2v: an "
            "item's rank is the mean rank of its captions; std = the official MRV, var its "
            "square per item; lower = more consistent). Joint: one model queried in every "
            "language; separate: one model per language, ranks combined per seed.", "",
            mrv_table(languages), "",
        ]  # fmt: skip
        missing = [f"{row.label}/{row.training}: {why}" for row in languages for why in row.missing]
        lines += [f"- missing: {why}" for why in missing] + ([""] if missing else [])
    alt = [path.stem.removeprefix(f"{grid.name}-") for path in plots]
    lines += [f"![{text}]({path.name})" for text, path in zip(alt, plots, strict=True)]
    lines += [""] if plots else []
    if experiment.notes:
        lines += [experiment.notes.strip(), ""]
    return lines


def _json(grid, source, tables, worlds, budget, failures) -> dict[str, Any]:
    return {
        "grid": grid.name, "title": grid.title, "source": source,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "fused_weight": grid.fused_weight,
        "worlds": {f"{noise:g}": {"root": str(root), "id": wid} for noise, (root, wid) in worlds.items()},
        "budget": {"runs": budget.runs, "trained_now": budget.trained_now,
                   "train_seconds": sum(budget.train_seconds), "wall_seconds": budget.wall_seconds,
                   "epochs": sorted(set(budget.epochs)), "hardware": hardware()},
        "failures": failures,
        "experiments": {name: [row.as_dict() for row in rows] for name, rows in tables.items()},
    }  # fmt: skip
