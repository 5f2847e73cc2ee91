"""SumR against MT noise, one panel per language, one line per method (native solid, fused
dashed, error bars = std over seeds), as a PNG (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

from ccrkit.report.aggregate import Row, std
from ccrkit.report.plan import PLAIN


def plot_noise(rows: list[Row], path: Path, title: str, fused_weight: float) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    langs = list(dict.fromkeys(r.lang for r in rows))
    series = list(dict.fromkeys((r.label, r.variant) for r in rows))
    fig, axes = plt.subplots(1, len(langs), figsize=(5 * len(langs), 4), squeeze=False)
    for ax, lang in zip(axes[0], langs, strict=True):
        for index, (label, variant) in enumerate(series):
            chosen = sorted(
                (r for r in rows if r.lang == lang and (r.label, r.variant) == (label, variant)),
                key=lambda r: r.noise,
            )
            name = label if variant == PLAIN else f"{label} ({variant})"
            colour = f"C{index}"
            _line(ax, chosen, "native", f"{name}, native", colour, "-")
            _line(ax, chosen, "fused", f"{name}, fused w={fused_weight:g}", colour, "--")
        ax.set(title=f"en → {lang}", xlabel="MT noise rate", ylabel="SumR (test)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _line(ax, rows: list[Row], which: str, label: str, colour: str, style: str) -> None:
    points = [(r.noise, getattr(r, which)) for r in rows if getattr(r, which)]
    if not points:
        return
    xs = [x for x, _ in points]
    means = [sum(v) / len(v) for _, v in points]
    errors = [std(v) or 0.0 for _, v in points]
    ax.errorbar(xs, means, yerr=errors, label=label, color=colour, linestyle=style, marker="o",
                capsize=3)  # fmt: skip
