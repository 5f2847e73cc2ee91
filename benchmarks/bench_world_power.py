"""The power of the synthetic world as an instrument (issue 18, item 5): does MT noise move the
translate-train baseline by more than its seed spread?

    python benchmarks/bench_world_power.py                  # the whole grid, then the targets
    python benchmarks/bench_world_power.py --dry-run        # what it would train, and how long
    python benchmarks/bench_world_power.py --check-only     # the targets of results already made
    python benchmarks/bench_world_power.py jobs=1 max_epochs=20   # grid overrides

It runs `ccrkit report --grid world-power` (configs/report/world-power.yaml: baseline-world on
world-mbert, German, MT noise 0 / 0.1 / 0.2 / 0.3 / 0.5, 3 seeds, early stopping; the report's
runs are cached, so an interrupted benchmark resumes) and then checks the issue's targets on the
native German SumR of every noise level, from `results/world-power.json`:

- spread: the seed standard deviation at most 2 % of the mean, at every noise level;
- monotone: the mean falls from each noise level to the next;
- separation: SumR at the lowest noise minus SumR at the highest at least 3 x the pooled seed
  standard deviation (root of the mean of the per-level variances).

The plot with error bars is the report's (`results/world-power-power.png`). The targets are
printed and written to `results/world-power-targets.json`; a level with fewer than 3 finished
seeds makes the result partial, and the file says so.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
from pathlib import Path

GRID = "world-power"
EXPERIMENT = "power"
SEEDS = 3


def power_targets(rows: list[dict], queries: str = "native") -> dict:
    """The three targets over the rows of the power experiment (one row per noise level, its
    per-seed SumR under `queries`)."""
    levels = sorted(rows, key=lambda row: row["noise"])
    table = []
    for row in levels:
        values = [v for v in row[queries] if v is not None and not math.isnan(v)]
        mean = statistics.fmean(values) if values else float("nan")
        std = statistics.stdev(values) if len(values) > 1 else float("nan")
        table.append({"noise": row["noise"], "seeds": len(values), "mean": mean, "std": std,
                      "std_share": std / mean if values else float("nan")})  # fmt: skip
    complete = all(level["seeds"] >= SEEDS for level in table) and len(table) >= 2
    means = [level["mean"] for level in table]
    pooled = math.sqrt(statistics.fmean([level["std"] ** 2 for level in table]))
    drop = means[0] - means[-1] if table else float("nan")
    return {
        "queries": queries,
        "levels": table,
        "complete": complete,
        "spread_ok": all(level["std_share"] <= 0.02 for level in table),
        "monotone": all(a > b for a, b in itertools.pairwise(means)),
        "drop": drop,
        "pooled_std": pooled,
        "separation": drop / pooled if pooled > 0 else float("inf"),
        "separation_ok": drop >= 3 * pooled,
    }


def describe(targets: dict) -> str:
    lines = [f"{'noise':>6} {'seeds':>5} {'SumR mean':>10} {'std':>6} {'std/mean':>9}"]
    for level in targets["levels"]:
        lines.append(
            f"{level['noise']:>6g} {level['seeds']:>5} {level['mean']:>10.1f} "
            f"{level['std']:>6.2f} {100 * level['std_share']:>8.1f}%"
        )
    lines += [
        f"spread <= 2 % of the mean at every level: {targets['spread_ok']}",
        f"falls monotonically: {targets['monotone']}",
        f"drop {targets['drop']:.1f} = {targets['separation']:.1f} x the pooled std "
        f"{targets['pooled_std']:.2f} (target >= 3): {targets['separation_ok']}",
    ]
    if not targets["complete"]:
        lines.append(f"PARTIAL: some noise level has fewer than {SEEDS} finished seeds")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry-run", action="store_true", help="the report's plan; trains nothing")
    parser.add_argument("--check-only", action="store_true",
                        help="check the targets of results/world-power.json; trains nothing")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("results"), help="the grid's out folder")
    parser.add_argument("overrides", nargs="*", help="grid overrides, e.g. jobs=1")
    args = parser.parse_args()
    if not args.check_only:
        from ccrkit.cli.main import main as ccrkit

        argv = ["report", "--grid", GRID, *(["--dry-run"] if args.dry_run else []),
                *args.overrides]  # fmt: skip
        status = ccrkit(argv)
        if status or args.dry_run:
            return status
    page = args.out / f"{GRID}.json"
    if not page.is_file():
        print(f"{page} not found: run the benchmark without --check-only first", file=sys.stderr)
        return 2
    rows = json.loads(page.read_text(encoding="utf-8"))["experiments"][EXPERIMENT]
    targets = {queries: power_targets(rows, queries) for queries in ("native", "fused")}
    for queries, found in targets.items():
        print(f"{queries} German queries:\n{describe(found)}\n")
    out = args.out / f"{GRID}-targets.json"
    out.write_text(json.dumps(targets, indent=2) + "\n", encoding="utf-8")
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
