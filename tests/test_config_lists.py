"""Overrides that set one item of a list by its position (`experiments.0.noise=[0.0,0.5]`):
merged into that item, the rest of the list kept; a position that does not exist, a key that is
not a position and a list over a section are one `ConfigError` naming the override and the key."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ccrkit.config import ConfigError, load_config


@dataclass
class Step:
    lr: float = 0.1
    tags: list[str] = field(default_factory=list)


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=lambda: [Step(), Step(lr=0.2)])
    langs: list[str] = field(default_factory=lambda: ["de", "fr"])


def test_an_item_is_set_by_its_position() -> None:
    plan = load_config(Plan, None, ["steps.1.lr=0.5", "steps.0.tags=[a]", "langs.1=zh"])
    assert plan.steps == [Step(lr=0.1, tags=["a"]), Step(lr=0.5)]
    assert plan.langs == ["de", "zh"]
    # a whole list and a position: the later override wins, as for any key
    assert load_config(Plan, None, ["steps=[{lr: 1}]", "steps.0.lr=2"]).steps == [Step(lr=2)]
    assert load_config(Plan, None, ["steps.0.lr=2", "steps=[{lr: 1}]"]).steps == [Step(lr=1)]


def test_a_yaml_file_may_set_an_item_by_position_too(tmp_path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("steps: {1: {lr: 0.7}}\n")
    assert load_config(Plan, path).steps == [Step(), Step(lr=0.7)]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("steps.2.lr=1", "override 'steps.2.lr=1': 'steps.2': no such item; 'steps' has 2 item(s)"),
        ("steps.x.lr=1", "override 'steps.x.lr=1': 'steps' is a list: set an item by its position"),
        ("steps.1.lrr=1", "override 'steps.1.lrr=1': unknown key 'steps[1].lrr'; valid keys here: lr, tags"),
        ("steps.0.lr=fast", "override 'steps.0.lr=fast': 'steps[0].lr': Value 'fast' of type 'str' could not be converted"),
        ("steps.0=[1]", "override 'steps.0=[1]': 'steps.0' is a section of named keys, not a list"),
    ],
)  # fmt: skip
def test_a_wrong_position_is_one_line_naming_the_override(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(Plan, None, [override])
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_grid_experiment_is_overridden_by_position() -> None:
    from ccrkit.report import load_grid

    before = load_grid("world-power").experiments[0]
    after = load_grid("world-power", ["experiments.0.noise=[0.0,0.5]"]).experiments[0]
    assert after.noise == [0.0, 0.5] and before.noise != after.noise
    assert (after.seeds, after.langs, after.methods) == (before.seeds, before.langs, before.methods)


def test_run_overrides_of_a_grid_set_list_items_by_position() -> None:
    from ccrkit.report.plan import resolve_config

    config = resolve_config("baseline-world", ["eval.fusion_weights.1=0.7"], "g.yaml")
    assert config.eval.fusion_weights == [0.2, 0.7]
    with pytest.raises(
        ConfigError,
        match=r"^g\.yaml \(baseline-world \+ overrides\): 'data\.target_langs\.1': no such item",
    ):
        resolve_config("baseline-world", ["data.target_langs.1=fr"], "g.yaml")
