"""`ccrkit import nrccr|ccrk`: a released checkpoint of the official code as a ccrkit run folder.

(The module is not called `import`: that is a Python keyword.)
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "import",
        help="turn a released NRCCR or CCRk checkpoint into a ccrkit run",
        description="Read an official checkpoint without unpickling anything but tensors, plain "
        "containers and the classes it is known to hold, map every tensor to ccrkit's model and "
        "write a run folder that `ccrkit evaluate --checkpoint`, `ccrkit index build` and "
        "`ccrkit serve` use like a trained run. The mapping tables: docs/import.md.",
    )
    formats = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")
    nrccr = formats.add_parser(
        "nrccr", help="an NRCCR model_best.pth.tar (HuiGuanLab/nrccr, image or video)",
        description="Import an official NRCCR checkpoint (trainer_img.py / trainer_vid.py). The "
        "run reproduces the official forward (compatibility switches on) and evaluates on the "
        "data spec of its opt (collection, data_type, task) unless --data says otherwise.",
    )  # fmt: skip
    _common(nrccr, "bert-base-multilingual-cased")
    nrccr.add_argument("--data", metavar="NAME", help="data spec of the run (default: from opt)")
    nrccr.set_defaults(run=run_nrccr)
    ccrk = formats.add_parser(
        "ccrk", help="a CCRk .th checkpoint (BUAADreamer/CCRK): what ccrkit's 1-to-K covers",
        description="Import what ccrkit's one_to_k dual encoder has of a CCRk (X-VLM/CCLM) "
        "checkpoint: the 6-layer XLM-R text encoder, both contrastive projections and the "
        "temperature. The Swin-B vision tower, the fusion layers, the ITM and MLM heads have no "
        "ccrkit counterpart: the import refuses, naming them, unless --partial.",
    )  # fmt: skip
    _common(ccrk, "xlm-roberta-large")
    ccrk.add_argument("--data", default="multi30k-task1-de", metavar="NAME",
                      help="data spec of the run (default: %(default)s)")  # fmt: skip
    ccrk.add_argument("--feature", metavar="NAME",
                      help="feature folder holding the 1024-d image features the run reads")  # fmt: skip
    ccrk.add_argument(
        "--partial", action="store_true",
        help="import the parts ccrkit has and record the rest as not imported",
    )  # fmt: skip
    ccrk.set_defaults(run=run_ccrk)


def _common(parser: argparse.ArgumentParser, text_model: str) -> None:
    parser.add_argument("checkpoint", type=Path, metavar="CHECKPOINT")
    parser.add_argument(
        "--text-model", required=True, type=Path, metavar="DIR",
        help=f"folder of {text_model} (config and tokenizer; the weights come from the checkpoint)",
    )  # fmt: skip
    parser.add_argument("--out", required=True, type=Path, metavar="RUN_DIR")
    parser.add_argument(
        "--root", metavar="DIR", help="data root of the run (default: ~/VisualSearch)"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing --out")


def run_nrccr(args: argparse.Namespace) -> int:
    from ccrkit.methods.official.nrccr import import_nrccr

    summary = import_nrccr(
        args.checkpoint, args.text_model, args.out, data=args.data, root=args.root,
        force=args.force,
    )  # fmt: skip
    _report(args.out, summary)
    return 0


def run_ccrk(args: argparse.Namespace) -> int:
    from ccrkit.methods.official.ccrk import import_ccrk

    summary = import_ccrk(
        args.checkpoint, args.text_model, args.out, data=args.data, root=args.root,
        feature=args.feature, partial=args.partial, force=args.force,
    )  # fmt: skip
    _report(args.out, summary)
    return 0


def _report(out: Path, summary: dict) -> None:
    dropped = sum(summary.get("dropped", {}).values())
    not_imported = sum(summary.get("not_imported", {}).values())
    print(f"imported {summary['format']} ({summary.get('variant', '')}) from {summary['source']}")
    print(f"  tensors placed: {summary['tensors']}; dropped by rule: {dropped}"
          + (f"; not imported: {not_imported}" if not_imported else ""))  # fmt: skip
    for note, count in {**summary.get("dropped", {}), **summary.get("not_imported", {})}.items():
        print(f"    {count:5d}  {note}")
    print(f"  data spec: {summary.get('data')}; epoch {summary.get('epoch')}")
    print(f"run folder: {out}  (ccrkit evaluate --checkpoint {out})")
