"""`ccrkit config show`: print a config as the command that reads it would see it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

KINDS = {  # kind -> (folder in configs/, the command that reads it)
    "train": ("", "ccrkit train --config"),
    "world": ("", "ccrkit world --config"),
    "index": ("index", "ccrkit index build --config"),
    "data": ("data", "--data"),
    "translate": ("translate", "ccrkit translate --config"),
    "report": ("report", "ccrkit report --grid"),
}


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "config",
        help="show a resolved config (base chain + overrides, every default filled in)",
        description="Work with the YAML configs in configs/ (or your own files).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser(
        "show",
        help="print the resolved config as YAML",
        description="Resolve a config as the command that reads it does: its `base:` chain, "
        "then the KEY=VALUE overrides, validated, with every default filled in (for a training "
        "config also those of the chosen method and encoders). The output is itself a valid "
        "config file: `ccrkit config show --config X key=v > my.yaml` then `--config my.yaml`.",
    )
    show.add_argument(
        "--config", required=True, metavar="NAME", help="a config in configs/ or a YAML path"
    )
    show.add_argument(
        "--kind",
        choices=sorted(KINDS),
        help="what the config is for (default: guessed from where it lives and its keys)",
    )
    show.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="overrides, e.g. train.lr=3e-4"
    )
    show.set_defaults(run=run_show)


def run_show(args: argparse.Namespace) -> int:
    import yaml

    kind = args.kind or guess_kind(args.config)
    resolved, layers = resolve(kind, args.config, list(args.overrides))
    print(f"# {kind} config, as `{KINDS[kind][1]} {args.config}` reads it")
    for layer in layers:
        print(f"# from {layer}")
    print(yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True, width=100), end="")
    return 0


def resolve(kind: str, name: str, overrides: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The resolved config of `kind` as a plain dict, and the files/overrides it came from."""
    from ccrkit.config import load_config_sources, to_dict

    if kind == "train":
        from ccrkit.train.config import RunConfig, resolve_run

        config, sources = load_config_sources(RunConfig, name, overrides)
        sections = resolve_run(config, sources).model.sections()
        return {**to_dict(config), **sections}, sources.layers()
    if kind == "data":
        from ccrkit.data import load_data_spec

        return to_dict(load_data_spec(name, overrides)), []
    if kind == "translate":
        from ccrkit.translate.config import load_translate_config

        return to_dict(load_translate_config(name, None, None, overrides)), []
    if kind == "report":
        from ccrkit.report import load_grid

        return to_dict(load_grid(name, overrides)), []
    if kind == "index":  # short type parameters (ef_search=128) read as params.ef_search
        from ccrkit.index.config import index_overrides

        overrides = index_overrides(overrides)
    schema = _schema(kind)
    config, sources = load_config_sources(schema, name, overrides, KINDS[kind][0])
    return to_dict(config), sources.layers()


def guess_kind(name: str) -> str:
    """The kind of config `name` is: a file in configs/ (or a path) by its keys, else by the
    configs/ subfolder that holds it (`nrccr-world` is a training config; `--kind report` shows
    the grid of the same name)."""
    from ccrkit.config import ConfigError, config_files, read_yaml, resolve_config_path

    path = Path(name)
    named = path.suffix not in (".yaml", ".yml") and path.parent == Path(".")
    if not named or name in config_files():
        keys = set(read_yaml(resolve_config_path(name)))
        for kind in ("train", "world", "data", "index"):
            if keys <= set(_schema(kind).__dataclass_fields__):
                return kind
        raise ConfigError(
            f"{name}: cannot tell what this config is for (keys {', '.join(sorted(keys))}); "
            f"give --kind ({', '.join(sorted(KINDS))})"
        )
    for kind, (subdir, _) in KINDS.items():
        if subdir and name in config_files(subdir):
            return kind
    resolve_config_path(name)  # raises: unknown config, with the known names
    raise AssertionError("unreachable")


def _schema(kind: str) -> type:
    if kind == "train":
        from ccrkit.train.config import RunConfig

        return RunConfig
    if kind == "world":
        from ccrkit.world.config import WorldConfig

        return WorldConfig
    if kind == "data":
        from ccrkit.data.spec import DataSpec

        return DataSpec
    from ccrkit.index.config import IndexConfig

    return IndexConfig
