"""The worked examples of docs/architecture.md ("Adding to ccrkit") run as written: the method
and the encoder register by their decorators and train one step through `build_method`."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest
import torch

from ccrkit.data.batch import TrainBatch, VisualBatch
from ccrkit.methods import METHODS, build_method
from ccrkit.models import VISUAL_ENCODERS, BuildContext

DOC = Path(__file__).parents[2] / "docs" / "architecture.md"
TEXTS = ["a red circle", "a blue star", "a green square"]


@pytest.fixture(scope="module")
def registered():
    section = DOC.read_text(encoding="utf-8").split("## Adding to ccrkit", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    blocks = [code for code in blocks if "INDEX_TYPES" not in code]  # tests/index/test_types.py
    assert len(blocks) == 2
    for number, code in enumerate(blocks):  # each as a module of its own, like a plug-in
        module = types.ModuleType(f"doc_example{number}")
        sys.modules[module.__name__] = module
        exec(compile(code, f"{DOC}:example{number}", "exec", dont_inherit=True), module.__dict__)
    yield
    for number in range(len(blocks)):
        sys.modules.pop(f"doc_example{number}")
    METHODS._entries.pop("mirror")
    VISUAL_ENCODERS._entries.pop("scaled_feature")


def test_the_documented_method_and_encoder_train(registered) -> None:
    config = {
        "text_encoder": {"name": "builtin", "dim": 16, "layers": 1, "heads": 2, "ffn_dim": 32,
                         "vocab_size": 80, "dropout": 0.0},
        "visual_encoder": {"name": "scaled_feature", "scale": 2.0},
        "method": {"name": "mirror", "embed_dim": 8},
    }  # fmt: skip
    torch.manual_seed(0)
    method = build_method(config, BuildContext(visual_dim=4, corpus=lambda: iter(TEXTS)))
    assert method.visual.config.scale == 2.0 and method.visual.dim == 4
    values = torch.randn(3, 4)
    visual = VisualBatch(values, torch.ones(3, 1, dtype=torch.bool), "feature")
    batch = TrainBatch(["r", "b", "g"], torch.tensor([0, 1, 2]), visual,
                       {"source": method.tokenize(TEXTS)})  # fmt: skip
    terms = method(batch)
    assert list(terms) == ["info_nce/source"] and torch.isfinite(terms["info_nce/source"])
    terms["info_nce/source"].backward()
    assert all(p.grad is not None for p in method.text_head.parameters())
    pooled = method.visual(visual).pooled
    assert torch.equal(pooled, values * 2.0)


def test_a_wrong_key_of_the_documented_encoder_is_refused(registered) -> None:
    config = {
        "text_encoder": {"name": "builtin", "dim": 16, "layers": 1, "heads": 2, "ffn_dim": 32},
        "visual_encoder": {"name": "scaled_feature", "scael": 2.0},
        "method": {"name": "mirror"},
    }
    with pytest.raises(ValueError, match="scael"):
        build_method(config, BuildContext(visual_dim=4, corpus=lambda: iter(TEXTS)))
