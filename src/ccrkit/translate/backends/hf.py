"""`hf`: any Hugging Face sequence-to-sequence MT model (MarianMT `opus-mt-*`, NLLB-200, M2M100,
mBART-50, ...) from a local directory or a hub id.

Building the backend reads only the model's config and tokenizer (to check the language pair and
compute the cache key, so `--dry-run` stays cheap); the weights load on the first batch. Batches
come length-sorted from the engine; inputs longer than the model's limit are truncated and
reported, never silently. On a GPU, generation runs under autocast (bf16 where supported).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ccrkit.devices import resolve_device
from ccrkit.quiet import quiet_transformers
from ccrkit.translate.backend import (
    BACKENDS,
    BackendContext,
    Output,
    Segment,
    TranslationError,
)
from ccrkit.translate.backends.langcodes import detect_family, plan_languages
from ccrkit.translate.config import BackendConfig

HUB_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")
LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x85\x0b\x0c]+")
_HASHED_FILE_LIMIT = 1 << 20  # files up to 1 MiB enter the fingerprint by content, larger by size
TOKENIZER_HINT = (
    "its tokenizer files are missing or incomplete (save them with the model: "
    "tokenizer.save_pretrained(DIR); MarianMT needs source.spm, target.spm and vocab.json)"
)
SEQ2SEQ_HINT = (
    "the hf backend needs an encoder-decoder translation model: MarianMT (opus-mt-*), NLLB-200, "
    "M2M100, mBART-50 or another AutoModelForSeq2SeqLM model"
)


@BACKENDS.register("hf")
class HFBackend:
    name = "hf"
    cacheable = True

    def __init__(
        self, config: BackendConfig, src: str, tgt: str, context: BackendContext | None = None
    ) -> None:
        transformers = _transformers()
        if not config.model:
            raise TranslationError("the hf backend needs a model: a local directory or a hub id")
        self.ref = _resolve_ref(config.model)
        self.model_config = _load_model_config(self.ref)
        self.tokenizer = _load(transformers.AutoTokenizer.from_pretrained, self.ref, "tokenizer")
        self.family = detect_family(self.model_config.model_type, self.tokenizer)
        self.plan, self.warnings = plan_languages(
            self.family, self.tokenizer, self.ref, src, tgt, config.src_code, config.tgt_code
        )
        self.src, self.tgt, self.config = src, tgt, config
        self.batch_size = config.decode.batch_size
        self.beams = config.decode.beams or _default_beams(self.ref, self.model_config)
        self.max_input_tokens = self._input_limit(config.decode.max_input_tokens)
        self.device, self.precision = _device_and_precision(config.device, config.precision)
        self._model: Any = None
        self._fingerprint: str | None = None

    def identity(self) -> dict[str, Any]:
        if self._fingerprint is None:
            self._fingerprint = _fingerprint(self.ref, self.model_config)
        return {
            "backend": "hf", "model": self.ref, "fingerprint": self._fingerprint,
            "family": self.family, "src": self.src, "tgt": self.tgt,
            "src_code": self.plan.src_code, "tgt_code": self.plan.tgt_code, "beams": self.beams,
            "max_new_tokens": self.config.decode.max_new_tokens,
            "max_input_tokens": self.max_input_tokens, "precision": self.precision,
        }  # fmt: skip

    def prepare(self, segments: Sequence[Segment]) -> list[str]:
        return list(self.warnings)

    def load(self) -> None:
        _ = self.model

    def translate(self, segments: Sequence[Segment]) -> list[Output]:
        texts = [self.plan.source_prefix + segment.text for segment in segments]
        lengths = [len(ids) for ids in self.tokenizer(texts)["input_ids"]]
        inputs = self.tokenizer(
            texts, truncation=True, max_length=self.max_input_tokens, padding=True,
            return_tensors="pt",
        ).to(self.device)  # fmt: skip
        model = self.model
        with torch.inference_mode(), self._autocast():
            generated = model.generate(**inputs, **self.generate_kwargs())
        texts_out = [self._decode(ids) for ids in generated.tolist()]
        return [
            Output(text, n > self.max_input_tokens)
            for text, n in zip(texts_out, lengths, strict=True)
        ]

    def generate_kwargs(self) -> dict[str, Any]:
        # the decoder cannot go past its position table (an IndexError deep in torch otherwise)
        limit = getattr(self.model_config, "max_position_embeddings", None) or 1 << 30
        kwargs: dict[str, Any] = {
            "num_beams": self.beams, "do_sample": False,
            "max_new_tokens": min(self.config.decode.max_new_tokens, limit),
        }  # fmt: skip
        if self.plan.forced_bos_token_id is not None:
            kwargs["forced_bos_token_id"] = self.plan.forced_bos_token_id
        return kwargs

    @property
    def model(self) -> Any:
        """The seq2seq model, loaded on first use (in eval mode, on the chosen device)."""
        if self._model is None:
            # transformers on first use: importing it costs seconds that other commands need not pay
            from transformers import AutoModelForSeq2SeqLM

            with quiet_transformers():
                model = _load(AutoModelForSeq2SeqLM.from_pretrained, self.ref, "model")
            # max_new_tokens bounds every output; the model's own max_length (opus-mt: 512)
            # would only make transformers warn about the two, once per batch
            model.generation_config.max_length = None
            self._model = model.to(self.device).eval()
        return self._model

    def _decode(self, ids: list[int]) -> str:
        kept = [i for i in ids if i not in self.plan.drop_ids]
        text = self.tokenizer.decode(kept, skip_special_tokens=True)
        return LINE_BREAKS.sub(" ", text).strip()

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.device.type != "cuda" or self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type="cuda", dtype=dtype)

    def _input_limit(self, asked: int | None) -> int:
        """The longest input in tokens: the config's, capped by what the model can take."""
        limits = [asked, getattr(self.model_config, "max_position_embeddings", None)]
        tokenizer_limit = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(tokenizer_limit, int) and tokenizer_limit < 1_000_000:
            limits.append(tokenizer_limit)
        known = [limit for limit in limits if limit]
        return min(known) if known else 512


