"""`ccrkit import ccrk`: a checkpoint in CCRk's save format (Pretrain.py), its text forward
written here from X-VLM's BERT layout (xbert.py, text mode: the layers below `fusion_layer`, the
first token, `text_proj`, L2), compared with the imported `one_to_k` run."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ccrkit.cli.main import main
from ccrkit.config import build
from ccrkit.data.batch import VisualBatch
from ccrkit.methods.checkpoint import load_method
from ccrkit.train.config import RunConfig

transformers = pytest.importorskip("transformers")

HIDDEN, HEADS, FFN, LAYERS, FUSION, POSITIONS, VISION, EMBED = 32, 2, 37, 4, 2, 40, 24, 16
TEXTS = ["Ein Hund läuft über die Wiese.", "zwei kinder", "a dog runs on the beach ."]


def xvlm_state(vocab: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors under X-VLM's pre-training names (text encoder = BertForMaskedLM)."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape: int, scale: float = 0.3, base: float = 0.0) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * scale + base

    def linear(name: str, d_out: int, d_in: int) -> dict[str, torch.Tensor]:
        return {f"{name}.weight": rnd(d_out, d_in), f"{name}.bias": rnd(d_out)}

    def norm(name: str, dim: int) -> dict[str, torch.Tensor]:
        return {f"{name}.weight": rnd(dim, base=1.0), f"{name}.bias": rnd(dim)}

    def attention(name: str, d_kv: int) -> dict[str, torch.Tensor]:
        return (linear(f"{name}.self.query", HIDDEN, HIDDEN) | linear(f"{name}.self.key", HIDDEN, d_kv)
                | linear(f"{name}.self.value", HIDDEN, d_kv) | linear(f"{name}.output.dense", HIDDEN, HIDDEN)
                | norm(f"{name}.output.LayerNorm", HIDDEN))  # fmt: skip

    bert = "text_encoder.bert."
    state = {f"{bert}embeddings.word_embeddings.weight": rnd(vocab, HIDDEN),
             f"{bert}embeddings.position_embeddings.weight": rnd(POSITIONS, HIDDEN),
             f"{bert}embeddings.token_type_embeddings.weight": rnd(1, HIDDEN),
             f"{bert}embeddings.position_ids": torch.arange(POSITIONS)[None]}  # fmt: skip
    state |= norm(f"{bert}embeddings.LayerNorm", HIDDEN)
    for i in range(LAYERS):
        layer = f"{bert}encoder.layer.{i}"
        state |= attention(f"{layer}.attention", HIDDEN)
        if i >= FUSION:
            state |= attention(f"{layer}.crossattention", VISION)
        state |= linear(f"{layer}.intermediate.dense", FFN, HIDDEN) | linear(
            f"{layer}.output.dense", HIDDEN, FFN
        )
        state |= norm(f"{layer}.output.LayerNorm", HIDDEN)
    state |= linear("text_encoder.cls.predictions.transform.dense", HIDDEN, HIDDEN)
    state |= {"text_encoder.cls.predictions.bias": rnd(vocab)}
    state |= {"vision_encoder.patch_embed.proj.weight": rnd(VISION, 3, 4, 4),
              "vision_encoder.layers.0.blocks.0.attn.relative_position_bias_table": rnd(49, 2)}  # fmt: skip
    state |= linear("text_proj", EMBED, HIDDEN) | linear("vision_proj", EMBED, VISION)
    state |= linear("itm_head.0", 2 * HIDDEN, HIDDEN) | linear("itm_head.3", 2, 2 * HIDDEN)
    state["temp"] = torch.tensor(0.05)
    return state


def reference_text(
    state: dict[str, torch.Tensor], ids: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """X-VLM `get_text_embeds` (mode='text') then `get_features`: written out step by step."""

    def p(name: str) -> torch.Tensor:
        return state[name]

    def linear(x: torch.Tensor, name: str) -> torch.Tensor:
        return x @ p(f"{name}.weight").T + p(f"{name}.bias")

    def norm(x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(x, (HIDDEN,), p(f"{name}.weight"), p(f"{name}.bias"), 1e-5)

    bert = "text_encoder.bert."
    n, length = ids.shape
    x = (p(f"{bert}embeddings.word_embeddings.weight")[ids]
         + p(f"{bert}embeddings.token_type_embeddings.weight")[0]
         + p(f"{bert}embeddings.position_embeddings.weight")[:length])  # fmt: skip
    x = norm(x, f"{bert}embeddings.LayerNorm")
    bias = (1.0 - mask.float())[:, None, None, :] * -10000.0
    head = HIDDEN // HEADS
    for i in range(FUSION):
        layer = f"{bert}encoder.layer.{i}"

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(n, length, HEADS, head).transpose(1, 2)

        q, k, v = (
            split(linear(x, f"{layer}.attention.self.{w}")) for w in ("query", "key", "value")
        )
        probs = (q @ k.transpose(-1, -2) / math.sqrt(head) + bias).softmax(-1)
        context = (probs @ v).transpose(1, 2).reshape(n, length, HIDDEN)
        x = norm(
            linear(context, f"{layer}.attention.output.dense") + x,
            f"{layer}.attention.output.LayerNorm",
        )
        inner = F.gelu(linear(x, f"{layer}.intermediate.dense"))
        x = norm(linear(inner, f"{layer}.output.dense") + x, f"{layer}.output.LayerNorm")
    return F.normalize(linear(x[:, 0], "text_proj"), dim=-1)


@pytest.fixture
def xlmr_folder(tmp_path, text_model):
    """XLM-R's config shape (24 layers: CCRk keeps 12) with the tiny tokenizer."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(text_model)
    folder = tmp_path / "xlm-roberta"
    tokenizer.save_pretrained(folder)
    transformers.XLMRobertaConfig(
        vocab_size=len(tokenizer), hidden_size=HIDDEN, num_hidden_layers=24, num_attention_heads=HEADS,
        intermediate_size=FFN, max_position_embeddings=POSITIONS, type_vocab_size=1, layer_norm_eps=1e-5,
    ).save_pretrained(folder)  # fmt: skip
    return folder


