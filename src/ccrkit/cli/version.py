"""`ccrkit version`: the package version and the versions of the libraries it runs on."""

from __future__ import annotations

import argparse


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("version", help="print ccrkit's version and its libraries'")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ccrkit.runs import git_commit, package_versions

    for name, version in package_versions().items():
        print(f"{name:14s} {version}")
    commit = git_commit()
    if commit:
        print(f"{'git commit':14s} {commit}")
    return 0
