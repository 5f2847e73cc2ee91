"""The runbooks (docs/benchmarks/*.md, docs/import.md) stay true: every `ccrkit ...` command they
show parses with today's CLI, and every `ccrkit train` command gives a valid run config whose
encoder and method sections validate (no model is loaded)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from ccrkit.cli.main import build_parser
from ccrkit.config import build, load_config
from ccrkit.methods.registry import METHODS
from ccrkit.models.registry import TEXT_ENCODERS, VISUAL_ENCODERS
from ccrkit.train.config import RunConfig

DOCS = Path(__file__).parents[1] / "docs"
PAGES = [*sorted((DOCS / "benchmarks").glob("*.md")), DOCS / "import.md"]
VARIABLES = {"$M": "/models", "$HOME": "/home/me", "$MODELDIR": "/models/nrccr", "~": "/home/me"}


def commands(page: Path) -> list[str]:
    """`ccrkit ...` lines of the page's bash blocks, continuations joined, comments dropped."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
        text = re.sub(r"\\\n\s*", " ", block)
        for line in text.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("ccrkit "):
                for name, value in VARIABLES.items():
                    line = line.replace(name, value)
                found.append(line)
    return found


ALL = [(page.name, command) for page in PAGES for command in commands(page)]


def test_the_runbooks_exist_and_show_commands():
    names = {page.name for page in PAGES}
    assert {"multi30k.md", "mscoco.md", "vatex.md", "msrvtt-cn.md", "import.md"} <= names
    for page in ("multi30k.md", "mscoco.md", "vatex.md", "msrvtt-cn.md"):
        shown = {command.split()[1] for name, command in ALL if name == page}
        assert {"data", "train", "evaluate", "translate", "features"} <= shown, page


@pytest.mark.parametrize(("page", "command"), ALL, ids=[f"{p}:{c[:60]}" for p, c in ALL])
def test_each_command_parses_and_each_training_config_validates(page, command):
    argv = shlex.split(command)[1:]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{page}: `{command}` does not parse with today's CLI")
    if args.command != "train":
        return
    config = load_config(RunConfig, args.config, args.overrides)
    for registry, section in ((TEXT_ENCODERS, config.text_encoder), (VISUAL_ENCODERS, config.visual_encoder),
                              (METHODS, config.method)):  # fmt: skip
        params = dict(section)
        build(registry.get(params.pop("name")).config_class, params, page, "section")
