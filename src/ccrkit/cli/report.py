"""`ccrkit report`: train an experiment grid's missing runs and write its results page."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "report",
        help="run an experiment grid (cached by config hash) and write tables and plots",
        description="Expand a grid (configs/report/<name>.yaml: methods x variants x training "
        "modes (separate / joint) x languages x MT noise levels x seeds), generate the worlds it "
        "needs once, train the runs not yet in its runs folder, and write <out>/<grid>.md (mean "
        "+- std of SumR, native and fused; per-language mR and MRV where asked), "
        "<out>/<grid>.json, the PNG plots and <out>/README.md, the comparison report over every "
        "grid page in <out>. Several --grid run one after the other.",
    )
    parser.add_argument(
        "--grid",
        action="append",
        metavar="NAME",
        help="a grid in configs/report/ or a YAML path (repeat for several)",
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="grid overrides (every grid), e.g. jobs=2"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list the runs (and which are cached); train nothing"
    )
    parser.add_argument(
        "--index",
        type=Path,
        metavar="DIR",
        help="only rewrite DIR/README.md from the grid pages in DIR (e.g. after merging branches "
        "that each add a page); trains nothing",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ccrkit.report import load_grid, run_report
    from ccrkit.report.execute import is_done
    from ccrkit.report.index import write_index

    if args.index is not None:
        if args.grid or args.overrides:
            raise ValueError("--index rewrites the README only; drop --grid and the overrides")
        if not args.index.is_dir():
            raise FileNotFoundError(f"--index {args.index}: no such folder")
        print(f"results: {write_index(args.index)}")
        return 0
    if not args.grid:
        raise ValueError("give --grid NAME (repeat for several) or --index DIR")

    grids = [(name, load_grid(name, args.overrides)) for name in args.grid]  # all checked first
    status = 0
    for name, grid in grids:
        outcome = run_report(grid, name, dry_run=args.dry_run)
        if args.dry_run:
            for planned in outcome.runs:
                print(f"{'cached ' if is_done(planned) else 'to run '} {planned.run_dir}")
            todo = sum(not is_done(r) for r in outcome.runs)
            print(f"{len(outcome.runs)} runs, {todo} to train")
            continue
        print(f"results: {outcome.page} (and {grid.out}/README.md)")
        if outcome.failures:
            print(f"{len(outcome.failures)} run(s) of {name} failed; see the page")
            status = 1
    return status
