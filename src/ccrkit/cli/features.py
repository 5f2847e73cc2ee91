"""`ccrkit features`: extract visual features with a pretrained encoder into a data spec's layout."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "features",
        help="extract image / video-frame features into a data spec's FeatureData folder",
        description="Encode the raw images (or video frames) of a data spec with a pretrained "
        "vision encoder and write them where the spec expects feature NAME: npy + id list per "
        "split for images, a BigFile + video2frames.txt for videos. Resumable: an interrupted run "
        "continues where it stopped. Under torchrun (torchrun --nnodes N --nproc_per_node G -m "
        "ccrkit features ...) every process encodes its share and rank 0 writes the files.",
    )
    parser.add_argument(
        "--data",
        required=True,
        metavar="NAME",
        help="data spec name in configs/data/ or a YAML path",
    )
    parser.add_argument(
        "--root",
        required=True,
        type=Path,
        metavar="DIR",
        help="folder holding the collection folders",
    )
    parser.add_argument(
        "--feature",
        required=True,
        metavar="NAME",
        help="feature folder to write under FeatureData/ (e.g. clip_vit_b32)",
    )
    parser.add_argument(
        "--encoder", required=True, metavar="NAME", help="encoder: clip, siglip or worldcnn"
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="DIR_OR_ID",
        help="model directory or hub id (worldcnn: the folder with backbone.safetensors)",
    )
    parser.add_argument(
        "--split",
        dest="splits",
        type=lambda text: [s for s in text.split(",") if s],
        metavar="S1,S2",
        help="splits to extract (default: all)",
    )
    parser.add_argument(  # the old name of --split
        "--splits", type=lambda text: [s for s in text.split(",") if s], help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=32,
        metavar="N",
        help="images per forward pass (default: %(default)s)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="torch device; auto = GPU when available (fp16 there), else CPU",
    )
    parser.add_argument(
        "--fps",
        type=float,
        metavar="F",
        help="frames per second sampled from videos (default: the spec's)",
    )
    parser.add_argument("--force", action="store_true", help="extract again over existing outputs")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ccrkit.data import load_data_spec, resolve_store
    from ccrkit.data.features import extract_for_spec, load_encoder
    from ccrkit.models import world_clip  # noqa: F401  (registers the `worldcnn` feature encoder)
    from ccrkit.ranks import DistEnv, join_cpu_group
    from ccrkit.runs import run_record

    spec = load_data_spec(args.data)
    splits = args.splits or list(spec.splits)
    first = resolve_store(spec, args.root, splits[0], args.feature)
    run_dir = first.path if first.format == "bigfile" else first.path.parent
    config = {
        key: str(value) if isinstance(value, Path) else value
        for key, value in vars(args).items()
        if key != "run"
    }
    env = join_cpu_group(DistEnv.from_environ())  # under torchrun: the ranks share the items
    encoder = load_encoder(args.encoder, args.model, args.device)
    extract = functools.partial(extract_for_spec, spec, args.root, args.feature, encoder, splits,
                                args.batch_size, args.force, args.fps, env)  # fmt: skip
    if not env.is_main:  # rank 0 keeps the run record and prints the outputs
        extract()
        return 0
    with run_record(run_dir, "features", config) as record:
        results = extract()
        record.metrics["outputs"] = results
        record.extra["ranks"] = env.world_size
    for path, status in results.items():
        print(f"{status:>8}  {path}")
    print(f"\nrun record: {run_dir / 'run.json'}")
    return 0
