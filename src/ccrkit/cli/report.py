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
        "--dry-run",
        action="store_true",
        help="say what would be trained and how long it should take, list every run (cached, "
        "to resume, to train) and the worlds to generate; writes nothing",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="regenerate worlds left unfinished (or different) in the grid's world folders and "
        "train interrupted runs again from the start instead of resuming them; finished runs "
        "stay cached",
    )
    parser.add_argument(
        "--no-train",
        action="store_true",
        help="write the page from the runs finished so far and train nothing (a partial page: "
        "it says how many runs it lacks; cells short of seeds say so)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="say whether the results pages in the grids' out folder (or --index DIR) were made "
        "by the code and configs of this checkout; exit status 1 when one is stale",
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
    from ccrkit.report import estimate_grid, load_grid, run_report
    from ccrkit.report.index import write_index

    if args.index is not None and not args.check:
        if args.grid or args.overrides:
            raise ValueError("--index rewrites the README only; drop --grid and the overrides")
        if not args.index.is_dir():
            raise FileNotFoundError(f"--index {args.index}: no such folder")
        print(f"results: {write_index(args.index)}")
        return 0
    if args.check:
        return _check(args)
    if not args.grid:
        raise ValueError("give --grid NAME (repeat for several) or --index DIR")

    grids = [(name, load_grid(name, args.overrides)) for name in args.grid]  # all checked first
    _warn_stale({grid.out for _, grid in grids})
    plans = [(name, grid, *estimate_grid(grid)) for name, grid in grids]
    worlds: dict[str, float] = {}  # grids may share worlds: each is generated once
    wall = more = 0.0
    for name, grid, _, cost in plans:
        print("\n".join(cost.lines(name)))
        wall += cost.train_seconds / grid.jobs
        more += cost.more_seconds / grid.jobs
        worlds |= {str(w.root): grid.world.seconds for w in cost.worlds_to_generate}
    if len(plans) > 1:
        wall += sum(worlds.values())
        print(
            f"all grids: expected {wall / 3600:.1f} h wall clock ({len(worlds)} world(s) to "
            f"generate), then up to {more / 3600:.1f} h for more_seeds"
        )
    if args.dry_run:
        for name, _, planned, _ in plans:
            _list_runs(name, planned)
        return 0
    for name, _, planned, _ in plans if not args.no_train else []:  # worlds checked first
        command = f"ccrkit report --grid {name}"
        blockers = [why for w in planned.worlds.values() if (why := w.blocker(args.force, command))]
        if blockers:
            raise FileExistsError(blockers[0])
    status = 0
    for name, grid, _, _ in plans:
        outcome = run_report(grid, name, force=args.force, train=not args.no_train)
        print(f"results: {outcome.page} (and {grid.out}/README.md)")
        if args.no_train:
            print(f"partial page (--no-train): {outcome.untrained} of {len(outcome.runs)} run(s) of "
                  f"{name} not trained yet; nothing was trained")  # fmt: skip
        if outcome.failures:
            print(f"{len(outcome.failures)} run(s) of {name} failed; see the page")
            status = 1
    return status


def _list_runs(name: str, planned) -> None:
    from ccrkit.report.estimate import planned_state
    from ccrkit.report.execute import resumable_epoch
    from ccrkit.report.plan import rescored_from

    runs = planned.unique()
    rescored = rescored_from(runs)
    for run in runs:
        state = planned_state(run, rescored)
        extra = f" (from epoch {resumable_epoch(run)})" if state == "resume" else ""
        print(f"{state:7} {run.run_dir}{extra}")


def _check(args: argparse.Namespace) -> int:
    """Exit 1 when a page in the folders was made by other code or configs than these."""
    from ccrkit.report import load_grid

    if args.index is not None:
        folders = {str(args.index)}
    else:
        folders = {load_grid(name, args.overrides).out for name in args.grid or []}
    if not folders:
        raise ValueError("--check needs --grid NAME (its out folder) or --index DIR")
    stale = _warn_stale(folders, quiet_when_fresh=False)
    return 1 if stale else 0


def _warn_stale(folders: set[str], quiet_when_fresh: bool = True) -> bool:
    """Print one line per results page made by other code; True when any is stale."""
    from ccrkit.report.index import staleness

    stale = False
    for folder in sorted(folders):
        for line, is_stale in staleness(Path(folder)):
            stale |= is_stale
            if is_stale or not quiet_when_fresh:
                print(line)
    return stale
