"""Plug-in sections (`name:` + that implementation's keys): a new name replaces the inherited
section; every error names the file or override that set the bad key; `ccrkit config show`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from ccrkit.cli.main import main
from ccrkit.config import ConfigError, load_config, load_config_sources, read_yaml
from ccrkit.methods.registry import resolve_model
from ccrkit.train.config import RunConfig


@dataclass
class Plugged:
    seed: int = 0
    encoder: dict[str, Any] = field(default_factory=lambda: {"name": "small"})
    options: dict[str, Any] = field(default_factory=dict)  # no `name`: always merged


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_new_name_replaces_the_inherited_section(tmp_path):
    write(tmp_path, "base.yaml", "encoder: {name: small, dim: 8}\noptions: {a: 1}\n")
    child = write(tmp_path, "child.yaml", "base: base.yaml\nencoder: {name: big, path: D}\n")
    cfg = load_config(Plugged, child)
    assert cfg.encoder == {"name": "big", "path": "D"}  # no `dim` from the small encoder
    assert read_yaml(child, schema=Plugged)["encoder"] == {"name": "big", "path": "D"}
    same = write(tmp_path, "same.yaml", "base: base.yaml\nencoder: {name: small, dim: 4}\n")
    assert load_config(Plugged, same).encoder == {"name": "small", "dim": 4}  # merged
    options = write(tmp_path, "opts.yaml", "base: base.yaml\noptions: {b: 2}\n")
    assert load_config(Plugged, options).options == {"a": 1, "b": 2}


def test_overrides_replace_a_section_whatever_their_order(tmp_path):
    base = write(tmp_path, "base.yaml", "encoder: {name: small, dim: 8}\n")
    for overrides in (
        ["encoder.name=big", "encoder.path=D"],
        ["encoder.path=D", "encoder.name=big"],
    ):
        assert load_config(Plugged, base, overrides).encoder == {"name": "big", "path": "D"}


def test_a_bad_key_of_a_swapped_encoder_names_its_file(tmp_path):
    path = write(tmp_path, "hf.yaml", "base: baseline-world\ntext_encoder: {name: hf, path: D}\n")
    config, sources = load_config_sources(RunConfig, path)
    assert resolve_model(config, sources).text_encoder.config.path == "D"
    bad = write(tmp_path, "bad.yaml", "base: baseline-world\ntext_encoder: {name: hf, dim: 3}\n")
    config, sources = load_config_sources(RunConfig, bad)
    with pytest.raises(ConfigError, match=r"bad\.yaml: unknown key 'text_encoder\.dim'; valid"):
        resolve_model(config, sources)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["method.tempreature=3"], "override 'method.tempreature=3': unknown key 'method.tempreature'"),
        (["text_encoder.name=foo"], "override 'text_encoder.name=foo': 'text_encoder.name': unknown text encoder 'foo'; known: builtin, hf"),
        (["train.lr=1", "train.epochs=0"], "override 'train.epochs=0': train: epochs must be >= 1, got 0"),
    ],
)  # fmt: skip
def test_errors_name_the_override_and_the_key(overrides, message):
    with pytest.raises(ConfigError) as err:
        config, sources = load_config_sources(RunConfig, "demo-world", overrides)
        resolve_model(config, sources)
    assert str(err.value).startswith(message)


def test_an_inherited_bad_value_names_the_base_file(tmp_path):
    write(tmp_path, "base.yaml", "base: baseline-world\ntrain: {lr: fast}\n")
    child = write(tmp_path, "child.yaml", "base: base.yaml\nseed: 1\n")
    with pytest.raises(ConfigError, match=r"base\.yaml: 'train\.lr'"):
        load_config(RunConfig, child)


def test_config_show_prints_a_config_that_loads_back(tmp_path, capsys):
    argv = ["config", "show", "--config", "demo-world", "train.lr=3e-4", "text_encoder.name=hf",
            "text_encoder.path=/models/mbert"]  # fmt: skip
    assert main(argv) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("# train config, as `ccrkit train --config demo-world` reads it\n")
    assert "# from override 'train.lr=3e-4'" in shown
    resolved = yaml.safe_load(shown)
    assert resolved["train"]["lr"] == 3e-4 and resolved["train"]["epochs"] == 2  # demo-world
    # demo-world's own hf section (world-mbert), another path: the section is merged, not replaced
    assert resolved["text_encoder"] == {"name": "hf", "path": "/models/mbert", "finetune": [1, 2, 3],
                                        "lowercase_strip_accents": False, "max_length": 48,
                                        "pooling": "mean"}  # fmt: skip
    again = write(tmp_path, "again.yaml", shown)
    assert main(["config", "show", "--config", str(again)]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == resolved


def test_config_show_knows_the_other_kinds(capsys):
    assert main(["config", "show", "--config", "world-tiny"]) == 0
    assert capsys.readouterr().out.startswith("# world config")
    assert main(["config", "show", "--config", "nrccr-world", "--kind", "report"]) == 0
    assert "experiments:" in capsys.readouterr().out
