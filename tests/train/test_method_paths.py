"""Other paths through the same trainer: a Hugging Face text encoder, an auxiliary optimiser."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from tinymodels import tiny_bert
from torch import nn
from trainfakes import FakeCollate, FakeEvalDataset, FakeTrainDataset, FakeWorld, tiny_config

from ccrkit.config import build
from ccrkit.methods import METHODS, AuxiliaryOptimizer, Baseline, load_method
from ccrkit.methods.checkpoint import read_checkpoint
from ccrkit.train import RunConfig, run_training

WORLD = FakeWorld()


def run(run_dir: Path, sections: dict, **kwargs: object):
    cfg = build(RunConfig, sections, "test")
    return run_training(
        cfg, run_dir, FakeTrainDataset(WORLD), FakeCollate, FakeEvalDataset(WORLD),
        FakeEvalDataset(WORLD), **kwargs,
    )  # fmt: skip


def test_a_tiny_hf_bert_trains_through_the_same_path(tmp_path: Path) -> None:
    data, queries = FakeTrainDataset(WORLD), FakeEvalDataset(WORLD)
    texts = (
        data.texts("source", None)
        + data.texts("mt", "de")
        + queries.query_texts
        + queries.query_texts_to_en
    )
    words = " ".join(texts).lower().replace("ü", "u").split()
    bert = tiny_bert(tmp_path / "bert", words)
    sections = tiny_config(epochs=6, lr=2e-3)
    sections["text_encoder"] = {"name": "hf", "path": str(bert), "finetune": [1, "embeddings"]}
    outcome = run(tmp_path / "run", sections)
    assert outcome.test["en source"]["t2v_r10"] >= 50.0, outcome.test  # chance: 20.8 %
    # the run folder alone rebuilds the model (config + tokenizer in assets/, weights)
    method, _ = load_method(tmp_path / "run")
    assert method.text.model.embeddings.word_embeddings.weight.requires_grad
    assert not method.text.model.encoder.layer[0].attention.self.query.weight.requires_grad


class Adversarial(Baseline):
    """Baseline + a language discriminator stepped by its own optimiser (NRCCR's pattern)."""

    def __init__(self, config, text, visual) -> None:
        super().__init__(config, text, visual)
        self.discriminator = nn.Linear(config.embed_dim, 1)

    def extra_optimizers(self) -> list[AuxiliaryOptimizer]:
        params = list(self.discriminator.parameters())
        return [
            AuxiliaryOptimizer("discriminator", params, lambda ps: torch.optim.Adam(ps, lr=1e-2))
        ]

    def forward(self, batch):
        terms = super().forward(batch)
        source = self.encode_text(batch.views["source"], "en")
        target = self.encode_text(batch.views["mt:de"], "de")
        real, fake = self.discriminator(source.detach()), self.discriminator(target.detach())
        self.auxiliary_step(
            "discriminator",
            F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)),
        )
        fooled = self.discriminator(target)
        terms["adversarial"] = 0.001 * F.binary_cross_entropy_with_logits(
            fooled, torch.ones_like(fooled)
        )
        return terms


METHODS.register("test_adversarial")(Adversarial)


def test_auxiliary_optimiser_steps_inside_forward_and_resumes_exactly(tmp_path: Path) -> None:
    sections = tiny_config(epochs=3)
    sections["method"]["name"] = "test_adversarial"
    seen: dict[str, object] = {}

    def interrupt_after_first_epoch(trainer, summary) -> None:
        main = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
        seen["excluded"] = all(id(p) not in main for p in trainer.method.discriminator.parameters())
        seen["adversarial"] = summary["adversarial"]
        raise KeyboardInterrupt

    whole = run(tmp_path / "whole", sections)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "cut", sections, callbacks=[interrupt_after_first_epoch])
    assert seen["excluded"] and seen["adversarial"] > 0
    resumed = run(tmp_path / "cut", sections, resume=True)
    assert resumed.test == whole.test
    record, tensors = read_checkpoint(tmp_path / "cut/checkpoints/last.json")
    _, reference = read_checkpoint(tmp_path / "whole/checkpoints/last.json")
    for key in ("model.discriminator.weight", "model.discriminator.bias"):
        assert torch.equal(tensors[key], reference[key])
    assert "auxiliary" in str(record["trainer"])
