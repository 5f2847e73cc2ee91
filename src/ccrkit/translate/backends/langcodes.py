"""Language codes per Hugging Face MT model family: the data spec says `de`, the model may want
`deu_Latn` (NLLB-200), `de` (M2M100), `de_DE` (mBART-50), `>>de<<` (multi-target MarianMT) or
nothing at all (a MarianMT `opus-mt-en-de` model translates one fixed pair).

`plan_languages` checks the requested pair against what the model's tokenizer really knows and
says which codes are valid when it does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccrkit.translate.backend import TranslationError

NLLB_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")
# ISO 639-1 -> NLLB-200 (FLORES-200) code, for the languages a data spec is likely to name.
NLLB_CODES = {
    "ar": "arb_Arab", "bg": "bul_Cyrl", "cs": "ces_Latn", "da": "dan_Latn", "de": "deu_Latn",
    "el": "ell_Grek", "en": "eng_Latn", "es": "spa_Latn", "et": "est_Latn", "fa": "pes_Arab",
    "fi": "fin_Latn", "fr": "fra_Latn", "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn",
    "hu": "hun_Latn", "id": "ind_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "ko": "kor_Hang",
    "lt": "lit_Latn", "lv": "lvs_Latn", "nl": "nld_Latn", "no": "nob_Latn", "pl": "pol_Latn",
    "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl", "sk": "slk_Latn", "sl": "slv_Latn",
    "sr": "srp_Cyrl", "sv": "swe_Latn", "sw": "swh_Latn", "th": "tha_Thai", "tr": "tur_Latn",
    "uk": "ukr_Cyrl", "vi": "vie_Latn", "zh": "zho_Hans",
}  # fmt: skip
# Other spellings of a language in model names and Marian target tokens (opus-mt-en-jap, >>ces<<).
ALIASES = {
    "cs": ("ces", "cze"), "de": ("deu", "ger"), "en": ("eng",), "fr": ("fra", "fre"),
    "ja": ("jap", "jpn"), "zh": ("cmn", "zho", "cmn_Hans", "zho_Hans"),
}  # fmt: skip
OPUS_NAME = re.compile(r"opus-mt-(?P<src>[A-Za-z_]+)-(?P<tgt>[A-Za-z_]+)")


@dataclass(frozen=True)
class LanguagePlan:
    """How to ask a model for src -> tgt: the codes, and what to add to inputs and to generate."""

    family: str
    src_code: str | None = None
    tgt_code: str | None = None
    source_prefix: str = ""  # multi-target MarianMT: ">>fr<< " before every input
    # NLLB/M2M/mBART: the first decoder token is the target language
    forced_bos_token_id: int | None = None
    # language tokens stripped from outputs before decoding
    drop_ids: frozenset[int] = field(default_factory=frozenset)


def detect_family(model_type: str, tokenizer: Any) -> str:
    """`nllb`, `marian`, `multilingual` (a tokenizer with `lang_code_to_id`: M2M100, mBART-50) or
    `fixed` (any other seq2seq model: one direction, nothing to check)."""
    name = type(tokenizer).__name__
    if name.startswith("Nllb"):
        return "nllb"
    if model_type == "marian" or name.startswith("Marian"):
        return "marian"
    if isinstance(getattr(tokenizer, "lang_code_to_id", None), dict):
        return "multilingual"
    return "fixed"


def plan_languages(
    family: str,
    tokenizer: Any,
    model_ref: str,
    src: str,
    tgt: str,
    src_code: str | None = None,
    tgt_code: str | None = None,
) -> tuple[LanguagePlan, list[str]]:
    """The plan for src -> tgt and any warnings; `TranslationError` names the valid codes."""
    if family == "nllb":
        return _coded(family, tokenizer, model_ref, src, tgt, src_code, tgt_code, _nllb_codes), []
    if family == "multilingual":
        return _coded(family, tokenizer, model_ref, src, tgt, src_code, tgt_code, _table_codes), []
    if family == "marian":
        return _marian(tokenizer, model_ref, src, tgt, tgt_code)
    warning = (
        f"model '{model_ref}' names no languages; assuming it translates {src}->{tgt} "
        "(ccrkit cannot check this)"
    )
    return LanguagePlan(family), [warning]


def _nllb_codes(tokenizer: Any) -> dict[str, int]:
    vocab = tokenizer.get_vocab()
    return {token: index for token, index in vocab.items() if NLLB_CODE.match(token)}


def _table_codes(tokenizer: Any) -> dict[str, int]:
    return dict(tokenizer.lang_code_to_id)


def _coded(
    family: str,
    tokenizer: Any,
    model_ref: str,
    src: str,
    tgt: str,
    src_code: str | None,
    tgt_code: str | None,
    codes_of: Callable[[Any], dict[str, int]],
) -> LanguagePlan:
    codes = codes_of(tokenizer)
    if not codes:
        raise TranslationError(f"model '{model_ref}': its tokenizer lists no language codes")
    source = _pick_code(family, codes, model_ref, src, src_code, "source")
    target = _pick_code(family, codes, model_ref, tgt, tgt_code, "target")
    tokenizer.src_lang = source  # NLLB/M2M/mBART put the source code into every input
    return LanguagePlan(family, source, target, "", codes[target], frozenset(codes.values()))


def _pick_code(
    family: str, codes: dict[str, int], model_ref: str, lang: str, given: str | None, what: str
) -> str:
    candidates = [given] if given else _candidates(family, codes, lang)
    for code in candidates:
        if code in codes:
            return code
    looked = f" (looked for {', '.join(candidates)})" if candidates != [lang] else ""
    asked = f"'{given}'" if given else f"'{lang}'{looked}"
    raise TranslationError(
        f"model '{model_ref}' ({family}) has no {what} language code {asked}; "
        f"valid codes: {', '.join(sorted(codes))}"
    )


def _candidates(family: str, codes: dict[str, int], lang: str) -> list[str]:
    if family == "nllb":
        return [lang] if NLLB_CODE.match(lang) else [NLLB_CODES.get(lang, f"{lang}_Latn")]
    prefixed = sorted(code for code in codes if code.split("_")[0] == lang)  # mBART-50: de_DE
    return list(dict.fromkeys([lang, *prefixed]))


def _marian(
    tokenizer: Any, model_ref: str, src: str, tgt: str, tgt_code: str | None
) -> tuple[LanguagePlan, list[str]]:
    """A MarianMT model: a fixed pair, or a fixed source with `>>xx<<` target tokens."""
    model_src, model_tgt = _marian_pair(tokenizer, model_ref)
    pair = f"{model_src or '?'}->{model_tgt or '?'}"
    if model_src and not _same(model_src, src):
        raise TranslationError(
            f"MarianMT model '{model_ref}' translates {pair}, not {src}->{tgt}; "
            f"use an opus-mt-{src}-{tgt} model"
        )
    targets = list(getattr(tokenizer, "supported_language_codes", None) or [])
    if targets:  # multi-target model: the target is chosen by a token before the input
        spellings = [tgt_code] if tgt_code else [tgt, *ALIASES.get(tgt, ())]
        wanted = [f">>{code}<<" for code in spellings]
        token = next((t for t in wanted if t in targets), None)
        if token is None:
            raise TranslationError(
                f"MarianMT model '{model_ref}' has no target token {' or '.join(wanted)}; "
                f"valid codes: {', '.join(sorted(targets))}"
            )
        return LanguagePlan("marian", model_src, token, source_prefix=f"{token} "), []
    if model_tgt and not _same(model_tgt, tgt):
        raise TranslationError(
            f"MarianMT model '{model_ref}' translates {pair}, not {src}->{tgt}; "
            f"use an opus-mt-{src}-{tgt} model"
        )
    warnings = []
    if not (model_src and model_tgt):
        warnings.append(
            f"MarianMT model '{model_ref}' does not name its languages (no source_lang/target_lang "
            f"in tokenizer_config.json, no opus-mt-xx-yy name); assuming {src}->{tgt}"
        )
    return LanguagePlan("marian", model_src or src, model_tgt or tgt), warnings


def _marian_pair(tokenizer: Any, model_ref: str) -> tuple[str | None, str | None]:
    """The model's (source, target) from its tokenizer config or its opus-mt name; a language
    group (`ROMANCE`, `mul`) counts as unknown."""
    src = getattr(tokenizer, "source_lang", None)
    tgt = getattr(tokenizer, "target_lang", None)
    match = OPUS_NAME.search(Path(model_ref).name) or OPUS_NAME.search(model_ref)
    if match:
        src, tgt = src or match["src"], tgt or match["tgt"]
    return (None if _is_group(src) else src), (None if _is_group(tgt) else tgt)


def _is_group(lang: str | None) -> bool:
    return lang is not None and (lang.isupper() or lang == "mul")


def _same(model_lang: str, lang: str) -> bool:
    model_lang, lang = model_lang.lower(), lang.lower()
    return model_lang == lang or model_lang in (a.lower() for a in ALIASES.get(lang, ()))
