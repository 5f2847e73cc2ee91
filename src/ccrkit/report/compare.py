"""The comparison rows of an experiment: each method against its matched baseline, against the
experiment's generic `baseline`, and each variant against the `reference` variant — per training
mode, language, noise level and query kind (native, fused, and the English source captions):
both cells as mean ± std over seeds, the difference of means and Welch's p-value (`report.stats`),
or the paired test's where one cell was scored from the other's trained weights.
"""

from __future__ import annotations

from dataclasses import dataclass

from ccrkit.report.aggregate import Row, cell
from ccrkit.report.plan import JOINED, PLAIN, Cell, variants_of
from ccrkit.report.spec import JOINT, QUERIES, ExperimentSpec, GridSpec
from ccrkit.report.stats import ALPHA, Test, needs_more_seeds, paired, welch
from ccrkit.tables import pipe_table

# English is context, not a claim: it shows where a fused gain comes from (a fused query is
# partly its English translation), so it is compared but asks for no extra seeds.
COMPARED_QUERIES = (*QUERIES, "english")
MATCHED, BASELINE, REFERENCE = "matched baseline", "baseline", "reference variant"
AGAINST_NOTE = {MATCHED: " [matched]", BASELINE: "", REFERENCE: " [reference]"}


@dataclass(frozen=True)
class Pair:
    """Two (method, variant) series of an experiment compared cell by cell."""

    a: tuple[str, str]
    b: tuple[str, str]
    kind: str  # MATCHED | BASELINE | REFERENCE


@dataclass
class Comparison:
    pair: Pair
    a: Row
    b: Row
    query: str  # "native" | "fused" | "english"
    test: Test

    def values(self) -> tuple[list[float], list[float]]:
        return getattr(self.a, self.query), getattr(self.b, self.query)

    def as_dict(self) -> dict:
        a, b = self.values()
        return {"test": "paired" if self.test.paired else "welch",
            "a": self.a.label, "a_variant": self.a.variant, "b": self.b.label,
            "b_variant": self.b.variant, "kind": self.pair.kind, "training": self.a.training,
            "lang": self.a.lang, "noise": self.a.noise, "query": self.query, "a_values": a,
            "b_values": b, "difference": self.test.estimate, "p": self.test.p,
            "note": self.test.note,
        }  # fmt: skip


def pairs(grid: GridSpec, experiment: ExperimentSpec) -> list[Pair]:
    """Method vs its matched baseline, method vs the generic baseline (unless that is the
    matched one: the same comparison once), variant vs reference."""
    found: list[Pair] = []
    variants = list(variants_of(experiment))
    for method in experiment.methods:
        matched = grid.matched_baseline_of(method)
        if matched in experiment.methods:
            found += [Pair((method, v), (matched, v), MATCHED) for v in variants]
        generic = experiment.baseline
        if generic and generic not in (method, matched) and grid.methods[method].matched is None:
            found += [Pair((method, v), (generic, v), BASELINE) for v in variants]
        reference = experiment.reference
        if reference is not None:
            found += [
                Pair((method, v), (method, reference), REFERENCE)
                for v in variants
                if v != reference
            ]
    return found


def compare(grid: GridSpec, experiment: ExperimentSpec, rows: list[Row]) -> list[Comparison]:
    """Every comparison of the experiment where both cells have results, in the rows' order."""
    by_cell = {(r.method, r.variant, r.training, r.lang, r.noise): r for r in rows}
    found = []
    for pair in pairs(grid, experiment):
        for row in rows:
            if (row.method, row.variant) != pair.a:
                continue
            other = by_cell.get((*pair.b, row.training, row.lang, row.noise))
            if other is None:
                continue
            for query in COMPARED_QUERIES:
                a, b = getattr(row, query), getattr(other, query)
                if a or b:
                    test = paired_test(row, other, query) or welch(a, b)
                    found.append(Comparison(pair, row, other, query, test))
    return found


def paired_test(a: Row, b: Row, query: str) -> Test | None:
    """The paired t-test when every run of one cell was scored from the weights of the other
    cell's run of the same seed (a test-time variant, `ccrkit.train.retest`), else None."""
    for scored, trained in ((a, b), (b, a)):
        seeds = sorted(scored.by_seed)
        if seeds and all(
            seed in trained.by_seed
            and scored.by_seed[seed]["retest_of"] == trained.by_seed[seed]["run_dir"]
            for seed in seeds
        ):
            both = [s for s in seeds if None not in (a.by_seed[s][query], b.by_seed[s][query])]
            return paired([a.by_seed[s][query] for s in both], [b.by_seed[s][query] for s in both])
    return None


def cells_needing_seeds(experiment: ExperimentSpec, comparisons: list[Comparison]) -> set[Cell]:
    """The run cells (both sides) of every comparison of target-language queries within two
    standard deviations, when the experiment has `more_seeds` to give them."""
    if not experiment.more_seeds:
        return set()
    langs = JOINED.join(dict.fromkeys(experiment.langs))
    cells: set[Cell] = set()
    for comparison in comparisons:
        if comparison.query in QUERIES and needs_more_seeds(*comparison.values()):
            for row in (comparison.a, comparison.b):
                lang = langs if row.training == JOINT else row.lang
                cells.add((row.method, row.variant, row.training, lang, row.noise))
    return cells


def comparison_table(comparisons: list[Comparison], with_training: bool) -> str:
    """| method | against | (training) | lang | MT noise | queries | SumR | SumR against | Δ | p |"""
    head = ["method", "against", *(["training"] if with_training else []), "lang", "MT noise",
            "queries", "SumR", "SumR (against)", "Δ", "p"]  # fmt: skip
    rows = []
    for c in comparisons:
        a, b = c.values()
        rows.append([
            _name(c.a), _name(c.b) + AGAINST_NOTE[c.pair.kind],
            *([c.a.training] if with_training else []),
            c.a.lang, f"{c.a.noise:g}", c.query, _cell_n(a), _cell_n(b), _delta(c.test),
            c.test.p_cell(),
        ])  # fmt: skip
    return pipe_table(head, rows)


def _name(row: Row) -> str:
    return row.label if row.variant == PLAIN else f"{row.label} ({row.variant})"


def _cell_n(values: list[float]) -> str:
    return f"{cell(values)} (n={len(values)})" if values else "–"


def _delta(test: Test) -> str:
    """The difference, bold where p < ALPHA."""
    if test.estimate is None:
        return "–"
    text = f"{test.estimate:+.1f}"
    return f"**{text}**" if test.significant else text


LEGEND = (
    "[matched]: the method's matched translate-train baseline (see Matched baselines). "
    "Δ = mean(method) − mean(against), in SumR; p: Welch's t-test (two-sided, unequal "
    f"variances, over seeds), **bold** where p < {ALPHA:g}; (paired): the paired t-test over "
    "seeds, where one side was scored from the other side's trained weights (a test-time "
    "variant), so each seed's difference is the variant's effect alone. A cell with fewer than "
    "3 seeds on a side gets no p-value."
)
