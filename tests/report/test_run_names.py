"""Run names (config hashes) of report grids: defaults stay out of the hash, so a new defaulted
setting renames no cached run, and the names of runs cached before that rule are unchanged."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json

import pytest

from ccrkit.config import NOT_NAMING, hash_view, load_config, not_naming_paths, stable_hash
from ccrkit.report import load_grid, plan_grid
from ccrkit.report.plan import config_digest
from ccrkit.train.config import RunConfig


def names_before_issue_21(config, world_id: str) -> str:
    """How runs were named until issue 21 (written out as the reference for cached folders):
    every field but three display/speed keys and `data.eval_langs` at its neutral []."""
    data = copy.deepcopy(dataclasses.asdict(config))
    for section, key in (("train", "progress"), ("train", "tensorboard"), ("data", "num_workers")):
        data[section].pop(key)
    if data["data"]["eval_langs"] == []:
        data["data"].pop("eval_langs")
    text = json.dumps({"config": data, "world": world_id}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture(scope="module")
def planned_runs():
    runs = []
    for name in ("nrccr-world", "multilingual-world"):
        runs += plan_grid(load_grid(name)).unique()
    return runs


def test_cached_report_runs_keep_their_names(planned_runs) -> None:
    assert len(planned_runs) > 50
    for run in planned_runs:
        world = run.run_dir.name  # placeholder world ids work as well as real ones
        assert config_digest(run.config, world) == names_before_issue_21(run.config, world)


def test_a_new_defaulted_field_renames_no_run(planned_runs) -> None:
    """A `data` section with one more setting: at its default every name is the same, set to
    another value the name changes; a setting marked NOT_NAMING never changes it."""
    data_type = type(planned_runs[0].config.data)
    extended = dataclasses.make_dataclass(
        "DataWithMore",
        [("new_knob", int, dataclasses.field(default=3)),
         ("new_bar", bool, dataclasses.field(default=True, metadata=NOT_NAMING))],
        bases=(data_type,),
    )  # fmt: skip
    for run in planned_runs[::7]:
        values = {f.name: getattr(run.config.data, f.name) for f in dataclasses.fields(data_type)}
        same = dataclasses.replace(run.config, data=extended(**values))
        assert config_digest(same, "w") == config_digest(run.config, "w")
        quiet = dataclasses.replace(run.config, data=extended(**values, new_bar=False))
        assert config_digest(quiet, "w") == config_digest(run.config, "w")
        other = dataclasses.replace(run.config, data=extended(**values, new_knob=4))
        assert config_digest(other, "w") != config_digest(run.config, "w")


def test_hash_view_leaves_out_defaults_and_marked_fields() -> None:
    @dataclasses.dataclass
    class Inner:
        a: int = 1
        b: list[int] = dataclasses.field(default_factory=lambda: [1, 2])

    @dataclasses.dataclass
    class Outer:
        inner: Inner = dataclasses.field(default_factory=Inner)
        lr: float = 0.1
        progress: bool = dataclasses.field(default=True, metadata=NOT_NAMING)
        section: dict = dataclasses.field(default_factory=lambda: {"name": "x"})

    assert hash_view(Outer()) == {}
    assert hash_view(Outer(Inner(b=[3]), progress=False)) == {"inner": {"b": [3]}}
    assert hash_view(Outer(section={"name": "y", "k": 1})) == {"section": {"name": "y", "k": 1}}
    assert hash_view(Outer(), kept={"inner", "inner.a", "lr"}) == {"inner": {"a": 1}, "lr": 0.1}
    assert stable_hash({"b": 1, "a": [1.5]}) == hashlib.sha256(b'{"a": [1.5], "b": 1}').hexdigest()


def test_not_naming_paths_are_the_marked_fields_of_nested_sections() -> None:
    """What a rescored run may change beside its test-time keys (`ccrkit.train.retest`)."""
    run = load_config(RunConfig, "nrccr-world")
    assert not_naming_paths(run) == {"train.progress", "train.tensorboard", "data.num_workers"}
