"""Typed configs: YAML + overrides into dataclasses; errors name the key, the file and the choices."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from ccrkit.config import ConfigError, available_configs, build, load_config, parse_override
from ccrkit.registry import Registry, import_plugins


@dataclass
class Optim:
    lr: float = 1e-4
    schedule: Literal["cosine", "plateau"] = "plateau"


@dataclass
class Demo:
    seed: int = 0
    name: str = "demo"
    langs: list[str] = field(default_factory=lambda: ["de"])
    train: Optim = field(default_factory=Optim)

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError("seed must be >= 0")


def write(tmp_path, text, name="run.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_then_overrides(tmp_path):
    path = write(tmp_path, "seed: 3\ntrain:\n  lr: 0.001\n")
    cfg = load_config(Demo, path, ["train.lr=3e-5", "langs=[de,fr]"])
    assert isinstance(cfg, Demo) and isinstance(cfg.train, Optim)
    assert cfg.seed == 3 and cfg.train.lr == 3e-5 and cfg.langs == ["de", "fr"]
    assert cfg.train.schedule == "plateau"


def test_unknown_key_names_key_file_and_valid_keys(tmp_path):
    path = write(tmp_path, "train:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError) as err:
        load_config(Demo, path)
    message = str(err.value)
    assert str(path) in message and "'train.lrr'" in message and "lr, schedule" in message


def test_wrong_type_names_key_and_file(tmp_path):
    path = write(tmp_path, "train:\n  lr: fast\n")
    with pytest.raises(ConfigError, match=r"run\.yaml: 'train\.lr': .*could not be converted"):
        load_config(Demo, path)


def test_bad_choice_lists_the_choices(tmp_path):
    with pytest.raises(ConfigError, match=r"override 'train.schedule=linear'.*'cosine', 'plateau'"):
        load_config(Demo, None, ["train.schedule=linear"])


def test_bad_override_syntax():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("train.lr")
    with pytest.raises(ConfigError, match="unknown key 'trian'"):
        load_config(Demo, None, ["trian.lr=1"])


def test_post_init_check_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="seed must be >= 0"):
        load_config(Demo, write(tmp_path, "seed: -1\n"))


def test_base_inheritance_and_cycles(tmp_path):
    write(tmp_path, "seed: 5\nname: parent\n", "parent.yaml")
    child = write(tmp_path, "base: parent.yaml\nname: child\n", "child.yaml")
    cfg = load_config(Demo, child)
    assert (cfg.seed, cfg.name) == (5, "child")
    write(tmp_path, "base: b.yaml\n", "a.yaml")
    write(tmp_path, "base: a.yaml\n", "b.yaml")
    with pytest.raises(ConfigError, match="circular"):
        load_config(Demo, tmp_path / "a.yaml")


@dataclass
class Run:
    optim: Optim = field(default_factory=Optim)
    encoder: dict[str, Any] = field(default_factory=lambda: {"name": "hf", "path": "bert"})


def test_a_plugin_section_naming_another_plugin_replaces_the_old_one(tmp_path):
    """Untyped plug-in sections (`{name: ..., params}`) switch whole; typed sections merge."""
    base = write(tmp_path, "encoder: {name: hf, path: m, finetune: [1]}\n", "base.yaml")
    assert load_config(Run, base, ["encoder.finetune=[2]"]).encoder == {
        "name": "hf", "path": "m", "finetune": [2]
    }  # fmt: skip
    switched = load_config(Run, base, ["encoder.name=builtin", "encoder.dim=8"])
    assert switched.encoder == {"name": "builtin", "dim": 8}
    child = write(tmp_path, "base: base.yaml\nencoder: {name: builtin, dim: 4}\n", "child.yaml")
    assert load_config(Run, child).encoder == {"name": "builtin", "dim": 4}
    typed = write(tmp_path, "name: parent\ntrain: {lr: 0.5}\n", "typed.yaml")
    assert load_config(Demo, typed, ["name=other"]).train.lr == 0.5


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "seed: 1\ntrain: [unclosed\n")
    with pytest.raises(ConfigError, match=r"run\.yaml:\d+: invalid YAML"):
        load_config(Demo, path)


def test_unknown_name_lists_known_configs():
    with pytest.raises(ConfigError, match=r"unknown config 'no-such-config'.*known:"):
        load_config(Demo, "no-such-config")
    assert isinstance(available_configs(), list)


def test_build_section_with_prefix():
    with pytest.raises(
        ConfigError, match=r"x\.yaml: unknown key 'method\.lrr'; valid keys here: lr"
    ):
        build(Optim, {"lrr": 1}, "x.yaml", prefix="method")


def test_registry_lists_known_names():
    methods: Registry[type] = Registry("method")
    methods.register("baseline")(Optim)
    assert methods.get("baseline") is Optim and "baseline" in methods
    with pytest.raises(ConfigError, match="unknown method 'nrcr'; known: baseline"):
        methods.get("nrcr")
    with pytest.raises(ConfigError, match="plugin module 'no_such_plugin_module'"):
        import_plugins(["no_such_plugin_module"])


def test_a_whole_plugin_section_override_replaces_it():
    """`visual_encoder={name: feature, ...}` (the command nrccr-multi30k.yaml documents for the
    ResNet-152 features) swaps the plug-in; a dotted override still merges into it."""
    from ccrkit.train.config import RunConfig

    overrides = [
        "visual_encoder={name: feature, hidden: 2048, activation: relu}",
        "method.hidden=64",
    ]
    cfg = load_config(RunConfig, "nrccr-multi30k", overrides)
    assert cfg.visual_encoder == {"name": "feature", "hidden": 2048, "activation": "relu"}
    assert cfg.method["hidden"] == 64 and cfg.method["name"] == "nrccr"  # merged, not replaced
    cfg = load_config(RunConfig, "nrccr-multi30k", ["visual_encoder.trainable=true"])
    assert (
        cfg.visual_encoder["path"] == "openai/clip-vit-base-patch32"
        and cfg.visual_encoder["trainable"]
    )
