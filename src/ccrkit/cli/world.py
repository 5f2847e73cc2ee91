"""`ccrkit world`: generate the synthetic multilingual world (images, videos, captions in six
languages, noisy MT, frozen backbone features) in the NRCCR VisualSearch layout."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "world",
        help="generate the synthetic multilingual image/video world (the default data)",
        description="Generate the synthetic world: images and videos, human captions in English, "
        "German, French, Czech, Chinese and Japanese, typed-noise MT, its pretrained models "
        "(world-clip, the frozen English-only visual backbone whose features the world ships, and "
        "world-mbert, a multilingual BERT in Hugging Face format under DATA_ROOT/models/), in the "
        "VisualSearch layout. Deterministic from the config's seed; a DATA_ROOT that already holds "
        "the same world is left as it is.",
    )
    parser.add_argument("--config", default="world-default", metavar="NAME|PATH",
                        help="world config in configs/world/ or a YAML path (default: %(default)s)")  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, metavar="DATA_ROOT",
                        help="folder to write the world into")  # fmt: skip
    parser.add_argument("--preview", action="store_true",
                        help="also write DATA_ROOT/preview.png, a contact sheet of a few items")  # fmt: skip
    parser.add_argument("--force", action="store_true",
                        help="replace a different or unfinished world in DATA_ROOT")  # fmt: skip
    parser.add_argument("--pretrained-cache", type=Path, metavar="DIR",
                        help="where world-clip and world-mbert are kept for every world that "
                        "shares them (default: $CCRKIT_PRETRAINED_CACHE, else world-pretrained/ "
                        "beside DATA_ROOT)")  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--quiet", dest="no_progress", action="store_true",
                        help=argparse.SUPPRESS)  # the old name of --no-progress  # fmt: skip
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="config overrides, e.g. mt.noise=0.3 image.train=500")  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ccrkit.config import load_config
    from ccrkit.world.config import WorldConfig
    from ccrkit.world.world import generate_world, summary

    cfg = load_config(WorldConfig, args.config, args.overrides)
    result = generate_world(
        cfg,
        args.out,
        force=args.force,
        show_progress=not args.no_progress,
        pretrained_cache=args.pretrained_cache,
    )
    if result.status == "cached":
        print(
            f"{args.out} already holds this world (config hash {result.info['config_hash']}); nothing to do"
        )
    else:
        print(summary(result.info))
    if args.preview:
        from ccrkit.world.preview import write_preview

        path = write_preview(args.out, cfg.preview_items)
        print(f"preview: {path}")
    return 0
