"""Plots of a grid, as PNGs (matplotlib, Agg backend: no display needed):

- `plot_noise`: SumR against MT noise, one panel per language, one line per method (native solid,
  fused dashed, error bars = std over seeds);
- `plot_languages`: per method (column), mR per language for each training mode (bars, error
  bars = std over seeds) above the distribution of the per-item rank spread across languages
  (box plots of every item and seed, t2v and v2t; the mean, marked, is the MRV).
"""

from __future__ import annotations

from pathlib import Path

from ccrkit.report.aggregate import Row, std
from ccrkit.report.languages import LanguageRow
from ccrkit.report.plan import PLAIN
from ccrkit.report.spec import SEPARATE


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_noise(rows: list[Row], path: Path, title: str, fused_weight: float) -> Path:
    plt = _pyplot()

    langs = list(dict.fromkeys(r.lang for r in rows))
    series = list(dict.fromkeys((r.label, r.variant, r.training) for r in rows))
    fig, axes = plt.subplots(1, len(langs), figsize=(5 * len(langs), 4), squeeze=False)
    for ax, lang in zip(axes[0], langs, strict=True):
        for index, key in enumerate(series):
            chosen = sorted(
                (r for r in rows if r.lang == lang and (r.label, r.variant, r.training) == key),
                key=lambda r: r.noise,
            )
            name = series_name(*key)
            colour = f"C{index}"
            _line(ax, chosen, "native", f"{name}, native", colour, "-")
            _line(ax, chosen, "fused", f"{name}, fused w={fused_weight:g}", colour, "--")
        ax.set(title=f"en → {lang}", xlabel="MT noise rate", ylabel="SumR (test)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return _save(plt, fig, path, title)


def _save(plt, fig, path: Path, title: str) -> Path:
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_languages(rows: list[LanguageRow], path: Path, title: str) -> Path:
    """One column per (method, variant): mR per language by training mode; rank spreads."""
    import numpy as np

    plt = _pyplot()
    columns = list(dict.fromkeys((r.label, r.variant) for r in rows))
    modes = list(dict.fromkeys(r.training for r in rows))
    fig, axes = plt.subplots(  # one scale per row: the methods are compared across columns
        2, len(columns), figsize=(4.2 * len(columns), 7), squeeze=False, sharey="row"
    )
    for col, (label, variant) in enumerate(columns):
        chosen = {r.training: r for r in rows if (r.label, r.variant) == (label, variant)}
        top, bottom = axes[0][col], axes[1][col]
        langs = rows[0].langs
        width = 0.8 / max(1, len(modes))
        for index, mode in enumerate(modes):
            row = chosen.get(mode)
            if row is None:
                continue
            means = [np.mean(row.mr[lang]) if row.mr.get(lang) else 0.0 for lang in langs]
            errors = [std(row.mr.get(lang, [])) or 0.0 for lang in langs]
            xs = np.arange(len(langs)) + (index - (len(modes) - 1) / 2) * width
            top.bar(xs, means, width, yerr=errors, capsize=2, label=mode, color=f"C{index}")
        name = label if variant == PLAIN else f"{label} ({variant})"
        top.set(title=name, xticks=range(len(langs)), xticklabels=langs, ylabel="mR (test, %)")
        top.legend(fontsize="small")
        _spread_boxes(bottom, chosen, modes)
    return _save(plt, fig, path, title)


def _spread_boxes(ax, chosen: dict[str, LanguageRow], modes: list[str]) -> None:
    import numpy as np

    data, names, colours = [], [], []
    for direction in ("t2v", "v2t"):
        for index, mode in enumerate(modes):
            row = chosen.get(mode)
            parts = getattr(row, f"spread_{direction}") if row is not None else []
            if parts:
                data.append(np.concatenate(parts))
                names.append(f"{direction}\n{mode}")
                colours.append(f"C{index}")
    if not data:
        ax.set_axis_off()
        return
    boxes = ax.boxplot(data, showfliers=False, showmeans=True, patch_artist=True)
    for patch, colour in zip(boxes["boxes"], colours, strict=True):
        patch.set(facecolor=colour, alpha=0.5)
    ax.set_xticks(range(1, len(names) + 1), names, fontsize="small")
    ax.set(ylabel="per-item rank std over languages")
    ax.grid(alpha=0.3, axis="y")


def series_name(label: str, variant: str, training: str) -> str:
    """ "NRCCR", "NRCCR (no_bt)", "NRCCR, joint", "NRCCR (no_bt), joint"."""
    name = label if variant == PLAIN else f"{label} ({variant})"
    return name if training == SEPARATE else f"{name}, {training}"


def _line(ax, rows: list[Row], which: str, label: str, colour: str, style: str) -> None:
    points = [(r.noise, getattr(r, which)) for r in rows if getattr(r, which)]
    if not points:
        return
    xs = [x for x, _ in points]
    means = [sum(v) / len(v) for _, v in points]
    errors = [std(v) or 0.0 for _, v in points]
    ax.errorbar(xs, means, yerr=errors, label=label, color=colour, linestyle=style, marker="o",
                capsize=3)  # fmt: skip
