"""Results tables: one Markdown table serves the terminal, results.md and the notes."""

from __future__ import annotations

from collections.abc import Mapping

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
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, metrics in rows.items():
        cells = [format_value(k, metrics[k]) if k in metrics else "–" for _, k in COLUMNS]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines)
