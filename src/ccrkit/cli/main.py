"""`ccrkit COMMAND ...`: every module in `ccrkit.cli` (but this one) adds a subcommand.

A subcommand module defines `add_parser(commands)`, which adds its parser and sets `run=` to a
function `run(args) -> int`; it imports heavy libraries inside `run` so `ccrkit --help` stays fast.

User errors (bad input, bad config) end as one line on stderr and exit status 2, never a traceback;
a full disk as one line and exit status 1; set CCRKIT_DEBUG=1 to see the traceback anyway. Every
command runs with glibc's allocator keeping freed memory (`ccrkit.allocator`): a quarter less time
for training on CPU. `ccrkit --plugin MODULE COMMAND ...` imports MODULE first.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from ccrkit import __version__, cli
from ccrkit.allocator import keep_freed_memory
from ccrkit.registry import import_plugins
from ccrkit.runs import is_disk_full

USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccrkit",
        description="Cross-lingual cross-modal retrieval: translate, train, evaluate, serve.",
    )
    parser.add_argument("--version", action="version", version=f"ccrkit {__version__}")
    parser.add_argument(
        "--plugin", action="append", default=[], metavar="MODULE",
        help="import this module first, so that its registrations (a method, an encoder) are "
        "known; repeatable. Needed to load a run trained with plug-ins: checkpoints never "
        "import the code they name",
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in sorted(m.name for m in pkgutil.iter_modules(cli.__path__)):
        if module != "main":
            importlib.import_module(f"ccrkit.cli.{module}").add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    keep_freed_memory()  # every command works on arrays: see ccrkit.allocator
    try:
        import_plugins(args.plugin)
        return int(args.run(args) or 0)
    except USER_ERRORS as err:
        if os.environ.get("CCRKIT_DEBUG"):
            raise
        print(f"ccrkit {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:
        if os.environ.get("CCRKIT_DEBUG") or not is_disk_full(err):
            raise
        print(f"ccrkit {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"ccrkit {args.command}: interrupted", file=sys.stderr)
        return 130


def _one_line(err: BaseException) -> str:
    text = err.strerror if isinstance(err, OSError) and err.strerror and not err.filename else err
    return " ".join(str(text).split("\n")[0].split()) or type(err).__name__


if __name__ == "__main__":
    raise SystemExit(main())
