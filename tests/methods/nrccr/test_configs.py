"""The NRCCR run configs: valid sections, the official scripts' settings, and `data check` passing
on the miniature NRCCR layouts for the data each real-data config reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from nrccr_helpers import TESTS, load_test_module

from ccrkit.config import build, load_config
from ccrkit.data import check_data, load_data_spec
from ccrkit.methods.nrccr import NrccrConfig
from ccrkit.models.registry import TEXT_ENCODERS, VISUAL_ENCODERS
from ccrkit.train import RunConfig

REAL = {  # config -> (data spec, fine-tuned mBERT layers, discriminator)
    "nrccr-multi30k": ("multi30k-task1-de", list(range(3, 12)), "not-so-weak"),
    "nrccr-mscoco": ("mscoco-ja", list(range(3, 12)), "not-so-weak"),
    "nrccr-vatex": ("vatex-zh", list(range(5, 12)), "strong"),
    "nrccr-msrvttcn": ("msrvttcn-zh", list(range(5, 12)), "not-so-weak"),
}


@pytest.fixture(scope="module")
def visual_search(tmp_path_factory) -> Path:
    data = load_test_module(TESTS / "data" / "conftest.py", "data_conftest_configs")
    return data.build_visual_search(tmp_path_factory.mktemp("vs") / "VisualSearch")


def sections(config: RunConfig) -> None:
    """Each plug-in section validates against its dataclass (as `build_method` does)."""
    for registry, section in ((TEXT_ENCODERS, config.text_encoder),
                              (VISUAL_ENCODERS, config.visual_encoder)):  # fmt: skip
        params = dict(section)
        build(registry.get(params.pop("name")).config_class, params, "test", "encoder")
    params = dict(config.method)
    assert params.pop("name") == "nrccr"
    build(NrccrConfig, params, "test", "method")


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_data_config_mirrors_the_official_script(name: str) -> None:
    config = load_config(RunConfig, name)
    sections(config)
    spec, layers, head = REAL[name]
    assert config.data.name == spec and config.data.roles == ["mt", "bt"]
    assert config.text_encoder["path"] == "bert-base-multilingual-cased"
    assert (
        config.text_encoder["finetune"] == layers and config.text_encoder["lowercase_strip_accents"]
    )
    assert config.method["discriminator"] == head
    t = config.train
    assert (t.optimizer, t.lr, t.weight_decay, t.batch_size, t.grad_clip) == (
        "adam",
        1e-4,
        0.0,
        128,
        2.0,
    )
    assert (t.schedule, t.plateau_decay, t.plateau_factor, t.plateau_patience, t.early_stop) == (
        "plateau", 0.99, 0.5, 3, 11,
    )  # fmt: skip
    assert (config.eval.val_fusion_weight, config.eval.select_metric) == (0.2, "t2v_sum")


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_data_config_passes_data_check_on_the_miniature(
    visual_search: Path, name: str
) -> None:
    config = load_config(RunConfig, name)
    report = check_data(
        load_data_spec(config.data.name), visual_search, feature=config.data.feature
    )
    assert report.ok, report.problems
    roles = set(report.splits["train"].captions)
    assert set(config.data.roles) <= roles


@pytest.mark.parametrize(("name", "spec"), [("nrccr-world", "world-image"),
                                             ("nrccr-world-video", "world-video")])  # fmt: skip
def test_world_configs_are_valid_and_cpu_sized(name: str, spec: str) -> None:
    config = load_config(RunConfig, name)
    sections(config)
    assert config.data.name == spec and config.text_encoder["name"] == "hf"
    assert config.text_encoder["path"] == "data/world/models/world-mbert"
    assert config.train.device == "cpu" and config.data.roles == ["mt", "bt"]
