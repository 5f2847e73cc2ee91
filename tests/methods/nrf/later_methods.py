"""Tiny NRF and CL2CM methods, batches and run configs for tests/nrf and tests/cl2cm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from nrccr_helpers import TEXTS, VISUAL_DIM
from trainfakes import tiny_config

from ccrkit.config import build
from ccrkit.data.batch import TrainBatch, VisualBatch
from ccrkit.methods import Method, build_method
from ccrkit.models import BuildContext
from ccrkit.train import RunConfig

TOWERS = {"hidden": 16, "heads": 2, "qk_dim": 8, "embed_dim": 10, "dropout": 0.0,
          "mapping_dropout": 0.0}  # fmt: skip


def tiny_method(name: str, **method: Any) -> Method:
    """NRF or CL2CM on the built-in text encoder, 16-wide everything, dropout off."""
    config = {
        "text_encoder": {"name": "builtin", "dim": 16, "layers": 1, "heads": 2, "ffn_dim": 32,
                         "vocab_size": 120, "dropout": 0.0, "max_length": 24},
        "visual_encoder": {"name": "feature", "hidden": 12},
        "method": {"name": name, **TOWERS, **method},
    }  # fmt: skip
    corpus = [text for texts in TEXTS.values() for text in texts]
    torch.manual_seed(0)
    return build_method(config, BuildContext(visual_dim=VISUAL_DIM, corpus=lambda: iter(corpus)))


def batch(method: Method, views: tuple[str, ...] = ("source", "mt:de", "bt:de"),
          extra: dict[str, list[str]] | None = None) -> TrainBatch:  # fmt: skip
    """The three examples of `nrccr_helpers.TEXTS` (rows 0..2 of a training set)."""
    torch.manual_seed(1)
    visual = VisualBatch(
        torch.randn(3, 1, VISUAL_DIM), torch.ones(3, 1, dtype=torch.bool), "feature"
    )
    texts = {view: TEXTS[view] for view in views} | (extra or {})
    tokens = {view: method.tokenize(list(t)) for view, t in texts.items()}
    return TrainBatch(["r", "b", "g"], torch.tensor([0, 1, 2]), visual, tokens,
                      example_index=torch.tensor([0, 1, 2]))  # fmt: skip


def fake_world_config(method: dict[str, Any], epochs: int = 10) -> RunConfig:
    """A fast CPU run on the fake world of tests/train, NRCCR's optimiser (Adam, no decay)."""
    overrides = tiny_config(epochs=epochs, optimizer="adam", weight_decay=0.0, lr=2e-3)
    overrides["method"] = {"hidden": 32, "heads": 4, "qk_dim": 32, "embed_dim": 32, **method}
    return build(RunConfig, overrides, "test")


def tiny_world_overrides(root: Path, epochs: int) -> list[str]:
    """`nrf-world` / `cl2cm-world` shrunk for a few-second run on the tiny world."""
    return [
        f"data.root={root}", f"train.epochs={epochs}", "train.batch_size=64",
        "train.progress=false", "train.tensorboard=false", "text_encoder.name=builtin",
        "text_encoder.dim=32",
        "text_encoder.layers=1", "text_encoder.ffn_dim=64", "text_encoder.vocab_size=500",
        "method.hidden=32", "method.qk_dim=32", "method.embed_dim=32",
        "visual_encoder.hidden=32", "eval.batch_size=128",
    ]  # fmt: skip


def index_and_serve(run_dir: Path, tmp_path: Path, query: str = "ein roter Kreis") -> list[dict]:
    """`ccrkit evaluate --checkpoint`, `ccrkit index build` + `ccrkit index search` on a run's test
    split, then one search through the server app; returns the server's results (the same
    commands every method goes through; the data root comes from the run's config)."""
    import importlib.util
    import sys

    from nrccr_helpers import TESTS

    from ccrkit.cli.main import main
    from ccrkit.index.model import load_retrieval_model
    from ccrkit.serve import ServeSettings, create_app

    evaluation = ["evaluate", "--checkpoint", str(run_dir), "--data", "world-image", "--split",
                  "test", "--out", str(tmp_path / "evaluation")]  # fmt: skip
    assert main(evaluation) == 0
    assert "de native" in (tmp_path / "evaluation" / "results.md").read_text()
    out = tmp_path / "index"
    argv = ["index", "build", "--checkpoint", str(run_dir), "--data", "world-image",
            "--split", "test", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert main(["index", "search", "--index", str(out), "--query", query, "--lang", "de",
                 "--k", "3"]) == 0  # fmt: skip
    name = "serve_conftest_later_methods"  # the server tests' ASGI caller (registered: dataclasses)
    spec = importlib.util.spec_from_file_location(name, TESTS / "serve" / "conftest.py")
    serve = sys.modules.setdefault(name, importlib.util.module_from_spec(spec))  # type: ignore[arg-type]
    spec.loader.exec_module(serve)  # type: ignore[union-attr]
    client = serve.AsgiCaller(create_app(load_retrieval_model(run_dir), out, ServeSettings()))
    reply = client.get(f"/api/search?q={query.replace(' ', '+')}&lang=de&k=3")
    assert reply.status == 200, reply.body
    return reply.json()["results"]