def save_pretrain_object(state: dict[str, torch.Tensor], path) -> None:
    """What Pretrain.py hands to Checkpointer.save_checkpoint (numpy RNG state included)."""
    torch.save({"model": state, "optimizer": {"state": {}, "param_groups": []},
                "lr_scheduler": {"last_epoch": 3}, "config": {"embed_dim": EMBED, "temp": 0.07},
                "epoch": 29, "random_state": random.getstate(), "np_random_state": np.random.get_state(),
                "torch_rng_state": torch.get_rng_state(), "global_step": 9, "scaler": {"scale": 65536.0}},
               path)  # fmt: skip


def test_without_partial_the_missing_parts_are_named(tmp_path, xlmr_folder, capsys):
    path = tmp_path / "ccrk_2m_10lan_epoch_29.th"
    save_pretrain_object(
        xvlm_state(len(transformers.AutoTokenizer.from_pretrained(xlmr_folder))), path
    )
    argv = [
        "import",
        "ccrk",
        str(path),
        "--text-model",
        str(xlmr_folder),
        "--out",
        str(tmp_path / "run"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    for part in (
        "Swin-B vision tower",
        "fusion encoder layer",
        "masked-LM head",
        "image-text matching head",
        "--partial",
    ):
        assert part in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_partial_import_reproduces_the_text_tower_projections_and_temperature(
    tmp_path, xlmr_folder, capsys
):
    vocab = len(transformers.AutoTokenizer.from_pretrained(xlmr_folder))
    state = xvlm_state(vocab)
    path = tmp_path / "ccrk.th"
    save_pretrain_object(state, path)
    argv = ["import", "ccrk", str(path), "--text-model", str(xlmr_folder), "--out", str(tmp_path / "run"),
            "--partial", "--feature", "swin_b"]  # fmt: skip
    assert main(argv) == 0
    assert "not imported" in capsys.readouterr().out
    method, record = load_method(tmp_path / "run")
    tokens = method.tokenize(TEXTS)
    features = torch.randn(4, VISION, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ours = method.encode_text(tokens, "de")
        visual = method.encode_visual(
            VisualBatch(features[:, None], torch.ones(4, 1, dtype=torch.bool), "feature")
        )
    reference = reference_text(state, tokens.input_ids, tokens.attention_mask)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=0)
    expected = F.normalize(
        features @ state["vision_proj.weight"].T + state["vision_proj.bias"], dim=-1
    )
    torch.testing.assert_close(visual, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(ours @ visual.T, reference @ expected.T, atol=1e-5, rtol=0)
    assert float(method.tau.detach()) == pytest.approx(0.05)
    imported = record["imported"]
    assert imported["not_imported"]["fusion encoder layer (cross-attention to the image)"] > 0
    assert (
        record["config"]["text_encoder"]["pooling"] == "first"
        and record["config"]["data"]["feature"] == "swin_b"
    )
    build(RunConfig, record["config"], "imported")


def test_a_fine_tuned_bare_state_and_a_foreign_file(tmp_path, xlmr_folder, capsys):
    vocab = len(transformers.AutoTokenizer.from_pretrained(xlmr_folder))
    state = {
        k.replace("text_encoder.bert.", "text_encoder."): v
        for k, v in xvlm_state(vocab).items()
        if not k.startswith("text_encoder.cls.")
    }  # Retrieval.py's layout, saved bare
    path = tmp_path / "checkpoint_best.pth"
    torch.save(state, path)
    argv = ["import", "ccrk", str(path), "--text-model", str(xlmr_folder), "--partial"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    torch.save({"epoch": 1, "model": [{}] * 5, "opt": None}, path)
    assert main([*argv, "--out", str(tmp_path / "run2")]) == 2
    assert (
        "not a CCRk checkpoint: found a dict with keys epoch, model, opt" in capsys.readouterr().err
    )
