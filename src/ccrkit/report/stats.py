"""Is a difference between two cells of a grid more than seed noise? Welch's t-test (scipy) and
its generalisation to a linear contrast of several cells, on the per-seed values of each cell;
the paired t-test where the two cells hold the same trained weights, seed by seed.

A cell needs `MIN_SEEDS` values for a p-value: with fewer, the answer says so instead of a number
(`Test.note`). `needs_more_seeds` is the rule behind an experiment's `more_seeds`: a difference
within two standard deviations of the noisier cell gets more seeds before it is judged.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

MIN_SEEDS = 3
ALPHA = 0.05


@dataclass(frozen=True)
class Test:
    """One comparison: the estimate (a difference of means, or a contrast), its p-value, and
    the seeds behind it; `p` is None when it could not be computed, `note` says why."""

    estimate: float | None
    p: float | None
    seeds: tuple[int, ...]
    note: str = ""
    paired: bool = False  # a paired t-test over seeds (`paired`), else Welch's

    @property
    def significant(self) -> bool:
        return self.p is not None and self.p < ALPHA

    def p_cell(self) -> str:
        """The p-value as a table cell: "0.012", "< 0.001", or why there is none."""
        if self.p is None:
            return self.note or "–"
        value = "< 0.001" if self.p < 0.001 else f"{self.p:.3f}"
        return f"{value} (paired)" if self.paired else value


def welch(a: Sequence[float], b: Sequence[float]) -> Test:
    """Welch's t-test of mean(a) − mean(b) (unequal variances), two-sided: scipy's
    `ttest_ind(a, b, equal_var=False)`."""
    return welch_contrast([a, b], [1.0, -1.0])


def welch_contrast(groups: Sequence[Sequence[float]], weights: Sequence[float]) -> Test:
    """A two-sided t-test of the contrast C = Σ_i w_i · mean(group_i), groups independent with
    unequal variances (Welch–Satterthwaite):

        se² = Σ_i w_i² s_i² / n_i,   df = se⁴ / Σ_i (w_i² s_i² / n_i)² / (n_i − 1),
        t = C / se,   p = 2 · P(T_df > |t|)

    With two groups and weights (1, −1) this is Welch's t-test. "NRCCR's gain over the baseline
    grows with noise" is the contrast (+1, −1, −1, +1) of (NRCCR, baseline) at high and low noise.
    """
    if len(groups) != len(weights):
        raise ValueError(f"{len(groups)} groups but {len(weights)} weights")
    sizes = tuple(len(g) for g in groups)
    present = [g for g in groups if g]
    estimate = (
        sum(w * statistics.fmean(g) for g, w in zip(groups, weights, strict=True))
        if len(present) == len(groups)
        else None
    )
    if min(sizes) < MIN_SEEDS:
        return Test(estimate, None, sizes, f"n < {MIN_SEEDS} seeds ({', '.join(map(str, sizes))})")
    parts = [w * w * statistics.variance(g) / len(g) for g, w in zip(groups, weights, strict=True)]
    se2 = sum(parts)
    assert estimate is not None
    if se2 == 0:  # every seed gave the same number in every cell: no noise to test against
        return Test(estimate, None if estimate else 1.0, sizes, "no seed spread")
    df = se2**2 / sum(part**2 / (n - 1) for part, n in zip(parts, sizes, strict=True) if part)
    t = estimate / math.sqrt(se2)
    return Test(estimate, float(2 * stats.t.sf(abs(t), df)), sizes)


def paired(a: Sequence[float], b: Sequence[float]) -> Test:
    """The paired t-test of mean(a − b), two-sided, over values paired by position (the same
    seed): scipy's `ttest_rel(a, b)`. For two variants scored from the same trained weights
    (`ccrkit.train.retest`), where each seed's difference is the variant's effect alone and
    Welch's test would count the spread between seeds as noise."""
    if len(a) != len(b):
        raise ValueError(f"paired values: {len(a)} against {len(b)}")
    sizes = (len(a), len(b))
    differences = [x - y for x, y in zip(a, b, strict=True)]
    estimate = statistics.fmean(differences) if differences else None
    if len(differences) < MIN_SEEDS:
        note = f"n < {MIN_SEEDS} seeds ({len(differences)} paired)"
        return Test(estimate, None, sizes, note, paired=True)
    assert estimate is not None
    if statistics.stdev(differences) == 0:  # every seed moved by the same amount
        return Test(estimate, None if estimate else 1.0, sizes, "no seed spread", paired=True)
    return Test(estimate, float(stats.ttest_rel(a, b).pvalue), sizes, paired=True)


def needs_more_seeds(a: Sequence[float], b: Sequence[float]) -> bool:
    """True when |mean(a) − mean(b)| lies within two standard deviations of the noisier cell
    (or a cell has fewer than two values): the difference cannot be judged on these seeds."""
    if len(a) < 2 or len(b) < 2:
        return True
    spread = max(statistics.stdev(a), statistics.stdev(b))
    return abs(statistics.fmean(a) - statistics.fmean(b)) < 2 * spread
