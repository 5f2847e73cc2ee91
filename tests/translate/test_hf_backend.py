"""The hf backend on tiny random MarianMT, M2M100 and NLLB models loaded like real checkpoints:
batching, language codes handed to `generate`, truncation, and bad models or languages."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ccrkit.translate import (
    BackendConfig,
    DecodeConfig,
    Segment,
    TranslationError,
    build_backend,
    translate_segments,
)
from ccrkit.translate.backends.langcodes import plan_languages


def hf(model, beams=None, batch_size=32, max_input_tokens=None, **codes) -> BackendConfig:
    decode = DecodeConfig(beams=beams, batch_size=batch_size, max_input_tokens=max_input_tokens,
                          max_new_tokens=6)  # fmt: skip
    return BackendConfig(backend="hf", model=str(model), decode=decode, **codes)


@pytest.fixture
def generate_calls(monkeypatch):
    """Record the inputs and keyword arguments of every `generate` call (and still generate)."""
    from transformers.generation.utils import GenerationMixin

    calls = []
    original = GenerationMixin.generate

    def spy(self, *args, **kwargs):
        calls.append({"input_ids": kwargs["input_ids"].clone(), **{k: v for k, v in kwargs.items()
                      if k not in ("input_ids", "attention_mask")}})  # fmt: skip
        return original(self, *args, **kwargs)

    monkeypatch.setattr(GenerationMixin, "generate", spy)
    return calls


SENTENCES = [
    "A dog runs.",
    "Two young, White males are outside near many bushes.",
    "A man wearing black is playing an electric guitar at a concert.",
    "A dog runs.",  # repeated: translated once
    "Children play.",
]


def test_marian_batches_are_length_sorted_and_ids_keep_their_order(marian_dir, generate_calls):
    backend = build_backend(hf(marian_dir, beams=2, batch_size=2), "en", "de")
    segments = [Segment(f"item{i}#enc#0", text) for i, text in enumerate(SENTENCES)]
    outputs, stats = translate_segments(segments, backend, cache=None, progress=False)
    assert len(outputs) == 5 and all(o.text and not o.truncated for o in outputs)
    assert outputs[0] == outputs[3]  # the same sentence, one translation
    assert (stats.unique, stats.translated, stats.batches) == (4, 4, 2)
    assert [call["input_ids"].shape[0] for call in generate_calls] == [2, 2]
    widths = [call["input_ids"].shape[1] for call in generate_calls]
    assert widths[0] > widths[1]  # the longest sentences go first
    assert all(
        call["num_beams"] == 2 and "forced_bos_token_id" not in call for call in generate_calls
    )
    assert backend.identity()["family"] == "marian"
    assert (backend.plan.src_code, backend.plan.tgt_code) == ("en", "de")


def test_m2m100_gets_source_and_target_codes(m2m_dir, generate_calls):
    backend = build_backend(hf(m2m_dir), "en", "de")
    outputs = backend.translate([Segment("a#enc#0", "A dog runs.")])
    tokenizer = backend.tokenizer
    (call,) = generate_calls
    assert call["forced_bos_token_id"] == tokenizer.get_lang_id("de")
    assert call["input_ids"][0, 0].item() == tokenizer.get_lang_id("en")
    assert "__de__" not in outputs[0].text  # language tokens never reach the caption file
    assert backend.identity()["family"] == "multilingual"


def test_nllb_gets_flores_codes(nllb_dir, generate_calls):
    backend = build_backend(hf(nllb_dir), "en", "zh")
    backend.translate([Segment("a#enc#0", "A dog runs.")])
    tokenizer = backend.tokenizer
    (call,) = generate_calls
    assert call["forced_bos_token_id"] == tokenizer.convert_tokens_to_ids("zho_Hans")
    assert call["input_ids"][0, 0].item() == tokenizer.convert_tokens_to_ids("eng_Latn")
    identity = backend.identity()
    assert (identity["family"], identity["src_code"], identity["tgt_code"]) == (
        "nllb",
        "eng_Latn",
        "zho_Hans",
    )


def test_explicit_model_codes_override_the_table(nllb_dir):
    backend = build_backend(hf(nllb_dir, tgt_code="zho_Hant"), "en", "zh")
    assert backend.plan.tgt_code == "zho_Hant"


def test_overlong_input_is_truncated_and_flagged(marian_dir, generate_calls):
    backend = build_backend(hf(marian_dir, max_input_tokens=8), "en", "de")
    long_text = "A man wearing black is playing an electric guitar at a concert."
    outputs = backend.translate([Segment("a#enc#0", "Dogs."), Segment("b#enc#0", long_text)])
    assert [o.truncated for o in outputs] == [False, True]
    assert generate_calls[0]["input_ids"].shape[1] == 8
    assert backend.identity()["max_input_tokens"] == 8


def test_model_limit_caps_the_configured_limit(marian_dir):
    backend = build_backend(hf(marian_dir, max_input_tokens=10_000), "en", "de")
    assert backend.max_input_tokens == 64  # the tiny model's position table


@pytest.mark.parametrize(
    ("fixture", "src", "tgt", "expected"),
    [
        ("m2m_dir", "en", "xx", ["target language code 'xx'", "valid codes: af, am, ar", "zh, zu"]),
        ("nllb_dir", "en", "qq", ["looked for qq_Latn", "deu_Latn", "zho_Hant"]),
        ("nllb_dir", "en", "de", None),
        ("marian_dir", "en", "fr", ["translates en->de, not en->fr", "opus-mt-en-fr"]),
        ("marian_dir", "fr", "de", ["translates en->de, not fr->de"]),
    ],
)
def test_unknown_language_names_the_valid_ones(request, fixture, src, tgt, expected):
    model = request.getfixturevalue(fixture)
    if expected is None:
        build_backend(hf(model), src, tgt)
        return
    with pytest.raises(TranslationError) as err:
        build_backend(hf(model), src, tgt)
    for part in expected:
        assert part in str(err.value)
    assert str(model) in str(err.value)


def test_a_model_that_is_not_seq2seq_is_refused(tmp_path):
    from transformers import BertConfig

    BertConfig(hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
               intermediate_size=8).save_pretrained(tmp_path / "bert")  # fmt: skip
    with pytest.raises(TranslationError, match="model type 'bert' is not a sequence-to-sequence"):
        build_backend(hf(tmp_path / "bert"), "en", "de")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TranslationError, match=r"no config\.json"):
        build_backend(hf(tmp_path / "empty"), "en", "de")
    with pytest.raises(FileNotFoundError, match="model directory not found"):
        build_backend(hf("./no/such/model"), "en", "de")
    with pytest.raises(TranslationError, match="needs a model"):
        build_backend(BackendConfig(backend="hf"), "en", "de")


def test_multi_target_marian_prefixes_the_target_token():
    tokenizer = SimpleNamespace(source_lang=None, target_lang=None,
                                supported_language_codes=[">>fr<<", ">>es<<", ">>ita<<"])  # fmt: skip
    plan, warnings = plan_languages("marian", tokenizer, "/m/opus-mt-en-ROMANCE", "en", "fr")
    assert plan.source_prefix == ">>fr<< " and not warnings
    with pytest.raises(
        TranslationError, match=r"no target token >>de<<.*valid codes: >>es<<, >>fr<<, >>ita<<"
    ):
        plan_languages("marian", tokenizer, "/m/opus-mt-en-ROMANCE", "en", "de")


def test_marian_pair_from_the_model_name_and_aliases():
    tokenizer = SimpleNamespace(source_lang=None, target_lang=None, supported_language_codes=[])
    plan, warnings = plan_languages("marian", tokenizer, "Helsinki-NLP/opus-mt-en-jap", "en", "ja")
    assert (plan.src_code, plan.tgt_code, warnings) == ("en", "jap", [])
    plan, warnings = plan_languages("marian", tokenizer, "/models/my-marian", "en", "de")
    assert "does not name its languages" in warnings[0]


def test_an_unknown_device_is_named(marian_dir):
    config = hf(marian_dir)
    config.device = "tpu7"
    with pytest.raises(TranslationError, match="unknown device 'tpu7'; expected auto, cpu, cuda"):
        build_backend(config, "en", "de")
