"""`method.negatives` on every method (issue 19): with `mask_identical_text`, a batch with two
identical captions gives another loss than with `all`; without duplicates, the same loss."""

from __future__ import annotations

import pytest
import torch

from ccrkit.config import ConfigError
from ccrkit.data.batch import TrainBatch, VisualBatch
from ccrkit.methods import build_method
from ccrkit.models import BuildContext

DUPLICATED = {
    "source": ["A red circle.", "A red circle.", "A blue star.", "A green square."],
    "mt:de": ["ein roter kreis", "ein roter kreis", "ein blauer stern", "ein gruenes quadrat"],
    "bt:de": ["A red circle.", "A red circle.", "A blue star.", "A green square."],
}
DISTINCT = {view: [*texts[1:], "A yellow cross."] for view, texts in DUPLICATED.items()}
TOWERS = {"hidden": 16, "heads": 2, "qk_dim": 8, "embed_dim": 8, "dropout": 0.0,
          "mapping_dropout": 0.0}  # fmt: skip
METHODS = {
    "baseline": {"embed_dim": 8},
    "baseline-triplet": {"name": "baseline", "embed_dim": 8, "loss": "triplet"},
    "one_to_k": {"embed_dim": 8},
    "nrccr": {**TOWERS, "adversarial": False},
    "nrf": {**TOWERS, "selector": "all"},
    "cl2cm": {**TOWERS, "schedule": "joint", "ot_iterations": 3},
    # its matched baseline: no CL network at all (the CM network's two InfoNCE terms)
    "cl2cm-matched": {**TOWERS, "schedule": "joint", "sentence_weight": 0.0, "ot_weight": 0.0,
                      "kt_weight": 0.0},
}  # fmt: skip


def losses(name: str, texts: dict[str, list[str]], negatives: str) -> float:
    method_section = {"name": name.split("-")[0], **METHODS[name], "negatives": negatives}
    config = {
        "text_encoder": {"name": "builtin", "dim": 16, "layers": 1, "heads": 2, "ffn_dim": 32,
                         "vocab_size": 80, "dropout": 0.0},
        "visual_encoder": {"name": "feature", "hidden": 8},
        "method": method_section,
    }  # fmt: skip
    corpus = [t for views in (DUPLICATED, DISTINCT) for ts in views.values() for t in ts]
    torch.manual_seed(0)
    method = build_method(config, BuildContext(visual_dim=4, corpus=lambda: iter(corpus)))
    method.bind_auxiliary_steps({})
    torch.manual_seed(1)
    visual = VisualBatch(torch.randn(4, 1, 4), torch.ones(4, 1, dtype=torch.bool), "feature")
    batch = TrainBatch([f"i{i}" for i in range(4)], torch.arange(4), visual,
                       {view: method.tokenize(t) for view, t in texts.items()})  # fmt: skip
    method.train()
    with torch.no_grad():
        return float(sum(method(batch).values()))


@pytest.mark.parametrize("name", list(METHODS))
def test_masking_changes_the_loss_only_with_duplicates(name: str) -> None:
    assert losses(name, DUPLICATED, "mask_identical_text") != pytest.approx(
        losses(name, DUPLICATED, "all"), abs=1e-6
    )
    assert losses(name, DISTINCT, "mask_identical_text") == pytest.approx(
        losses(name, DISTINCT, "all"), abs=1e-6
    )


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(
        (ConfigError, ValueError), match="negatives must be one of all, mask_identical_text"
    ):
        losses("baseline", DISTINCT, "none")


def test_cl2cm_without_cl_terms_builds_no_cl_network() -> None:
    """CL2CM's matched baseline (no CL term, no transfer) carries no copy of the text encoder."""
    config = {
        "text_encoder": {"name": "builtin", "dim": 16, "layers": 1, "heads": 2, "ffn_dim": 32,
                         "vocab_size": 80},
        "visual_encoder": {"name": "feature", "hidden": 8},
        "method": {"name": "cl2cm", **METHODS["cl2cm-matched"]},
    }  # fmt: skip
    corpus = [t for ts in DISTINCT.values() for t in ts]
    method = build_method(config, BuildContext(visual_dim=4, corpus=lambda: iter(corpus)))
    assert method.cl is None
    assert not any(name.startswith("cl.") for name, _ in method.named_parameters())
