"""`ccrkit train`: train a method from a named config (alone, or under torchrun for DDP)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train",
        help="train a method (config + key=value overrides), evaluate it, write a run folder",
        description="Train the configured method on the configured data, select the best epoch on "
        "the validation split, then score the test split (native and translate-test fused). "
        "Writes run.json, results.md, checkpoints/, tensorboard/ and ranks/ into the run folder. "
        "Under `torchrun --nproc_per_node N` the same command trains with DDP.",
    )
    parser.add_argument(
        "--config", metavar="NAME", help="a run config in configs/runs/ or a YAML path"
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. train.lr=3e-4"
    )
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue a run from its last checkpoint, with the config it was trained with; "
        "add train.epochs=N to train a finished run longer",
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="run folder (default: runs/train-<time>)"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace the outputs of an earlier run in --out"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ccrkit.config import available_configs, load_config_sources
    from ccrkit.evaluate.table import results_tables
    from ccrkit.runs import default_run_dir
    from ccrkit.train.config import RunConfig, resolve_run
    from ccrkit.train.distributed import DistEnv
    from ccrkit.train.run import resume_config, train_from_config

    env = DistEnv.from_environ()
    if args.resume is not None:
        if args.config or args.out or args.force:
            raise ValueError(
                "--resume RUN_DIR uses that run's config and folder; drop --config/--out/--force"
            )
        run, run_dir = resolve_run(resume_config(args.resume, args.overrides)), args.resume
    else:
        if args.config is None:
            known = ", ".join(available_configs()) or "(none)"
            raise ValueError(f"give --config NAME (known: {known}) or --resume RUN_DIR")
        if args.out is None and env.distributed:
            raise ValueError(
                "under torchrun give --out DIR: every process must use the same run folder"
            )
        config, sources = load_config_sources(RunConfig, args.config, args.overrides)
        run = resolve_run(config, sources)  # a bad method/encoder key names its file or override
        run_dir = args.out or default_run_dir("train")
    outcome = train_from_config(run, run_dir, resume=args.resume is not None, force=args.force)
    if env.is_main:
        progress = outcome.progress
        print(f"\n{progress.finish_reason}; best epoch {progress.best_epoch}")
        if outcome.test:
            print(results_tables(outcome.test))
        print(f"\nrun folder: {Path(run_dir)}  (run.json, results.md, checkpoints/, tensorboard/)")
    return 0
