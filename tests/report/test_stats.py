"""Welch's t-test and contrast of `report.stats` (issue 19), and the paired test of a test-time
variant against its reference, against scipy on fixed numbers."""

from __future__ import annotations

import pytest
from scipy import stats

from ccrkit.report.aggregate import Row
from ccrkit.report.compare import compare
from ccrkit.report.spec import ExperimentSpec, GridSpec, MethodSpec
from ccrkit.report.stats import needs_more_seeds, paired, welch, welch_contrast

A = [44.8, 41.2, 48.9, 46.0]
B = [38.3, 40.1, 36.9]


def test_welch_equals_scipy() -> None:
    test = welch(A, B)
    expected = stats.ttest_ind(A, B, equal_var=False)
    assert test.p == pytest.approx(expected.pvalue, rel=1e-12)
    assert test.estimate == pytest.approx(sum(A) / 4 - sum(B) / 3)
    assert test.p == pytest.approx(0.01661, abs=5e-6)  # the figure itself, fixed
    assert test.significant and test.p_cell() == "0.017"


def test_contrast_of_two_groups_is_welch_and_of_four_a_difference_of_gains() -> None:
    assert welch_contrast([A, B], [1, -1]).p == pytest.approx(welch(A, B).p, rel=1e-12)
    high_a, high_b, low_a, low_b = (
        [50.0, 52.0, 51.0],
        [40.0, 41.0, 39.5],
        [45.0, 46.0, 44.0],
        [44.0, 45.5, 44.5],
    )
    test = welch_contrast([high_a, high_b, low_a, low_b], [1, -1, -1, 1])
    assert test.estimate == pytest.approx((51 - 40.1667) - (45 - 44.6667), abs=1e-3)
    # Welch–Satterthwaite by hand: se² = Σ s²/n, df = se⁴ / Σ (s²/n)² / (n − 1)
    parts = [stats.tvar(g) / 3 for g in (high_a, high_b, low_a, low_b)]
    se2 = sum(parts)
    df = se2**2 / sum(p * p / 2 for p in parts)
    assert test.p == pytest.approx(2 * stats.t.sf(test.estimate / se2**0.5, df), rel=1e-12)


# NRCCR's native SumR over 5 seeds with the BatchNorm statistics re-estimated (mt) and as trained
MT = [196.98, 156.26, 181.18, 195.6, 169.66]
SHARED = [193.76, 143.3, 174.18, 190.1, 160.88]


def test_paired_equals_scipy_and_sees_what_welch_does_not() -> None:
    test = paired(MT, SHARED)
    assert test.p == pytest.approx(stats.ttest_rel(MT, SHARED).pvalue, rel=1e-12)
    assert test.p == pytest.approx(0.0103, abs=5e-5)  # every seed gains: +3.2 ... +13.0
    assert test.estimate == pytest.approx(37.46 / 5)  # the mean of the 5 differences
    assert test.p_cell() == "0.010 (paired)"
    assert welch(MT, SHARED).p == pytest.approx(0.555, abs=5e-4)  # the spread between seeds
    assert paired(MT[:2], SHARED[:2]).note == "n < 3 seeds (2 paired)"
    assert paired([2.0, 3.0, 4.0], [1.0, 2.0, 3.0]).note == "no seed spread"
    with pytest.raises(ValueError, match="paired values: 2 against 3"):
        paired([1.0, 2.0], [1.0, 2.0, 3.0])


def test_a_variant_scored_from_its_references_weights_is_compared_seed_by_seed() -> None:
    grid = GridSpec(name="g", methods={"m": MethodSpec(config="x")},
                    experiments=[])  # fmt: skip
    experiment = ExperimentSpec(name="e", methods=["m"], noise=[0.3], reference="shared",
                                variants={"shared": [], "mt": [], "retrained": []})  # fmt: skip

    def row(variant: str, values: list[float], scored_from: str | None) -> Row:
        result = Row("m", "M", variant, "de", 0.3, native=list(values))
        for seed, value in enumerate(values):
            result.by_seed[seed] = {
                "native": value, "fused": None, "english": None,
                "run_dir": f"runs/{variant}{seed}",
                "retest_of": f"runs/{scored_from}{seed}" if scored_from else None,
            }  # fmt: skip
        return result

    rows = [row("shared", SHARED, None), row("mt", MT, "shared"), row("retrained", MT, None)]
    tests = {c.a.variant: c.test for c in compare(grid, experiment, rows)}
    assert tests["mt"].paired and tests["mt"].p == pytest.approx(paired(MT, SHARED).p)
    assert not tests["retrained"].paired  # trained on its own: Welch
    assert tests["retrained"].p == pytest.approx(welch(MT, SHARED).p)


def test_too_few_seeds_say_so() -> None:
    test = welch([1.0, 2.0], B)
    assert test.p is None and test.p_cell() == "n < 3 seeds (2, 3)" and not test.significant


def test_more_seeds_when_within_two_standard_deviations() -> None:
    assert needs_more_seeds([10.0, 12.0, 14.0], [13.0, 15.0, 17.0])  # Δ 3 < 2 x 2
    assert not needs_more_seeds([10.0, 12.0, 14.0], [20.0, 22.0, 24.0])  # Δ 10 > 4


def test_a_claim_that_holds_in_some_cells_keeps_its_diagnosis_beside_the_verdict():
    """1 of 2 cells for the claim and none against: it holds (`require: half`), and the grid's
    diagnosis of the other cell is shown with it, not dropped."""
    from ccrkit.report.claims import HOLDS, ClaimCell, ClaimResult
    from ccrkit.report.spec import ClaimSpec

    spec = ClaimSpec(claim="m beats b", experiment="e", method="m", against=["b"],
                     diagnosis="native queries do not separate them")  # fmt: skip
    cells = [
        ClaimCell("de, fused", welch([250.0, 249.0, 251.0], [225.0, 224.0, 226.0])),
        ClaimCell("de, native", welch([170.0, 145.0, 195.0], [166.0, 158.0, 172.0])),
    ]
    result = ClaimResult(spec, cells)
    assert result.verdict == HOLDS
    assert result.as_dict()["diagnosis"] == "native queries do not separate them"
