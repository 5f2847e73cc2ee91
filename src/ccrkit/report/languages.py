"""Cross-language results of a grid experiment (`cross_language: true`), methods.md §4.3.

Per (method, variant, training mode, noise) and seed, the native test ranks in every language of
the experiment are gathered — from the one joint run queried in each language, or from the
separate runs of that seed (one model per language, the few-shot recipe of the paper's MRV) — and
aligned per item (`ccrkit.evaluate.crosslang`): MRV t2v and v2t (std and var, 0-based ranks; an
item's t2v rank is the mean rank of its captions) and the spread of mR over the languages, then
mean ± sample std over seeds. The per-item rank spreads of all seeds are kept for the plot.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ccrkit.evaluate.crosslang import (
    LanguageRanks,
    aligned_metrics,
    aligned_ranks,
    rank_spread,
)
from ccrkit.evaluate.protocol import native_label, slug
from ccrkit.report.aggregate import cell, std
from ccrkit.report.aggregate import mean as mean_or_none
from ccrkit.report.execute import read_record
from ccrkit.report.plan import PLAIN, PlannedRun
from ccrkit.report.spec import JOINT, SEPARATE, ExperimentSpec, GridSpec
from ccrkit.tables import pipe_table

RANKS_DIR = "ranks"  # a training run's test ranks (ccrkit.train.run.RANKS_DIR)
MRV_KEYS = ("t2v_mrv_std", "t2v_mrv_var", "v2t_mrv_std", "v2t_mrv_var", "mr_mean", "mr_std")


@dataclass
class LanguageRow:
    method: str
    label: str
    variant: str
    training: str
    noise: float
    langs: list[str]
    mr: dict[str, list[float]] = field(default_factory=dict)  # language -> per seed
    values: dict[str, list[float]] = field(default_factory=dict)  # MRV_KEYS -> per seed
    spread_t2v: list[np.ndarray] = field(default_factory=list)  # per seed: per-item spread
    spread_v2t: list[np.ndarray] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # why a seed is missing

    @property
    def seeds(self) -> int:
        return len(self.values.get("t2v_mrv_std", []))

    def mean(self, key: str) -> float | None:
        return mean_or_none(self.values.get(key) or [])

    def as_dict(self) -> dict[str, Any]:
        spread = {
            name: _quantiles(np.concatenate(parts)) if parts else None
            for name, parts in (("t2v", self.spread_t2v), ("v2t", self.spread_v2t))
        }
        return {
            "method": self.method, "label": self.label, "variant": self.variant,
            "training": self.training, "noise": self.noise, "langs": self.langs,
            "mr": self.mr, "values": self.values,
            "means": {key: self.mean(key) for key in MRV_KEYS},
            "stds": {key: std(self.values.get(key, [])) for key in MRV_KEYS},
            "item_rank_spread": spread, "missing": self.missing,
        }  # fmt: skip


def _quantiles(values: np.ndarray) -> dict[str, float]:
    q = np.quantile(values, [0.25, 0.5, 0.75, 0.9])
    return {"mean": float(values.mean()), "p25": float(q[0]), "median": float(q[1]),
            "p75": float(q[2]), "p90": float(q[3])}  # fmt: skip


def summarise_languages(
    grid: GridSpec, experiment: ExperimentSpec, runs: list[PlannedRun]
) -> list[LanguageRow]:
    """One row per (method, variant, training, noise), in the grid's order."""
    langs = list(dict.fromkeys(experiment.langs))
    groups: dict[tuple, dict[int, list[PlannedRun]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        k = run.key
        groups[(k.method, k.variant, k.training, k.noise)][k.seed].append(run)
    rows = []
    for (method, variant, training, noise), seeds in groups.items():
        label = grid.methods[method].label or method
        row = LanguageRow(method, label, variant, training, noise, langs)
        for seed, seed_runs in seeds.items():
            _add_seed(row, seed, seed_runs)
        rows.append(row)
    return rows


def _add_seed(row: LanguageRow, seed: int, runs: list[PlannedRun]) -> None:
    ranks, mr = [], {}
    for lang in row.langs:
        run = next((r for r in runs if lang in r.key.langs), None)
        record = read_record(run) if run is not None else None
        if run is None or not record or record.get("status") != "ok":
            row.missing.append(f"seed {seed}: no finished run for {lang}")
            return
        label = native_label(lang)
        metrics = (record.get("metrics") or {}).get(label)
        if metrics is None:
            row.missing.append(f"seed {seed}: {run.name} has no '{label}' result")
            return
        try:
            ranks.append(LanguageRanks.load(run.run_dir / RANKS_DIR, f"{slug(label)}.", lang))
        except FileNotFoundError as err:
            row.missing.append(f"seed {seed}: {err}")
            return
        mr[lang] = float(metrics["mr"])
    t2v, v2t = aligned_ranks(ranks)
    found = aligned_metrics(t2v, v2t, [mr[lang.lang] for lang in ranks])
    for key in MRV_KEYS:
        row.values.setdefault(key, []).append(found[key])
    for lang, value in mr.items():
        row.mr.setdefault(lang, []).append(value)
    row.spread_t2v.append(rank_spread(t2v))
    row.spread_v2t.append(rank_spread(v2t))


def _name_cells(row: LanguageRow, with_variant: bool) -> list[str]:
    return [row.label, *([row.variant] if with_variant else []), row.training, f"{row.noise:g}"]


def _seeds_cell(row: LanguageRow) -> str:
    missing = len(row.missing)
    return f"{row.seeds}" + (f" ({missing} missing)" if missing else "")


def recall_table(rows: list[LanguageRow]) -> str:
    """| method | (variant) | training | MT noise | mR <lang> ... | mR mean | mR std | seeds |"""
    langs = rows[0].langs if rows else []
    with_variant = any(r.variant != PLAIN for r in rows)
    head = ["method", *(["variant"] if with_variant else []), "training", "MT noise",
            *(f"mR {lang}" for lang in langs), "mR mean", "mR spread (std)", "seeds"]  # fmt: skip
    return pipe_table(head, [
        [*_name_cells(row, with_variant), *(cell(row.mr.get(lang, [])) for lang in langs),
         cell(row.values.get("mr_mean", [])), cell(row.values.get("mr_std", [])), _seeds_cell(row)]
        for row in rows
    ])  # fmt: skip


def mrv_table(rows: list[LanguageRow]) -> str:
    """MRV t2v/v2t (std, var) per row, with Δ of the joint model against the separate models."""
    with_variant = any(r.variant != PLAIN for r in rows)
    separate = {
        (r.method, r.variant, r.noise): r for r in rows if r.training == SEPARATE and r.seeds
    }
    with_delta = any(
        r.training == JOINT and (r.method, r.variant, r.noise) in separate for r in rows
    )
    head = ["method", *(["variant"] if with_variant else []), "training", "MT noise",
            "t2v MRV (std)", "v2t MRV (std)", "t2v MRV (var)", "v2t MRV (var)"]  # fmt: skip
    if with_delta:
        head += ["Δ t2v MRV vs separate", "Δ v2t MRV vs separate"]
    head.append("seeds")
    keys = ("t2v_mrv_std", "v2t_mrv_std", "t2v_mrv_var", "v2t_mrv_var")
    table_rows = []
    for row in rows:
        cells = [*_name_cells(row, with_variant), *(cell(row.values.get(k, [])) for k in keys)]
        if with_delta:
            base = separate.get((row.method, row.variant, row.noise))
            cells += [_delta(row, base, k) for k in ("t2v_mrv_std", "v2t_mrv_std")]
        table_rows.append([*cells, _seeds_cell(row)])
    return pipe_table(head, table_rows)


def _delta(row: LanguageRow, base: LanguageRow | None, key: str) -> str:
    if base is None or row.training == SEPARATE:
        return "–"
    mine, theirs = row.mean(key), base.mean(key)
    return "–" if mine is None or theirs is None else f"{mine - theirs:+.1f}"
