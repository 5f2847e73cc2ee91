"""`ccrkit export`: a trained run as a folder that transformers and sentence-transformers load
alone, giving the embeddings ccrkit gives."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from tinymodels import tiny_bert
from trainfakes import FakeCollate, FakeEvalDataset, FakeTrainDataset, FakeWorld, tiny_config

from ccrkit.cli.main import main
from ccrkit.config import build
from ccrkit.export import export_run
from ccrkit.export.card import FOLDER_PLACEHOLDER
from ccrkit.export.folder import dense_layers
from ccrkit.methods import load_method
from ccrkit.models.blocks import projection_head
from ccrkit.train import RunConfig, run_training

WORLD = FakeWorld()
QUERIES = ["ein gelber stern neben einem kreis", "a red square", "zwei blaue kreise", "x"]


def train(run_dir: Path, sections: dict) -> Path:
    cfg = build(RunConfig, sections, "test")
    run_training(cfg, run_dir, FakeTrainDataset(WORLD), FakeCollate, FakeEvalDataset(WORLD),
                 FakeEvalDataset(WORLD))  # fmt: skip
    return run_dir


@pytest.fixture(scope="module")
def hf_run(tmp_path_factory) -> Path:
    """A baseline run with a tiny BERT text encoder and the NRCCR mapping head (BatchNorm)."""
    tmp = tmp_path_factory.mktemp("export")
    data, queries = FakeTrainDataset(WORLD), FakeEvalDataset(WORLD)
    texts = data.texts("source", None) + data.texts("mt", "de") + queries.query_texts
    bert = tiny_bert(tmp / "bert", " ".join(texts).lower().split())
    sections = tiny_config(epochs=1)
    sections["text_encoder"] = {"name": "hf", "path": str(bert), "max_length": 16}
    sections["method"]["head"] = "mapping"  # folded into one Linear on export
    return train(tmp / "run", sections)


def ccrkit_embeddings(run_dir: Path) -> np.ndarray:
    method, _ = load_method(run_dir)
    with torch.no_grad():
        return method.encode_text(method.tokenize(QUERIES), "de").numpy()


def test_sentence_transformers_loads_the_export_and_embeds_as_ccrkit(hf_run, tmp_path, capsys):
    st = pytest.importorskip("sentence_transformers")
    out = tmp_path / "st"
    argv = ["export", str(hf_run), "--out", str(out), "--format", "sentence-transformers"]
    assert main(argv) == 0
    assert "as sentence-transformers: 32-d text embeddings" in capsys.readouterr().out
    model = st.SentenceTransformer(str(out), device="cpu")
    vectors = model.encode(QUERIES, convert_to_numpy=True)
    np.testing.assert_allclose(vectors, ccrkit_embeddings(hf_run), atol=1e-5)


def test_transformers_alone_reproduces_the_embeddings_as_the_model_card_says(hf_run, tmp_path):
    out = tmp_path / "hf"
    result = export_run(hf_run, out)
    assert {"config.json", "model.safetensors", "projection.safetensors", "README.md",
            "ccrkit_export.json"} <= set(result.files)  # fmt: skip
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "## Test metrics" in card and "| en source |" in card and "## Training config" in card
    snippet = re.search(r"```python\n(import torch.*?)```", card, re.S).group(1)
    scope: dict = {}
    exec(snippet.replace(FOLDER_PLACEHOLDER, str(out)), scope)  # the card's own code
    vectors = scope["embed"](QUERIES).numpy()
    np.testing.assert_allclose(vectors, ccrkit_embeddings(hf_run), atol=1e-5)
    info = json.loads((out / "ccrkit_export.json").read_text())
    assert info["visual"]["layers"][0]["activation"] == "relu" and info["languages"] == ["en", "de"]


def test_an_export_is_replaced_only_with_force(hf_run, tmp_path):
    out = tmp_path / "again"
    export_run(hf_run, out)
    with pytest.raises(FileExistsError, match="pass --force"):
        export_run(hf_run, out)
    export_run(hf_run, out, force=True)
    assert (out / "ccrkit_export.json").is_file()


def test_folding_batchnorm_gives_the_head_output():
    torch.manual_seed(0)
    head = projection_head("mapping", 6, 4)
    head[1].running_mean.normal_()
    head[1].running_var.uniform_(0.5, 2.0)
    head[1].weight.data.normal_()
    head.eval()
    (layer,), normalise = dense_layers(list(head))
    x = torch.randn(5, 6)
    folded = torch.nn.functional.normalize(x @ layer.weight.T + layer.bias, dim=-1)
    assert normalise and torch.allclose(folded, head(x), atol=1e-6)


def test_a_builtin_encoder_run_is_refused_in_one_line(tiny_run, tmp_path, capsys):
    assert main(["export", str(tiny_run), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "text encoder 'builtin' is ccrkit's own Transformer" in err
    assert not (tmp_path / "x").exists()
