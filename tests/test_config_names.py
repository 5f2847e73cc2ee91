"""Config names after `configs/` was sorted into folders (issue 21): every name that resolved
before the move still resolves, to the file of that name in its group, and a name two files of
one group share is refused with both paths."""

from __future__ import annotations

import pytest

from ccrkit import config
from ccrkit.config import (
    ConfigError,
    available_configs,
    config_dir,
    read_yaml,
    resolve_config_path,
)

# Every name that resolved before the move (listed from the flat configs/ at 9b9f348), by group
# ("" is `--config`'s), with the file it is in now, relative to the group's folder. The move kept
# each file's bytes (git: 22 renames at 100 % similarity); a later edit of a config is no reason
# to touch this table, a rename or a lost file is.
NAMES_BEFORE_THE_MOVE = {
    "": {
        "baseline-world": "runs/world/baseline-world.yaml",
        "baseline-world-video": "runs/world/baseline-world-video.yaml",
        "cl2cm-mscoco": "runs/mscoco/cl2cm-mscoco.yaml",
        "cl2cm-msrvttcn": "runs/msrvttcn/cl2cm-msrvttcn.yaml",
        "cl2cm-multi30k": "runs/multi30k/cl2cm-multi30k.yaml",
        "cl2cm-vatex": "runs/vatex/cl2cm-vatex.yaml",
        "cl2cm-world": "runs/world/cl2cm-world.yaml",
        "demo-world": "runs/world/demo-world.yaml",
        "nrccr-mscoco": "runs/mscoco/nrccr-mscoco.yaml",
        "nrccr-msrvttcn": "runs/msrvttcn/nrccr-msrvttcn.yaml",
        "nrccr-multi30k": "runs/multi30k/nrccr-multi30k.yaml",
        "nrccr-vatex": "runs/vatex/nrccr-vatex.yaml",
        "nrccr-world": "runs/world/nrccr-world.yaml",
        "nrccr-world-video": "runs/world/nrccr-world-video.yaml",
        "nrf-mscoco": "runs/mscoco/nrf-mscoco.yaml",
        "nrf-msrvttcn": "runs/msrvttcn/nrf-msrvttcn.yaml",
        "nrf-multi30k": "runs/multi30k/nrf-multi30k.yaml",
        "nrf-vatex": "runs/vatex/nrf-vatex.yaml",
        "nrf-world": "runs/world/nrf-world.yaml",
        "one-to-k-world": "runs/world/one-to-k-world.yaml",
        "world-default": "world/world-default.yaml",
        "world-tiny": "world/world-tiny.yaml",
    },
    "data": {
        "mscoco-ja": "mscoco-ja.yaml",
        "mscoco-zh": "mscoco-zh.yaml",
        "msrvttcn-zh": "msrvttcn-zh.yaml",
        "multi30k-task1-cs": "multi30k-task1-cs.yaml",
        "multi30k-task1-de": "multi30k-task1-de.yaml",
        "multi30k-task1-fr": "multi30k-task1-fr.yaml",
        "multi30k-task2-de": "multi30k-task2-de.yaml",
        "vatex-zh": "vatex-zh.yaml",
        "world-image": "world-image.yaml",
        "world-video": "world-video.yaml",
    },
    "index": {
        "auto": "auto.yaml",
        "flat": "flat.yaml",
        "flat16": "flat16.yaml",
        "hnsw": "hnsw.yaml",
        "ivfpq": "ivfpq.yaml",
    },
    "report": {
        "multilingual-world": "multilingual-world.yaml",
        "nrccr-world": "nrccr-world.yaml",
        "world-power": "world-power.yaml",
    },
    "translate": {
        "world-synthetic": "world-synthetic.yaml",
    },
}


@pytest.mark.parametrize("group", sorted(NAMES_BEFORE_THE_MOVE))
def test_every_name_of_before_the_move_resolves_to_its_file(group: str) -> None:
    folder = config_dir() / group
    for name, relative in NAMES_BEFORE_THE_MOVE[group].items():
        path = resolve_config_path(name, group)
        assert path == folder / relative
        assert isinstance(read_yaml(path, group), dict)  # its `base:` chain resolves by name
    assert set(NAMES_BEFORE_THE_MOVE[group]) <= set(available_configs(group))


def test_the_main_group_leaves_the_other_groups_out() -> None:
    """`nrccr-world` is a run config for `--config` and a grid for `--grid`: two groups, no clash."""
    assert resolve_config_path("nrccr-world").parent.name == "world"
    assert resolve_config_path("nrccr-world", "report").parent.name == "report"
    assert "world-image" not in available_configs()  # a data spec, configs/data/


@pytest.fixture
def configs(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "config_dir", lambda: tmp_path)
    for relative, text in {
        "runs/a/twin.yaml": "seed: 1\n",
        "world/twin.yaml": "seed: 2\n",
        "runs/a/child.yaml": "base: twin\n",
        "runs/b/solo.yaml": "seed: 3\n",
        "data/twin.yaml": "seed: 4\n",
    }.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    return tmp_path


def test_an_ambiguous_name_is_refused_naming_both_files(configs) -> None:
    both = r"ambiguous config 'twin' in configs: 2 files have this name \(runs/a/twin\.yaml, world/twin\.yaml\)"
    with pytest.raises(ConfigError, match=both):
        resolve_config_path("twin")
    with pytest.raises(ConfigError, match=r"child\.yaml: 'base: twin': " + both):
        read_yaml(resolve_config_path("child"))
    # the one of another group, a nested name and a path are not ambiguous
    assert resolve_config_path("twin", "data") == configs / "data" / "twin.yaml"
    assert resolve_config_path("solo") == configs / "runs" / "b" / "solo.yaml"
    assert read_yaml(configs / "world" / "twin.yaml") == {"seed": 2}


def test_an_unknown_name_lists_each_known_name_once(configs) -> None:
    with pytest.raises(
        ConfigError, match=r"unknown config 'nope' in configs; known: child, solo, twin$"
    ):
        resolve_config_path("nope")
