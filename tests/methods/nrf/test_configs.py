"""The NRF and CL2CM run configs: valid sections, the spec's defaults, NRCCR's towers and schedule,
and `data check` passing on the miniature NRCCR layouts for the data each real-data config reads
(including the back-translations NRF's round-trip selector computes its scores from)."""

from __future__ import annotations

from pathlib import Path

import pytest
from nrccr_helpers import TESTS, load_test_module

from ccrkit.config import build, load_config
from ccrkit.data import TrainDataset, check_data, load_data_spec
from ccrkit.methods.cl2cm import Cl2cmConfig
from ccrkit.methods.nrf import NrfConfig, build_selector
from ccrkit.models.registry import TEXT_ENCODERS, VISUAL_ENCODERS
from ccrkit.train import RunConfig

SPECS = {"multi30k": "multi30k-task1-de", "mscoco": "mscoco-ja", "vatex": "vatex-zh",
         "msrvttcn": "msrvttcn-zh"}  # fmt: skip
REAL = [f"{method}-{bench}" for method in ("nrf", "cl2cm") for bench in SPECS]
SCHEMAS = {"nrf": NrfConfig, "cl2cm": Cl2cmConfig}


@pytest.fixture(scope="module")
def visual_search(tmp_path_factory) -> Path:
    data = load_test_module(TESTS / "data" / "conftest.py", "data_conftest_later_methods")
    return data.build_visual_search(tmp_path_factory.mktemp("vs") / "VisualSearch")


def method_config(config: RunConfig) -> NrfConfig | Cl2cmConfig:
    """Each plug-in section validates against its dataclass (as `build_method` does)."""
    for registry, section in ((TEXT_ENCODERS, config.text_encoder),
                              (VISUAL_ENCODERS, config.visual_encoder)):  # fmt: skip
        params = dict(section)
        build(registry.get(params.pop("name")).config_class, params, "test", "encoder")
    params = dict(config.method)
    return build(SCHEMAS[params.pop("name")], params, "test", "method")


@pytest.mark.parametrize("name", REAL)
def test_real_data_configs_use_nrccr_towers_and_schedule(name: str) -> None:
    config = load_config(RunConfig, name)
    method = method_config(config)
    assert config.data.name == SPECS[name.split("-")[1]] and config.data.roles == ["mt"]
    assert config.text_encoder["path"] == "bert-base-multilingual-cased"
    assert (method.hidden, method.heads, method.qk_dim, method.embed_dim) == (768, 8, 512, 1536)
    assert method.tau == 0.07
    t = config.train
    assert (t.optimizer, t.lr, t.batch_size, t.grad_clip, t.schedule, t.early_stop) == (
        "adam", 1e-4, 128, 2.0, "plateau", 11,
    )  # fmt: skip
    assert (config.eval.val_fusion_weight, config.eval.select_metric) == (0.2, "t2v_sum")
    if isinstance(method, NrfConfig):
        assert (method.selector, method.selection, method.filter_layers) == (
            "roundtrip", {}, 1,
        )  # fmt: skip
    else:
        assert (method.schedule, method.cl_epochs, method.cl_encoder) == ("two_stage", 1, "copy")
        assert (method.ot_epsilon, method.ot_iterations, method.ot_plan_grad) == (0.1, 50, "detach")
        assert t.epochs == 51  # one CL epoch + NRCCR's 50


@pytest.mark.parametrize("name", REAL)
def test_real_data_configs_pass_data_check_on_the_miniature(visual_search: Path, name: str) -> None:
    config = load_config(RunConfig, name)
    spec = load_data_spec(config.data.name)
    report = check_data(spec, visual_search, feature=config.data.feature)
    assert report.ok, report.problems
    assert set(config.data.roles) | {"bt"} <= set(report.splits["train"].captions)
    if name.startswith("nrf"):  # the round-trip scores come from the back-translations
        train = TrainDataset(spec, visual_search, "train", target_langs=config.data.target_langs,
                             roles=tuple(config.data.roles), feature=config.data.feature)  # fmt: skip
        method = method_config(config)
        summary = build_selector(method.selector, method.selection).prepare(train)
        lang = config.data.lang
        assert summary["languages"][lang]["kept"] == round(0.5 * len(train))


@pytest.mark.parametrize("name", ["nrf-world", "cl2cm-world"])
def test_world_configs_are_valid_and_sized_like_nrccr_world(name: str) -> None:
    config, nrccr = load_config(RunConfig, name), load_config(RunConfig, "nrccr-world")
    method_config(config)
    assert config.data.name == "world-image" and config.train.device == "cpu"
    assert config.text_encoder == nrccr.text_encoder
    assert config.visual_encoder == nrccr.visual_encoder
    for key in ("hidden", "heads", "qk_dim", "embed_dim"):
        assert config.method[key] == nrccr.method[key]
    assert config.train.batch_size == nrccr.train.batch_size and config.train.lr == nrccr.train.lr
