"""Per experiment: SumR of every run (native queries, the fused row, and the English source
captions) in each language it was tested in, mean ± std over seeds, as rows and as a Markdown
table (a joint run gives one row per language, next to the separate runs' rows)."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from ccrkit.evaluate.protocol import ENGLISH_SOURCE_LABEL, fused_label, native_label
from ccrkit.report.execute import read_record, run_seconds
from ccrkit.report.plan import PLAIN, PlannedRun
from ccrkit.report.spec import SEPARATE, ExperimentSpec, GridSpec
from ccrkit.tables import pipe_table


@dataclass
class Row:
    method: str
    label: str
    variant: str
    lang: str
    noise: float
    native: list[float] = field(default_factory=list)
    fused: list[float] = field(default_factory=list)
    # the same model on the English captions of the test items: the half of a fused query that
    # its English translation scores, so a fused gain can be traced to the English side
    english: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)
    missing: int = 0
    training: str = SEPARATE
    capped: int = 0  # runs stopped by the epoch cap before early stopping (budget-limited)
    rising: int = 0  # capped runs whose best validation score was at their last epoch
    # seed -> that run's numbers, its folder and the folder it was scored from (`retest_of`,
    # or None): which cells hold the same trained weights, seed by seed (`compare`)
    by_seed: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def native_mean(self) -> float | None:
        return mean(self.native)

    @property
    def fused_mean(self) -> float | None:
        return mean(self.fused)

    def as_dict(self) -> dict[str, Any]:
        fields = {key: value for key, value in asdict(self).items() if key != "by_seed"}
        return {**fields, "native_mean": self.native_mean, "native_std": std(self.native),
                "fused_mean": self.fused_mean, "fused_std": std(self.fused),
                "english_mean": mean(self.english),
                "english_std": std(self.english)}  # fmt: skip


def mean(values: list[float]) -> float | None:
    """The mean; None for no values."""
    return statistics.fmean(values) if values else None


def std(values: list[float]) -> float | None:
    """Sample standard deviation (n − 1); 0 for one value, None for none."""
    if not values:
        return None
    return statistics.stdev(values) if len(values) > 1 else 0.0


def run_numbers(run: PlannedRun, weight: float, lang: str | None = None) -> dict[str, Any] | None:
    """SumR native and fused (at `weight`) in `lang` (default: the run's own), SumR of the English
    source captions, seconds and epochs of a finished run, else None."""
    record = read_record(run)
    if not record or record.get("status") != "ok":
        return None
    metrics, lang = record.get("metrics") or {}, lang or run.key.lang
    native, fused = metrics.get(native_label(lang)), metrics.get(fused_label(lang, weight))
    english = metrics.get(ENGLISH_SOURCE_LABEL)
    return {
        "native": native["sumr"] if native else None,
        "fused": fused["sumr"] if fused else None,
        "english": english["sumr"] if english else None,
        "seconds": run_seconds(record),
        "epochs": record.get("epochs"),
        "best_epoch": record.get("best_epoch"),
        "capped": is_capped(record),
        "rising": is_still_improving(record),
        "retest_of": record.get("retest_of"),
    }


def is_capped(record: dict[str, Any]) -> bool:
    """Whether a run ended at its epoch cap rather than by early stopping (budget-limited)."""
    return str(record.get("finish_reason") or "").startswith("reached train.epochs")


def is_still_improving(record: dict[str, Any]) -> bool:
    """Whether a capped run had its best validation score at its last epoch: it had not
    converged, and more epochs would likely have raised its test score."""
    return is_capped(record) and record.get("best_epoch") == record.get("epochs")


def summarise(grid: GridSpec, experiment: ExperimentSpec, runs: list[PlannedRun]) -> list[Row]:
    """One row per (method, variant, training, language, noise), seeds pooled, in the grid's
    order; a joint run counts in the row of each of its languages."""
    rows: dict[tuple, Row] = {}
    for run in runs:
        k = run.key
        label = grid.methods[k.method].label or k.method
        for lang in k.langs:
            row = rows.setdefault(
                (k.method, k.variant, k.training, lang, k.noise),
                Row(k.method, label, k.variant, lang, k.noise, training=k.training),
            )
            _add(row, run_numbers(run, grid.fused_weight, lang), run)
    return list(rows.values())


def _add(row: Row, numbers: dict[str, Any] | None, run: PlannedRun) -> None:
    if numbers is None or numbers["native"] is None:
        row.missing += 1
        return
    row.by_seed[run.key.seed] = {**numbers, "run_dir": str(run.run_dir)}
    row.native.append(numbers["native"])
    if numbers["fused"] is not None:
        row.fused.append(numbers["fused"])
    if numbers.get("english") is not None:
        row.english.append(numbers["english"])
    if numbers["seconds"] is not None:
        row.seconds.append(numbers["seconds"])
    if numbers["epochs"] is not None:
        row.epochs.append(int(numbers["epochs"]))
    row.capped += bool(numbers.get("capped"))
    row.rising += bool(numbers.get("rising"))


def cell(values: list[float]) -> str:
    """mean ± sample std; a single seed has no spread to show, so just its value."""
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.fmean(values):.1f} ± {std(values):.1f}"


def markdown_table(grid: GridSpec, experiment: ExperimentSpec, rows: list[Row]) -> str:
    """| method | variant | lang | MT noise | SumR native | SumR fused | (SumR English) | (Δ) |
    seeds | s/run |"""
    reference = _reference_means(experiment, rows)
    with_variant = any(r.variant != PLAIN for r in rows)
    with_training = any(r.training != SEPARATE for r in rows)
    with_english = any(r.english for r in rows)
    head = ["method", *(["variant"] if with_variant else []),
            *(["training"] if with_training else []), "lang", "MT noise", "SumR native",
            f"SumR fused w={grid.fused_weight:g}",
            *(["SumR English"] if with_english else [])]  # fmt: skip
    if reference:
        head.append(f"Δ native vs {experiment.reference}")
    head += ["seeds", "epochs", "s / run"]
    table_rows = []
    for row in rows:
        cells = [row.label, *([row.variant] if with_variant else []),
                 *([row.training] if with_training else []), row.lang, f"{row.noise:g}",
                 cell(row.native), cell(row.fused),
                 *([cell(row.english)] if with_english else [])]  # fmt: skip
        if reference:
            base = reference.get((row.method, row.training, row.lang, row.noise))
            mean = row.native_mean
            cells.append("–" if base is None or mean is None else f"{mean - base:+.1f}")
        seeds = f"{len(row.native)}" + (f" ({row.missing} missing)" if row.missing else "")
        seconds = f"{statistics.fmean(row.seconds):.0f}" if row.seconds else "–"
        table_rows.append([*cells, seeds, epochs_cell(row), seconds])
    return pipe_table(head, table_rows)


def span(values: list[int]) -> str:
    """The range of non-empty `values`: "3" where all are equal, else "3–5"."""
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}–{high}"


def epochs_cell(row: Row) -> str:
    """Epochs trained: "14" or "9–18", with how many runs the epoch cap stopped and how many of
    those were still improving at it ("3 capped, 2 still improving")."""
    if not row.epochs:
        return "–"
    text = span(row.epochs)
    if not row.capped:
        return text
    rising = f", {row.rising} still improving" if row.rising else ""
    return f"{text} ({row.capped} capped{rising})"


EPOCHS_LEGEND = (
    "epochs: trained per run (range over seeds); each run stops after `patience` epochs "
    'without a better validation score and tests its best epoch; "capped" runs reached the '
    'epoch cap first (budget-limited: they may not have converged), and those "still '
    'improving" had their best validation score at their last epoch (not converged).'
)


def _reference_means(experiment: ExperimentSpec, rows: list[Row]) -> dict[tuple, float]:
    if experiment.reference is None:
        return {}
    return {
        (r.method, r.training, r.lang, r.noise): r.native_mean
        for r in rows
        if r.variant == experiment.reference and r.native_mean is not None
    }
