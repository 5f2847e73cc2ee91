"""Is a difference between two cells of a grid more than seed noise? Welch's t-test (scipy) and
its generalisation to a linear contrast of several cells, on the per-seed values of each cell.

A cell needs `MIN_SEEDS` values for a p-value: with fewer, the answer says so instead of a number
(`Test.note`). `needs_more_seeds` is the rule behind an experiment's `more_seeds`: a difference
within two standard deviations of the noisier cell gets more seeds before it is judged.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

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

    @property
    def significant(self) -> bool:
        return self.p is not None and self.p < ALPHA

    def p_cell(self) -> str:
        """The p-value as a table cell: "0.012", "< 0.001", or why there is none."""
        if self.p is None:
            return self.note or "–"
        return "< 0.001" if self.p < 0.001 else f"{self.p:.3f}"


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
    from scipy import stats

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


def needs_more_seeds(a: Sequence[float], b: Sequence[float]) -> bool:
    """True when |mean(a) − mean(b)| lies within two standard deviations of the noisier cell
    (or a cell has fewer than two values): the difference cannot be judged on these seeds."""
    if len(a) < 2 or len(b) < 2:
        return True
    spread = max(statistics.stdev(a), statistics.stdev(b))
    return abs(statistics.fmean(a) - statistics.fmean(b)) < 2 * spread
