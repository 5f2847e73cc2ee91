"""Multi-language mode: every registered method trains on several target languages at once
through the same data path (data.target_langs), validates on all of them and is tested in each,
with the cross-language row (MRV, mR spread). No method or trainer code knows the mode."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from ccrkit.config import build
from ccrkit.evaluate.crosslang import CROSS_KEYS, CROSS_LABEL, LanguageRanks
from ccrkit.methods import METHODS
from ccrkit.train import RunConfig
from ccrkit.train.run import train_from_config

TESTS = Path(__file__).parent.parent
LANGS = ["de", "fr", "zh"]
# a tiny configuration of every registered method: a method added to METHODS must add its own
# here (and thereby show that it trains on several languages at once)
METHOD_CASES: dict[str, dict] = {
    "baseline": {"section": {"embed_dim": 16}, "roles": ["mt"], "terms": ["info_nce/mt:{}"]},
    "one_to_k": {"section": {"embed_dim": 16}, "roles": ["mt"], "terms": []},
    "nrccr": {
        "section": {"hidden": 16, "heads": 2, "qk_dim": 8, "embed_dim": 16},
        "roles": ["mt", "bt"],
        "terms": [
            "triplet/mt:{}",
            "similarity_view/mt:{}",
            "bt_ranking/bt:{}",
            "adversarial/mt:{}",
        ],
    },
    "nrf": {
        "section": {"hidden": 16, "heads": 2, "qk_dim": 8, "embed_dim": 16,
                    "selector": "fraction"},
        "roles": ["mt"],
        "terms": ["contrastive/mt:{}", "cross_lingual/mt:{}", "guidance/mt:{}"],
    },
    "cl2cm": {
        "section": {"hidden": 16, "heads": 2, "qk_dim": 8, "embed_dim": 16, "schedule": "joint"},
        "roles": ["mt"],
        "terms": ["contrastive/mt:{}", "cl_sentence/mt:{}", "cl_word_ot/mt:{}",
                  "relational_kt/mt:{}"],
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.spec_from_file_location(
        "data_conftest_ml", TESTS / "data" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.build_world(tmp_path_factory.mktemp("world"))


def joint_config(root: Path, method: str) -> RunConfig:
    case = METHOD_CASES[method]
    config = {
        "data": {"name": "world-image", "root": str(root), "lang": "de", "target_langs": LANGS,
                 "roles": case["roles"]},
        "text_encoder": {"name": "builtin", "dim": 16, "layers": 1, "heads": 2, "ffn_dim": 32,
                         "vocab_size": 150, "max_length": 24},
        "visual_encoder": {"name": "feature", "hidden": 16},
        "method": {"name": method, **case["section"]},
        "train": {"epochs": 1, "batch_size": 8, "device": "cpu", "progress": False,
                  "tensorboard": False},
        "eval": {"batch_size": 8},
    }  # fmt: skip
    return build(RunConfig, config, "test")


def test_every_method_has_a_multilingual_case() -> None:
    shipped = {
        name for name in METHODS.names() if METHODS.get(name).__module__.startswith("ccrkit.")
    }
    assert shipped == set(METHOD_CASES), (
        "add a tiny configuration of the new method to METHOD_CASES"
    )


@pytest.mark.parametrize("method", sorted(METHOD_CASES))
def test_one_model_for_several_languages(world: Path, tmp_path: Path, method: str) -> None:
    outcome = train_from_config(joint_config(world, method), tmp_path / "run")
    history = outcome.progress.history[0]
    for lang in LANGS:
        for term in METHOD_CASES[method]["terms"]:
            assert math.isfinite(history[term.format(lang)]), (term, lang)
    assert {f"{lang} native" for lang in LANGS} <= set(outcome.test)
    assert set(outcome.test[CROSS_LABEL]) == set(CROSS_KEYS)
    assert outcome.test[CROSS_LABEL]["languages"] == len(LANGS)
    for lang in LANGS:  # the rank files align per item across the languages
        ranks = LanguageRanks.load(tmp_path / "run" / "ranks", f"{lang}_native.", lang)
        assert len(ranks.item_ids) == len(ranks.v2t) == 2
