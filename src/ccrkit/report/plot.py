"""Plots of a grid, as PNGs (matplotlib, Agg backend: no display needed):

- `plot_noise`: SumR against MT noise, one panel per language, one line per method (native solid,
  fused dashed, error bars = std over seeds);

Panels wrap after three columns (no long strips), the legend goes below the panels (never over
the lines), and charts of single seeds draw no error bars (no empty caps).
- `plot_languages`: per method (column), mR per language for each training mode (bars, error
  bars = std over seeds) above the distribution of the per-item rank spread across languages
  (box plots of every item and seed, t2v and v2t; the mean, marked, is the MRV).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ccrkit.report.aggregate import Row, std
from ccrkit.report.languages import LanguageRow
from ccrkit.report.plan import PLAIN
from ccrkit.report.spec import SEPARATE


def _pyplot():
    # the Agg backend is chosen at the first plot, not when ccrkit.report is imported,
    # so importing the package never changes a notebook's matplotlib backend
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


MAX_COLUMNS = 3  # panels per row: more languages or methods wrap to a new row


def _panels(plt, count: int, width: float, height: float, rows_per: int = 1, **kwargs):
    """A figure of `count` panels (each `rows_per` axes tall) in at most MAX_COLUMNS columns;
    returns (figure, list of panels, each a list of `rows_per` axes) and hides unused axes."""
    columns = min(count, MAX_COLUMNS)
    lines = -(-count // columns)
    fig, axes = plt.subplots(
        lines * rows_per, columns, figsize=(width * columns, height * rows_per * lines),
        squeeze=False, **kwargs,
    )  # fmt: skip
    panels = []
    for index in range(lines * columns):
        line, column = divmod(index, columns)
        stack = [axes[line * rows_per + r][column] for r in range(rows_per)]
        if index < count:
            panels.append(stack)
        else:
            for ax in stack:
                ax.set_axis_off()
    return fig, panels


def plot_noise(rows: list[Row], path: Path, title: str, fused_weight: float) -> Path:
    plt = _pyplot()

    langs = list(dict.fromkeys(r.lang for r in rows))
    series = list(dict.fromkeys((r.label, r.variant, r.training) for r in rows))
    fig, panels = _panels(plt, len(langs), 4.6, 3.6)
    # every planned level on the axis, whatever has finished: a partial page's one point is not
    # stretched over a thousandth of the axis
    levels = sorted({r.noise for r in rows})
    pad = max(0.05, 0.08 * (levels[-1] - levels[0])) if levels else 0.05
    for (ax,), lang in zip(panels, langs, strict=True):
        for index, key in enumerate(series):
            chosen = sorted(
                (r for r in rows if r.lang == lang and (r.label, r.variant, r.training) == key),
                key=lambda r: r.noise,
            )
            name = series_name(*key)
            colour = f"C{index % 10}"
            # a small sideways offset per series keeps error bars at one noise level apart
            dodge = (index - (len(series) - 1) / 2) * 0.004
            _line(ax, chosen, "native", f"{name}, native", colour, "-", dodge)
            _line(ax, chosen, "fused", f"{name}, fused w={fused_weight:g}", colour, "--", dodge)
        ax.set(title=f"en → {lang}", xlabel="MT noise rate", ylabel="SumR (test)")
        ax.set_xticks(levels)
        ax.set_xlim(levels[0] - pad, levels[-1] + pad)
        if not any(r.native for r in rows if r.lang == lang):
            _no_runs_yet(ax)
        ax.grid(alpha=0.3)
    return _save(plt, fig, path, title, legend_from=panels[0][0])


def _save(plt, fig, path: Path, title: str, legend_from=None) -> Path:
    """Title, the legend below every panel (outside the lines), tight layout, PNG at 120 dpi."""
    extra = [fig.suptitle(title)]
    if legend_from is not None:
        handles, labels = legend_from.get_legend_handles_labels()
        if handles:
            columns = min(len(labels), 3 if len(labels) > 4 else len(labels))
            legend = fig.legend(
                handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=columns,
                fontsize="small", frameon=False,
            )  # fmt: skip
            extra.append(legend)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight", bbox_extra_artists=extra)
    plt.close(fig)
    return path


def plot_languages(rows: list[LanguageRow], path: Path, title: str) -> Path:
    """One panel per (method, variant): mR per language by training mode; rank spreads."""
    plt = _pyplot()
    columns = list(dict.fromkeys((r.label, r.variant) for r in rows))
    modes = list(dict.fromkeys(r.training for r in rows))
    # one scale per kind of axis: the methods are compared across panels
    fig, panels = _panels(plt, len(columns), 4.2, 3.4, rows_per=2)
    for top, bottom in panels[1:]:
        top.sharey(panels[0][0])
        bottom.sharey(panels[0][1])
    langs = rows[0].langs if rows else []
    for (top, bottom), (label, variant) in zip(panels, columns, strict=True):
        chosen = {r.training: r for r in rows if (r.label, r.variant) == (label, variant)}
        width = 0.8 / max(1, len(modes))
        for index, mode in enumerate(modes):
            row = chosen.get(mode)
            if row is None:
                continue
            means = [np.mean(row.mr[lang]) if row.mr.get(lang) else 0.0 for lang in langs]
            errors = _errors([row.mr.get(lang, []) for lang in langs])
            xs = np.arange(len(langs)) + (index - (len(modes) - 1) / 2) * width
            top.bar(xs, means, width, yerr=errors, capsize=2 if errors else 0, label=mode,
                    color=f"C{index}")  # fmt: skip
        name = label if variant == PLAIN else f"{label} ({variant})"
        top.set(title=name, xticks=range(len(langs)), xticklabels=langs, ylabel="mR (test, %)")
        if not any(row.mr.get(lang) for row in chosen.values() for lang in langs):
            _no_runs_yet(top)
        _spread_boxes(bottom, chosen, modes)
    return _save(plt, fig, path, title, legend_from=panels[0][0])


def _no_runs_yet(ax) -> None:
    """A panel whose runs have not finished (a partial page) says so instead of standing empty."""
    ax.text(0.5, 0.5, "no finished runs yet", transform=ax.transAxes, ha="center", va="center",
            color="grey")  # fmt: skip


def _errors(groups: list[list[float]]) -> list[float] | None:
    """Error bars (sample std) for groups of seeds; None where no group has two seeds, so a
    one-seed chart draws no empty caps."""
    if all(len(group) < 2 for group in groups):
        return None
    return [std(group) or 0.0 for group in groups]


def _spread_boxes(ax, chosen: dict[str, LanguageRow], modes: list[str]) -> None:
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


def _line(
    ax, rows: list[Row], which: str, label: str, colour: str, style: str, dodge: float = 0.0
) -> None:
    points = [(r.noise, getattr(r, which)) for r in rows if getattr(r, which)]
    if not points:
        return
    xs = [x + dodge for x, _ in points]
    means = [sum(v) / len(v) for _, v in points]
    errors = _errors([v for _, v in points])
    ax.errorbar(xs, means, yerr=errors, label=label, color=colour, linestyle=style, marker="o",
                capsize=3 if errors else 0)  # fmt: skip
