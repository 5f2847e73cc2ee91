"""Results tables: one Markdown table serves the terminal, results.md and the notes."""

from __future__ import annotations

from collections.abc import Mapping

from ccrkit.evaluate.crosslang import CROSS_LABEL, cross_language_table
from ccrkit.tables import pipe_table

COLUMNS = (
    ("t2v R@1", "t2v_r1"), ("R@5", "t2v_r5"), ("R@10", "t2v_r10"), ("MedR", "t2v_medr"),
    ("MeanR", "t2v_meanr"), ("mAP", "t2v_map"),
    ("v2t R@1", "v2t_r1"), ("R@5", "v2t_r5"), ("R@10", "v2t_r10"), ("MedR", "v2t_medr"),
    ("MeanR", "v2t_meanr"), ("mAP", "v2t_map"),
    ("SumR", "sumr"), ("mR", "mr"),
)  # fmt: skip


def format_value(key: str, value: float) -> str:
    if key.endswith("_map"):
        return f"{100 * value:.2f}"  # mAP is shown in %, as the papers print it
    if key.endswith(("_medr", "_meanr")):
        return f"{value:.1f}"
    return f"{value:.1f}"


def metrics_table(rows: Mapping[str, Mapping[str, float]], label: str = "setting") -> str:
    """A Markdown table with one row per labelled metrics dict (missing metrics shown as '–')."""
    header = [label, *(name for name, _ in COLUMNS)]
    return pipe_table(header, [
        [name, *(format_value(k, metrics[k]) if k in metrics else "–" for _, k in COLUMNS)]
        for name, metrics in rows.items()
    ])  # fmt: skip


def results_tables(results: Mapping[str, Mapping[str, float]]) -> str:
    """The metrics table of every label and, when present, the cross-language table (MRV, mR
    spread) of the native queries below it."""
    rows = {label: metrics for label, metrics in results.items() if label != CROSS_LABEL}
    text = metrics_table(rows)
    if CROSS_LABEL in results:
        langs = [label.split()[0] for label in rows if label.endswith(" native")]
        text += (
            "\n\nAcross languages (native queries):\n\n"
            f"{cross_language_table(results[CROSS_LABEL], langs)}\n\n"
            "MRV = mean over items of the population std (var) across languages of the item's "
            "0-based rank; an item's t2v rank is the mean rank of its captions."
        )
    return text
