"""NRCCR's `bn_stats: mt` (issue 19): before the test, the text mapping's BatchNorm running
statistics are re-estimated on the training MT alone, and nothing else of the model changes."""

from __future__ import annotations

import pytest
import torch
from nrccr_helpers import TEXTS, feature_batch, tiny_nrccr

from ccrkit.config import ConfigError, build
from ccrkit.methods.nrccr import NrccrConfig


def test_reestimation_changes_only_the_text_mapping_running_statistics() -> None:
    method = tiny_nrccr(bn_stats="mt", adversarial=False)
    batch = feature_batch(method)
    method.train()
    for _ in range(3):  # training steps move the running statistics towards every branch's mix
        method(batch)
    before = {k: v.clone() for k, v in method.state_dict().items()}

    changed = method.before_test(lambda: [batch, batch])

    after = method.state_dict()
    differ = {k for k in before if not torch.equal(before[k], after[k])}
    assert differ == {"text_head.1.running_mean", "text_head.1.running_var",
                      "text_head.1.num_batches_tracked"}  # fmt: skip
    assert method.training  # the mode it was in
    assert changed == {"bn_stats": "mt", "batchnorm_layers": 1, "mt_captions": 6}
    # the new statistics are those of the MT captions' pre-BatchNorm vectors (a cumulative mean
    # over the two identical batches is the batch's own mean)
    method.eval()
    with torch.no_grad():
        tokens = batch.views["mt:de"]
        linear = method.text_head[0](method.tower.self_branch(method._prepare(tokens)))
    assert torch.allclose(after["text_head.1.running_mean"], linear.mean(0), atol=1e-6)
    assert torch.allclose(after["text_head.1.running_var"], linear.var(0), atol=1e-5)
    assert len(TEXTS["mt:de"]) == 3


def test_off_by_default_and_checked() -> None:
    method = tiny_nrccr(adversarial=False)
    batch = feature_batch(method)
    before = {k: v.clone() for k, v in method.state_dict().items()}
    assert method.before_test(lambda: [batch]) == {}
    assert all(torch.equal(v, method.state_dict()[k]) for k, v in before.items())
    with pytest.raises(ConfigError, match="bn_stats must be one of shared, mt"):
        build(NrccrConfig, {"bn_stats": "german"}, "test")
