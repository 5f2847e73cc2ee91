"""`ccrkit data check`: validate a benchmark's files against its data spec before training."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "data",
        help="inspect and validate data sets (data check)",
        description="Work with the data sets described by the specs in configs/data/.",
    )
    sub = parser.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    check = sub.add_parser(
        "check",
        help="validate every file of a data spec and print a summary",
        description="Validate captions (encoding, format, duplicates, tags, joins between roles, "
        "captions per item), item lists and visual data (features, frames, images) of a data "
        "spec. Prints a summary per split; on problems lists each with file and line and exits 2.",
    )
    check.add_argument(
        "--data",
        required=True,
        metavar="NAME",
        help="data spec name in configs/data/ or a YAML path",
    )
    check.add_argument(
        "--root",
        required=True,
        type=Path,
        metavar="DIR",
        help="folder holding the collection folders (the NRCCR 'VisualSearch' folder)",
    )
    check.add_argument(
        "--split", dest="splits", type=_splits, metavar="S1,S2",
        help="splits to check (default: all of the spec)",
    )  # fmt: skip
    check.add_argument("--splits", type=_splits, help=argparse.SUPPRESS)  # the old name
    check.add_argument(
        "--feature",
        metavar="NAME",
        help="feature folder under FeatureData/ (e.g. clip_vit_b32), or 'raw' for images/frames (default: the spec's)",
    )
    check.add_argument(
        "--feature-dim",
        type=int,
        metavar="D",
        help="expected feature dimension (default: the spec's, if any)",
    )
    check.add_argument(
        "--decode-images",
        action="store_true",
        help="fully decode every image (finds truncated files; slow)",
    )
    check.add_argument(
        "--max-problems",
        type=int,
        default=100,
        metavar="N",
        help="problems to print (0: all; default: %(default)s)",
    )
    check.set_defaults(run=run_check)


def run_check(args: argparse.Namespace) -> int:
    from ccrkit.data import check_data, load_data_spec

    spec = load_data_spec(args.data)
    report = check_data(
        spec,
        args.root,
        args.splits,
        args.feature,
        feature_dim=args.feature_dim,
        decode_images=args.decode_images,
    )
    print(f"data check: {spec.name} under {args.root} (visual: {report.feature})\n")
    print(report.table())
    if report.ok:
        print("\nno problems found")
        return 0
    shown = report.problems if args.max_problems <= 0 else report.problems[: args.max_problems]
    print(f"\n{len(report.problems)} problem(s):")
    for problem in shown:
        print(f"  {problem}")
    if len(shown) < len(report.problems):
        print(f"  ... and {len(report.problems) - len(shown)} more (--max-problems 0 lists all)")
    return 2


def _splits(text: str) -> list[str]:
    splits = [part.strip() for part in text.split(",") if part.strip()]
    if not splits:
        raise argparse.ArgumentTypeError(
            "expected comma-separated split names, e.g. train,val,test"
        )
    return splits