def _transformers() -> Any:
    try:
        # transformers on first use: importing it costs seconds that other commands need not pay
        import transformers
    except ImportError:
        raise TranslationError(
            "the hf backend needs transformers and sentencepiece: pip install 'ccrkit[translate]'"
        ) from None
    return transformers


def _resolve_ref(model: str) -> str:
    """An absolute path for a local directory, the id itself for a hub id."""
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise TranslationError(f"{path}: not a directory; expected a Hugging Face model folder")
        if not (path / "config.json").is_file():
            raise TranslationError(
                f"{path}: no config.json; expected a Hugging Face model directory "
                "(what save_pretrained writes) or a hub id"
            )
        return str(path.resolve())
    if HUB_ID.match(model) and not model.startswith((".", "~")):
        return model
    raise FileNotFoundError(f"model directory not found: {path}")


def _load(loader: Any, ref: str, what: str) -> Any:
    try:
        return loader(ref)
    except (OSError, ValueError, KeyError, TypeError) as err:
        # TypeError: a tokenizer class built without its vocabulary files (e.g. Marian's
        # source.spm missing) fails inside its constructor
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        where = "local directory" if Path(ref).is_dir() else "hub id (no network, or not cached?)"
        if what == "tokenizer" and isinstance(err, TypeError):
            first = (
                TOKENIZER_HINT  # the TypeError itself ("expected str, ... not NoneType") is noise
            )
        raise TranslationError(f"could not load the {what} of '{ref}' ({where}): {first}") from None


def _load_model_config(ref: str) -> Any:
    # transformers on first use: importing it costs seconds that other commands need not pay
    from transformers import AutoConfig

    config = _load(AutoConfig.from_pretrained, ref, "config")
    if not getattr(config, "is_encoder_decoder", False):
        raise TranslationError(
            f"'{ref}': model type '{config.model_type}' is not a sequence-to-sequence "
            f"(encoder-decoder) model; {SEQ2SEQ_HINT}"
        )
    return config


def _default_beams(ref: str, model_config: Any) -> int:
    # transformers on first use: importing it costs seconds that other commands need not pay
    from transformers import GenerationConfig

    try:
        generation = GenerationConfig.from_pretrained(ref)
    except (OSError, ValueError):
        generation = GenerationConfig.from_model_config(model_config)
    return int(getattr(generation, "num_beams", None) or 1)


def _device_and_precision(device: str, precision: str) -> tuple[Any, str]:
    try:
        dev = resolve_device(device)
    except ValueError as err:
        raise TranslationError(str(err)) from None
    if dev.type != "cuda":
        return dev, "fp32"
    if precision == "auto":
        return dev, "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return dev, precision


def _fingerprint(ref: str, model_config: Any) -> str:
    """What distinguishes one model's weights from another's under the same name.

    A local folder: every file's name and size, and the content of the small ones (configs,
    vocabularies, tiny weights). A hub id: the commit the cached files came from, if known.
    """
    folder = Path(ref)
    if not folder.is_dir():
        return str(getattr(model_config, "_commit_hash", None) or "unknown revision")
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder)}\0{size}\0".encode())
        if size <= _HASHED_FILE_LIMIT:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
