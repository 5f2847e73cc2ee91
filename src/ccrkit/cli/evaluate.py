"""`ccrkit evaluate`: the papers' retrieval metrics for similarity matrices saved as .npy."""

from __future__ import annotations

import argparse
from pathlib import Path

OUTPUTS = ("run.json", "results.md", "ranks", "t2v_ranks.npy", "v2t_ranks.npy", "v2t_ap.npy")


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="retrieval metrics (R@K, MedR, MeanR, mAP, SumR, mR) of a similarity matrix "
        "or of a trained run",
        description="Compute the CCR papers' metrics from a (queries x items) similarity matrix "
        "(higher = better) and the item index of every query. Several matrices given with "
        "--weights are min-max normalised and fused (NRCCR translate-test). With --checkpoint, "
        "score a trained run on a data split: native human queries and the translate-test fusion "
        "with each --fusion-weights value, t2v and v2t, labelled.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--sim",
        action="append",
        type=Path,
        metavar="S.npy",
        help="similarity matrix, queries x items (repeat to fuse several)",
    )
    source.add_argument(
        "--example",
        action="store_true",
        help="evaluate a built-in example matrix (300 items x 5 captions)",
    )
    source.add_argument(
        "--checkpoint",
        type=Path,
        metavar="RUN_DIR",
        help="a training run folder (ccrkit train) to score on --data/--split",
    )
    _add_checkpoint_options(parser)
    parser.add_argument(
        "--query-item",
        type=Path,
        metavar="Q.npy",
        help="item index (column) of every query (row); required with --sim",
    )
    parser.add_argument(
        "--weights",
        type=_weights,
        metavar="W1,W2,...",
        help="fusion weights, one per --sim, >= 0, summing to 1",
    )
    parser.add_argument(
        "--ties",
        choices=("pessimistic", "optimistic", "stable"),
        default="pessimistic",
        help="how tied scores are ranked (default: %(default)s; with --checkpoint the run's eval.ties)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="run directory for run.json (default: runs/evaluate-<time>)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace the outputs of an earlier run in --out"
    )
    parser.add_argument(
        "--save-ranks",
        action="store_true",
        help="also save per-query and per-item ranks as .npy in the run directory",
    )
    parser.set_defaults(run=run)


def _add_checkpoint_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("with --checkpoint")
    group.add_argument("--data", metavar="NAME", help="data spec (default: the run's own)")
    group.add_argument("--root", metavar="DIR", help="data root (default: the run's own)")
    group.add_argument("--split", default="test", help="split to score (default: %(default)s)")
    group.add_argument(
        "--lang",
        type=_langs,
        metavar="L1,L2,...",
        help="query language(s); with several, also MRV (t2v and v2t, std and var) and the "
        "spread of mR across them (default: the languages the run was tested on)",
    )
    group.add_argument(
        "--fusion-weights",
        type=_weights,
        metavar="W1,W2,...",
        help="translate-test fusion weights of the English MT of each query "
        "(default: the run's eval.fusion_weights; 0 = native only)",
    )
    group.add_argument(
        "--which",
        choices=("best", "last"),
        default="best",
        help="checkpoint (default: %(default)s)",
    )
    group.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    if args.checkpoint is not None:
        return _run_checkpoint(args)
    from ccrkit.evaluate.offline import (
        distractor_note,
        evaluate_matrices,
        example_similarity,
        load_array,
    )
    from ccrkit.evaluate.table import metrics_table
    from ccrkit.runs import claim_run_dir, default_run_dir, run_record

    if args.example:
        sims, query_item = example_similarity()
        sims = [sims]
        label = "built-in example"
    else:
        if args.query_item is None:
            raise ValueError("--sim needs --query-item Q.npy (the item index of every query)")
        sims = [load_array(path, "a 2-D similarity matrix") for path in args.sim]
        query_item = load_array(args.query_item, "a 1-D array of item indices")
        label = " + ".join(path.name for path in args.sim)
    out = args.out or default_run_dir("evaluate")
    claim_run_dir(out, OUTPUTS, args.force)
    config = {
        "sim": [str(p) for p in args.sim or []], "query_item": str(args.query_item or ""),
        "example": args.example, "weights": args.weights, "ties": args.ties,
    }  # fmt: skip
    with run_record(out, "evaluate", config) as record:
        metrics = evaluate_matrices(
            sims, query_item, args.weights, args.ties, out if args.save_ranks else None
        )
        record.metrics[label] = metrics
    print(metrics_table({label: metrics}))
    note = distractor_note(query_item, sims[0].shape[1])
    if note:
        print(note)
    print(f"\nrun record: {out / 'run.json'}")
    return 0


def _run_checkpoint(args: argparse.Namespace) -> int:
    from ccrkit.evaluate.run import CheckpointEval, evaluate_checkpoint
    from ccrkit.evaluate.table import results_tables
    from ccrkit.runs import claim_run_dir, default_run_dir

    out = args.out or default_run_dir("evaluate")
    claim_run_dir(out, OUTPUTS, args.force)
    request = CheckpointEval(
        args.checkpoint, out, args.which, args.data, args.root, args.split, args.lang,
        args.fusion_weights, args.device,
    )  # fmt: skip
    print(results_tables(evaluate_checkpoint(request)))
    print(f"\nrun record: {out / 'run.json'}  (results.md, ranks/)")
    return 0


def _langs(text: str) -> list[str]:
    langs = [part.strip() for part in text.split(",") if part.strip()]
    if not langs:
        raise argparse.ArgumentTypeError(f"expected comma-separated language codes, got {text!r}")
    return langs


def _weights(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
