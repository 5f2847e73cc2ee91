"""World names (config hashes): defaults stay out of the hash, so a new defaulted setting renames
no generated world, and the names of worlds generated before that rule are unchanged. And the one
file name that marks a finished world, as the data specs read it."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from ccrkit.config import NOT_NAMING, load_config, to_dict
from ccrkit.data import load_data_spec
from ccrkit.world.config import GENERATOR_VERSION, MTWorld, WorldConfig, config_hash
from ccrkit.world.layout import WORLD_JSON

OVERRIDES = ([], ["workers=1", "preview_items=9"], ["backbone.threads=2"], ["mt.noise=0"],
             ["mt.weights.hallucination=0.5", "seed=3"], ["text_model.threads=2"])  # fmt: skip


def names_before_issue_21(cfg: WorldConfig) -> str:
    """How worlds were named until issue 21 (written out as the reference for generated worlds):
    every field but workers and preview_items, and the backbone's threads only when not 1."""
    data = to_dict(cfg)
    for key in ("workers", "preview_items"):
        data.pop(key)
    if data["backbone"]["threads"] == 1:
        data["backbone"].pop("threads")
    text = json.dumps({"generator": GENERATOR_VERSION, "config": data}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", ["world-tiny", "world-default"])
def test_generated_worlds_keep_their_names(name: str) -> None:
    for overrides in OVERRIDES:
        cfg = load_config(WorldConfig, name, overrides)
        assert config_hash(cfg) == names_before_issue_21(cfg), overrides


def test_a_config_built_in_python_is_named_as_its_yaml_twin() -> None:
    """An int where the schema says float hashes as the float a YAML-loaded config holds."""
    as_int, as_float = WorldConfig(mt=MTWorld(noise=0)), WorldConfig(mt=MTWorld(noise=0.0))
    assert config_hash(as_int) == config_hash(as_float) == names_before_issue_21(as_float)


def test_a_new_defaulted_field_renames_no_world() -> None:
    """An `mt` section with one more setting: at its default the name is the same, set to
    another value the name changes; a setting marked NOT_NAMING never changes it."""
    extended = dataclasses.make_dataclass(
        "MTWithMore",
        [("new_knob", int, dataclasses.field(default=3)),
         ("new_bar", bool, dataclasses.field(default=True, metadata=NOT_NAMING))],
        bases=(MTWorld,),
    )  # fmt: skip
    cfg = load_config(WorldConfig, "world-tiny", ["mt.noise=0.3"])
    values = {f.name: getattr(cfg.mt, f.name) for f in dataclasses.fields(MTWorld)}
    name = config_hash(cfg)
    assert config_hash(dataclasses.replace(cfg, mt=extended(**values))) == name
    assert config_hash(dataclasses.replace(cfg, mt=extended(**values, new_bar=False))) == name
    assert config_hash(dataclasses.replace(cfg, mt=extended(**values, new_knob=4))) != name


@pytest.mark.parametrize("spec", ["world-image", "world-video"])
def test_world_data_specs_wait_for_the_file_the_world_writes_last(spec: str) -> None:
    assert load_data_spec(spec).complete_marker == WORLD_JSON
