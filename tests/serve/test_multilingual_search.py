"""One model for five languages: a 1-to-K run trained jointly on the tiny world's de, fr, cs, zh
and ja MT → `ccrkit evaluate` in every language (with MRV) → `ccrkit index build` → `ccrkit index
search` answers a human test caption of each language with the picture it describes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ccrkit.cli.main import main
from ccrkit.data import EvalDataset
from ccrkit.evaluate.crosslang import CROSS_LABEL
from ccrkit.index.model import load_retrieval_model

LANGS = ["de", "fr", "cs", "zh", "ja"]


@pytest.fixture(scope="module")
def joint_run(tiny_world, tmp_path_factory):
    from ccrkit.config import load_config
    from ccrkit.train.config import RunConfig
    from ccrkit.train.run import train_from_config

    overrides = [
        f"data.root={tiny_world}", "data.val_split=null", "train.epochs=3",
        "train.batch_size=64", "train.lr=3e-3",
        "train.warmup_steps=0", "train.progress=false", "train.tensorboard=false",
        "train.device=cpu", "text_encoder.name=builtin", "text_encoder.dim=64", "text_encoder.layers=1",
        "text_encoder.ffn_dim=128", "text_encoder.vocab_size=900", "method.embed_dim=64",
        "visual_encoder.hidden=128", "eval.fusion_weights=[]",
    ]  # fmt: skip
    run_dir = tmp_path_factory.mktemp("runs") / "one-to-k"
    outcome = train_from_config(load_config(RunConfig, "one-to-k-world", overrides), run_dir)
    return run_dir, outcome


def test_the_run_is_tested_in_every_language_with_mrv(joint_run):
    _, outcome = joint_run
    assert {f"{lang} native" for lang in LANGS} <= set(outcome.test)
    cross = outcome.test[CROSS_LABEL]
    assert cross["languages"] == 5 and cross["t2v_mrv_var"] >= cross["t2v_mrv_std"] > 0
    assert cross["mr_min"] <= cross["mr_mean"] <= cross["mr_max"]


def test_evaluate_a_list_of_languages(joint_run, tmp_path, capsys):
    run_dir, _ = joint_run
    out = tmp_path / "eval"
    argv = ["evaluate", "--checkpoint", str(run_dir), "--lang", "zh,fr", "--out", str(out),
            "--fusion-weights", "0"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| zh native |" in printed and "| fr native |" in printed
    assert "| zh, fr |" in printed  # the cross-language table
    record = json.loads((out / "run.json").read_text())
    assert set(record["metrics"]) == {"zh native", "fr native", "en source", CROSS_LABEL}
    assert (out / "ranks" / "fr_native.query_item.npy").is_file()
    assert "Across languages" in (out / "results.md").read_text()


@pytest.fixture(scope="module")
def joint_index(joint_run, tmp_path_factory):
    run_dir, _ = joint_run
    out = tmp_path_factory.mktemp("index") / "index"
    argv = ["index", "build", "--checkpoint", str(run_dir), "--data", "world-image",
            "--split", "test", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    return out


@pytest.mark.parametrize("lang", LANGS)
def test_index_search_answers_each_language(joint_run, joint_index, tiny_world, lang, capsys):
    run_dir, _ = joint_run
    model = load_retrieval_model(run_dir)
    assert set(LANGS) | {"en"} == set(model.languages)
    data = EvalDataset("world-image", tiny_world, "test", lang=lang)
    items = np.concatenate([model.encode_visual(b) for b in data.visual_batches(64)])
    best = (model.encode_texts(data.query_texts, lang) @ items.T).argmax(axis=1)
    hits = np.flatnonzero(best == data.query_item)
    assert len(hits) > 0, f"the joint model ranks no {lang} test query first"
    query, item = data.query_texts[hits[0]], data.item_ids[data.query_item[hits[0]]]
    capsys.readouterr()
    argv = ["index", "search", "--index", str(joint_index), "--query", query, "--lang", lang,
            "--k", "3", "--json"]  # fmt: skip
    assert main(argv) == 0
    answer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert answer["query"] == query and answer["results"][0]["id"] == item
