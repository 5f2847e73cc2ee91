"""The papers' claims, tested on a grid's cells (`GridSpec.claims`, `ClaimSpec`).

Each claim is measured on cells — (lang, noise, queries) for `beats`, (lang, queries) for
`gain_grows`, (noise, direction) for `lower_mrv` — and each cell is a test over seeds
(`report.stats`): *for* the claim (p < 0.05 in its direction), *against* it (p < 0.05 the other
way) or neither. The verdict:

- **holds**: cells for it, none against, and at least half of the tested cells for it (`require:
  half`) or every one (`require: all`, e.g. "each component helps");
- **does not hold**: cells against it and none for it;
- **inconclusive**: otherwise (mixed, no significant cell, or cells without 3 seeds).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from ccrkit.report.aggregate import Row, mean
from ccrkit.report.languages import LanguageRow
from ccrkit.report.plan import PLAIN, variants_of
from ccrkit.report.spec import ClaimSpec, ExperimentSpec, GridSpec, Side, side_experiment
from ccrkit.report.stats import ALPHA, Test, welch, welch_contrast
from ccrkit.tables import pipe_table

HOLDS, FAILS, INCONCLUSIVE = "holds", "does not hold", "inconclusive"


@dataclass
class ClaimCell:
    label: str  # e.g. "de, noise 0.3, native" or "vs no_bt, de, noise 0.12, fused"
    test: Test
    a: float | None = None  # the claimed side's mean (or gain), for the detail table
    b: float | None = None
    condition: Test | None = None  # lower_mrv: the recall test (a lower recall voids the cell)

    @property
    def direction(self) -> int:
        """+1 for the claim at p < ALPHA, −1 against it, 0 neither."""
        condition = self.condition
        if condition is not None and condition.significant and (condition.estimate or 0) < 0:
            return -1  # lower MRV bought with significantly lower recall
        if not self.test.significant or self.test.estimate is None:
            return 0
        return 1 if self.test.estimate > 0 else -1


@dataclass
class ClaimResult:
    spec: ClaimSpec
    cells: list[ClaimCell] = field(default_factory=list)

    @property
    def tested(self) -> list[ClaimCell]:
        return [c for c in self.cells if c.test.p is not None]

    @property
    def verdict(self) -> str:
        tested = self.tested
        pro = sum(c.direction > 0 for c in tested)
        con = sum(c.direction < 0 for c in tested)
        need = len(tested) if self.spec.require == "all" else (len(tested) + 1) // 2
        if tested and pro and not con and pro >= need and len(tested) == len(self.cells):
            return HOLDS
        if con and not pro:
            return FAILS
        return INCONCLUSIVE

    def evidence(self) -> str:
        """ "p < 0.05 for the claim in 9/12 cells, against in 0; median p 0.004"."""
        tested = self.tested
        if not tested:
            notes = {c.test.note for c in self.cells if c.test.note} or {"no cells"}
            return "no p-value: " + "; ".join(sorted(notes))
        pro = sum(c.direction > 0 for c in tested)
        con = sum(c.direction < 0 for c in tested)
        median = statistics.median(c.test.p for c in tested)  # type: ignore[misc]
        untested = len(self.cells) - len(tested)
        return (
            f"p < {ALPHA:g} for the claim in {pro}/{len(self.cells)} cells, against it in {con}; "
            f"median p {median:.3g}" + (f"; {untested} cell(s) with < 3 seeds" if untested else "")
        )

    def measured(self) -> str:
        """The range of the measured differences over the cells."""
        values = [c.test.estimate for c in self.cells if c.test.estimate is not None]
        if not values:
            return "no results"
        what = {"beats": "Δ SumR", "gain_grows": "Δ gain (high − low noise)",
                "lower_mrv": "MRV reduction"}[self.spec.kind]  # fmt: skip
        low, high = min(values), max(values)
        return (
            f"{what} {low:+.1f} … {high:+.1f} (mean {statistics.fmean(values):+.1f}) over "
            f"{len(values)} cells"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "paper": self.spec.paper, "claim": self.spec.claim, "kind": self.spec.kind,
            "verdict": self.verdict, "evidence": self.evidence(), "measured": self.measured(),
            "diagnosis": self.spec.diagnosis,
            "cells": [{"cell": c.label, "a": c.a, "b": c.b, "estimate": c.test.estimate,
                       "p": c.test.p, "note": c.test.note} for c in self.cells],
        }  # fmt: skip


def evaluate_claims(
    grid: GridSpec, tables: dict[str, list[Row]], languages: dict[str, list[LanguageRow]]
) -> list[ClaimResult]:
    results = []
    for claim in grid.claims:
        experiment = next(e for e in grid.experiments if e.name == claim.experiment)
        order = [experiment, *(e for e in grid.experiments if e is not experiment)]
        if claim.kind == "lower_mrv":
            rows = [row for e in order for row in languages.get(e.name, [])]
            cells = _mrv_cells(grid, experiment, claim, rows)
        else:
            rows = [row for e in order for row in tables.get(e.name, [])]
            cells = _sumr_cells(grid, experiment, claim, rows)
        results.append(ClaimResult(claim, cells))
    return results


def _resolve(grid: GridSpec, primary: ExperimentSpec, text: str) -> tuple[str, str, str]:
    """(method, variant, training) of a side, in the first experiment (the claim's own first)
    that runs it, with that experiment's defaults: its reference variant (else its first), its
    first training mode."""
    side = Side.parse(text)
    experiment = side_experiment(grid, primary, side)
    variants = list(variants_of(experiment))
    variant = side.variant or experiment.reference or (variants[0] if variants else PLAIN)
    return side.method, variant, side.training or experiment.training[0]


def _sumr_cells(
    grid: GridSpec, experiment: ExperimentSpec, claim: ClaimSpec, rows: list[Row]
) -> list[ClaimCell]:
    by_cell: dict[tuple, Row] = {}
    for r in rows:  # the claim's experiment first
        by_cell.setdefault((r.method, r.variant, r.training, r.lang, r.noise), r)
    langs = claim.langs or list(dict.fromkeys(experiment.langs))
    levels = [float(n) for n in (claim.noise or grid.noise_levels(experiment))]
    mine = _resolve(grid, experiment, claim.method)
    cells = []
    for against in claim.against:
        theirs = _resolve(grid, experiment, against)
        prefix = f"vs {against}, " if len(claim.against) > 1 else ""
        for lang in langs:
            for query in claim.queries:
                if claim.kind == "gain_grows":
                    groups = [getattr(by_cell.get((*side, lang, noise)), query, [])
                              for noise in (levels[-1], levels[0]) for side in (mine, theirs)]  # fmt: skip
                    test = welch_contrast(groups, [1.0, -1.0, -1.0, 1.0])
                    label = f"{prefix}{lang}, noise {levels[0]:g} → {levels[-1]:g}, {query}"
                    cells.append(ClaimCell(label, test))
                    continue
                for noise in levels:
                    a = getattr(by_cell.get((*mine, lang, noise)), query, [])
                    b = getattr(by_cell.get((*theirs, lang, noise)), query, [])
                    label = f"{prefix}{lang}, noise {noise:g}, {query}"
                    cells.append(ClaimCell(label, welch(a, b), mean(a), mean(b)))
    return cells


def _mrv_cells(
    grid: GridSpec, experiment: ExperimentSpec, claim: ClaimSpec, rows: list[LanguageRow]
) -> list[ClaimCell]:
    """Per noise level and direction: MRV(against) − MRV(method) (> 0: the method is more
    consistent), with the mean recall's test as the cell's condition ("at equal recall")."""
    by_cell: dict[tuple, LanguageRow] = {}
    for r in rows:  # the claim's experiment first
        by_cell.setdefault((r.method, r.variant, r.training, r.noise), r)
    levels = [float(n) for n in (claim.noise or grid.noise_levels(experiment))]
    mine = _resolve(grid, experiment, claim.method)
    cells = []
    for against in claim.against:
        theirs = _resolve(grid, experiment, against)
        for noise in levels:
            a, b = by_cell.get((*mine, noise)), by_cell.get((*theirs, noise))
            recall = welch(_values(a, "mr_mean"), _values(b, "mr_mean"))
            for direction in ("t2v", "v2t"):
                key = f"{direction}_mrv_std"
                mrv_a, mrv_b = _values(a, key), _values(b, key)
                label = f"vs {against}, noise {noise:g}, {direction}"
                cells.append(
                    ClaimCell(label, welch(mrv_b, mrv_a), mean(mrv_a), mean(mrv_b), recall)
                )
    return cells


def _values(row: LanguageRow | None, key: str) -> list[float]:
    return list(row.values.get(key, [])) if row is not None else []


def claims_table(results: list[dict[str, Any]]) -> str:
    """The headline table (from `ClaimResult.as_dict`, so that the index can rebuild it from the
    grids' JSON): paper | claim | measured | verdict | evidence | diagnosis."""
    head = ["paper", "claim", "measured", "verdict", f"p-values (Welch, α = {ALPHA:g})",
            "diagnosis"]  # fmt: skip
    rows = [
        [r["paper"], r["claim"], r["measured"],
         f"**{r['verdict']}**" + (" (partial page)" if r.get("partial") else ""), r["evidence"],
         r["diagnosis"] or "–"]
        for r in results
    ]  # fmt: skip
    return pipe_table(head, rows)


def claim_detail(result: ClaimResult) -> str:
    """Every cell of one claim: its two sides, the difference and p."""
    head = ["cell", "claimed side", "other side", "difference", "p (Welch)"]
    rows = [
        [c.label, _number(c.a), _number(c.b), _number(c.test.estimate, "+"), c.test.p_cell()]
        for c in result.cells
    ]
    return pipe_table(head, rows)


def _number(value: float | None, sign: str = "") -> str:
    return "–" if value is None else f"{value:{sign}.1f}"
